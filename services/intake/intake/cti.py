"""Generic CTI call events (the field names of Zammad's generic CTI API) merged into one call.

Rules:
- ``event`` is ``newCall``, ``answer`` or ``hangup``; ``direction`` is ``in`` or ``out``;
  anything else is refused, as is an event without ``callId``.
- A call's record is the merge of all its events, and the merge does not depend on their
  order or on repeats: the start is the earliest time seen, the answer and the end are the
  first reported, fields are filled by whichever event carries them.
- An inbound call that ended without an answer (and was not forwarded) is missed; an
  ``answer`` that arrives after its ``hangup`` un-misses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EVENTS = ("newCall", "answer", "hangup")
DIRECTIONS = ("in", "out")
NOT_MISSED_CAUSES = frozenset({"forwarded"})


class InvalidEvent(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CtiEvent:
    event: str
    call_id: str
    direction: str | None
    from_number: str | None
    to_number: str | None
    users: tuple[str, ...] = ()
    queue: str | None = None
    answering_number: str | None = None
    cause: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _first(fields: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = fields.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None and str(value).strip():
            return str(value).strip()[:200]
    return None


def _users(fields: dict[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    for name in ("user", "user[]"):
        value = fields.get(name)
        items = value if isinstance(value, list) else [value] if value is not None else []
        out += [str(v).strip()[:200] for v in items if v is not None and str(v).strip()]
    return tuple(dict.fromkeys(out))[:20]


def parse(fields: dict[str, Any], now: datetime) -> CtiEvent:
    """Validates one pushed event (JSON object or form fields)."""
    event = _first(fields, "event")
    if event not in EVENTS:
        raise InvalidEvent(f"event must be one of {', '.join(EVENTS)}, not {event!r}", "event")
    direction = _first(fields, "direction")
    if direction is not None and direction not in DIRECTIONS:
        raise InvalidEvent(f"direction must be in or out, not {direction!r}", "direction")
    if event == "newCall" and direction is None:
        raise InvalidEvent("newCall needs direction (in or out)", "direction")
    call_id = _first(fields, "callId", "call_id")
    if call_id is None:
        raise InvalidEvent("callId is required", "callId")
    return CtiEvent(
        event=event,
        call_id=call_id,
        direction=direction,
        from_number=_first(fields, "from"),
        to_number=_first(fields, "to"),
        users=_users(fields),
        queue=_first(fields, "queue"),
        answering_number=_first(fields, "answeringNumber"),
        cause=_first(fields, "cause"),
        at=now,
    )


@dataclass
class CallState:
    direction: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    queue: str | None = None
    users: list[str] = field(default_factory=list)
    answering_number: str | None = None
    cause: str | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def state(self) -> str:
        if self.ended_at is not None:
            return "ended"
        return "answered" if self.answered_at is not None else "ringing"

    @property
    def missed(self) -> bool:
        return (
            self.direction == "in"
            and self.ended_at is not None
            and self.answered_at is None
            and (self.cause or "") not in NOT_MISSED_CAUSES
        )

    @property
    def customer_number(self) -> str | None:
        """The other party: the caller of an inbound call, the callee of an outbound one."""
        return self.to_number if self.direction == "out" else self.from_number


def merge(state: CallState, ev: CtiEvent) -> CallState:
    """The call after ``ev``; merging the same events in any order gives the same call."""
    s = CallState(**{**state.__dict__, "users": list(state.users)})
    s.direction = s.direction or ev.direction
    s.from_number = s.from_number or ev.from_number
    s.to_number = s.to_number or ev.to_number
    s.queue = s.queue or ev.queue
    s.users = sorted(set(s.users) | set(ev.users))
    s.started_at = min(filter(None, (s.started_at, ev.at)))
    if ev.event == "answer":
        s.answered_at = min(filter(None, (s.answered_at, ev.at)))
        s.answering_number = s.answering_number or ev.answering_number
    if ev.event == "hangup":
        s.ended_at = min(filter(None, (s.ended_at, ev.at)))
        s.cause = s.cause or ev.cause
    if s.ended_at is not None and s.answered_at is not None and s.answered_at > s.ended_at:
        s.answered_at = s.ended_at  # the answer was reported late; it cannot follow the end
    return s
