"""A ticket's SLA clocks, derived from everything known about the ticket. Pure: no I/O.

``plan`` folds the ticket's opening (``ticket.created``) and the facts consumed since (status
changes, updates, acknowledgements, visits, messages, escalations) into one :class:`Plan` per
clock. It is a function of the *set* of facts, never of their arrival order: intake's facts are
ordered by their ``seq``, the other services' by their own times, so duplicated, late and
reordered events give the same clocks (DESIGN §4).

Rules:

* Clocks start when the customer reported the ticket (``reported_at``, else ``created_at``):
  response, resolution and progress when the policy has a target for them, on-site when a visit
  is needed.
* A clock runs while the ticket is open (``new``, ``assigned``, ``in_progress``, ``reopened``)
  and is paused while it waits on the customer (``pending_customer``); only working time of
  the calendar counts, so the deadline is where the running segments add up to the target.
* Response stops at the first acknowledgement or public agent message; on-site at the first
  check-in; progress at the first escalation (reported upward) or public agent message after
  the response; resolution at ``resolved`` and resumes at a reopen. A resolution also answers
  an unanswered response or progress clock; it makes a pending visit moot (on-site cancelled).
  Merged and cancelled tickets cancel every running clock.
* The target in force is the one for the ticket's kind, severity, channel and policy as they
  were when the clock stopped (or now, while it runs). A change keeps the working time already
  used and moves the deadline; a stopped clock keeps its outcome.
* Each resolution starts an observation clock on wall time (24x7); a reopen cancels it.
* A budget used up inside the known segments is a breach at that instant, or at the moment the
  target changed if a change made it one retroactively.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sla_timer.calendars import Calendar, format_duration, format_local
from sla_timer.policies import Targets

ACTIVE = frozenset({"new", "assigned", "in_progress", "reopened"})
WAITING = frozenset({"pending_customer"})
CANCELLING = frozenset({"merged", "cancelled"})
ENDING = frozenset({"resolved", "closed"}) | CANCELLING
WALL_CLOCK = Calendar.twenty_four_seven()

Span = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class Opening:
    """What ``ticket.created`` says that the clocks need."""

    ticket_id: Any
    ticket_number: int
    organization_id: Any
    kind: str
    severity: int
    channel: str
    policy_key: str | None
    calendar_key: str | None
    coverage: str
    on_site_required: bool
    started_at: datetime


@dataclass(frozen=True)
class Fact:
    """One consumed event about the ticket, reduced to what the fold reads."""

    source: str
    seq: int
    type: str
    at: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Attributes:
    """What picks the targets; changes with ``ticket.updated``."""

    kind: str
    severity: int
    channel: str
    policy_key: str | None
    on_site_required: bool


@dataclass
class Plan:
    kind: str
    round: int
    started_at: datetime
    target: timedelta
    target_reason: str
    target_set_at: datetime
    attributes: Attributes
    segments: list[Span]
    pauses: list[Span]
    state: str  # running | paused | stopped | cancelled
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    due_at: datetime | None = None
    reached: bool = False
    warnings: list[tuple[float, datetime]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def breach_at(self) -> datetime | None:
        """When the deadline passed unmet, if it did within the known segments."""
        if not self.reached or self.due_at is None:
            return None
        return max(self.due_at, self.target_set_at)


TargetsFor = Callable[[Attributes], Targets]


def plan(
    opening: Opening,
    facts: Sequence[Fact],
    *,
    targets_for: TargetsFor,
    calendar: Calendar,
) -> list[Plan]:
    """Every clock of the ticket, as the facts determine it."""
    intake = sorted((f for f in facts if f.source == "intake"), key=lambda f: f.seq)
    others = sorted((f for f in facts if f.source != "intake"), key=lambda f: (f.at, f.seq))
    statuses = _status_timeline(opening, intake)
    attributes = _attribute_timeline(opening, intake)
    start = opening.started_at
    open_spans = _spans(statuses, ACTIVE, start)
    waiting_spans = _spans(statuses, WAITING, start)

    response_at = _earliest(
        [f.at for f in others if f.type == "ticket.acknowledged"]
        + [f.at for f in facts if _public_agent_message(f)]
    )
    visit_at = _earliest([f.at for f in others if f.type == "visit.checked_in"])
    progress_at = _earliest(
        [f.at for f in others if f.type == "ticket.escalated"]
        + [
            f.at
            for f in facts
            if _public_agent_message(f) and response_at is not None and f.at > response_at
        ]
    )
    ending = next(((at, s) for at, s in statuses if s in ENDING), None)

    plans: list[Plan] = []
    for kind, stop_at in (
        ("response", response_at),
        ("on_site", visit_at),
        ("progress", progress_at),
    ):
        if kind == "on_site" and not any(a.on_site_required for _, a in attributes):
            continue
        end, state, reason = _one_shot_end(kind, stop_at, ending, statuses, start)
        made = _build(
            kind, 1, start, end, state, reason, open_spans, waiting_spans, attributes,
            targets_for, calendar,
        )  # fmt: skip
        if made:
            plans.append(made)

    final = statuses[-1][1]
    if final in ACTIVE:
        state, end, reason = "running", None, None
    elif final in WAITING:
        state, end, reason = "paused", None, None
    elif final in CANCELLING:
        state, end, reason = "cancelled", statuses[-1][0], f"the ticket was {final}"
    else:
        end = _last_left_active(statuses)
        state, reason = "stopped", f"the ticket was {final}"
    made = _build(
        "resolution", 1, start, end, state, reason, open_spans, waiting_spans, attributes,
        targets_for, calendar,
    )  # fmt: skip
    if made:
        plans.append(made)
    plans.extend(_observations(statuses, attributes, targets_for))
    return plans


_TIME_FIELDS = (
    "changed_at",
    "updated_at",
    "resolved_at",
    "reopened_at",
    "closed_at",
    "merged_at",
    "acknowledged_at",
    "checked_in_at",
    "escalated_at",
    "assigned_at",
    "unassigned_at",
    "completed_at",
    "created_at",
)
_time_fields_of: dict[type, tuple[str, ...]] = {}


def fact_time(event: Any) -> datetime:
    """The instant a consumed event says its change happened."""
    data = event.data
    names = _time_fields_of.get(type(data))
    if names is None:
        # The candidate fields this event class declares, in order (a pydantic model answers
        # a missing attribute slowly, through an exception); any other class: all of them.
        declared = getattr(type(data), "model_fields", None)
        names = tuple(n for n in _TIME_FIELDS if declared is None or n in declared)
        _time_fields_of[type(data)] = names
    for name in names:
        value = getattr(data, name, None)
        if isinstance(value, datetime):
            return value
    return event.occurred_at


# ---- timelines -------------------------------------------------------------------------------


def _status_timeline(opening: Opening, intake: Sequence[Fact]) -> list[tuple[datetime, str]]:
    timeline = [(opening.started_at, "new")]
    for fact in intake:
        to = _status_of(fact)
        if to is None or to == timeline[-1][1]:
            continue
        # seq orders intake's facts; a clock running backwards must not reorder them.
        timeline.append((max(fact.at, timeline[-1][0]), to))
    return timeline


def _status_of(fact: Fact) -> str | None:
    if fact.type == "ticket.status_changed":
        return fact.data.get("to_status")
    return {
        "ticket.resolved": "resolved",
        "ticket.reopened": "reopened",
        "ticket.closed": "closed",
        "ticket.merged": "merged",
    }.get(fact.type)


def _attribute_timeline(
    opening: Opening, intake: Sequence[Fact]
) -> list[tuple[datetime, Attributes]]:
    current = Attributes(
        kind=opening.kind,
        severity=opening.severity,
        channel=opening.channel,
        policy_key=opening.policy_key,
        on_site_required=opening.on_site_required,
    )
    timeline = [(opening.started_at, current)]
    for fact in intake:
        data = fact.data
        changes = data.get("changes") or {} if fact.type == "ticket.updated" else {}
        update: dict[str, Any] = {}
        if "severity" in data:
            update["severity"] = data["severity"]
        if "kind" in data:
            update["kind"] = data["kind"]
        for name in ("policy_key", "on_site_required", "channel"):
            if name in changes and isinstance(changes[name], Mapping):
                update[name] = changes[name].get("new")
        if update.get("on_site_required") is None:
            update.pop("on_site_required", None)
        if update.get("channel") is None:
            update.pop("channel", None)
        changed = Attributes(**{**current.__dict__, **update})
        if changed != current:
            timeline.append((max(fact.at, timeline[-1][0]), changed))
            current = changed
    return timeline


def _spans(
    statuses: Sequence[tuple[datetime, str]], wanted: frozenset[str], start: datetime
) -> list[Span]:
    spans: list[Span] = []
    for i, (at, status) in enumerate(statuses):
        if status not in wanted:
            continue
        until = statuses[i + 1][0] if i + 1 < len(statuses) else None
        a = max(at, start)
        if until is not None and until <= a:
            continue
        if spans and spans[-1][1] == a:
            spans[-1] = (spans[-1][0], until)
        else:
            spans.append((a, until))
    return spans


def _clip(spans: Sequence[Span], start: datetime, end: datetime | None) -> list[Span]:
    out: list[Span] = []
    for a, b in spans:
        lo = max(a, start)
        hi = b if end is None else (end if b is None else min(b, end))
        if hi is None or lo < hi:
            out.append((lo, hi))
    return out


def _earliest(values: Sequence[datetime]) -> datetime | None:
    return min(values) if values else None


def _public_agent_message(fact: Fact) -> bool:
    return (
        fact.type == "ticket.message_added"
        and fact.data.get("author_kind") == "agent"
        and bool(fact.data.get("public"))
    )


def _last_left_active(statuses: Sequence[tuple[datetime, str]]) -> datetime:
    for i in range(len(statuses) - 1, 0, -1):
        if statuses[i - 1][1] in ACTIVE | WAITING and statuses[i][1] not in ACTIVE | WAITING:
            return statuses[i][0]
    return statuses[-1][0]


def _one_shot_end(
    kind: str,
    stop_at: datetime | None,
    ending: tuple[datetime, str] | None,
    statuses: Sequence[tuple[datetime, str]],
    start: datetime,
) -> tuple[datetime | None, str, str | None]:
    if stop_at is not None and (ending is None or stop_at <= ending[0]):
        reason = {
            "response": "the first response was given",
            "on_site": "the engineer checked in on site",
            "progress": "progress was reported",
        }[kind]
        return max(stop_at, start), "stopped", reason
    if ending is not None:
        at, status = ending
        if status in CANCELLING or kind == "on_site":
            return at, "cancelled", f"the ticket was {status} first"
        return at, "stopped", f"the ticket was {status}, which answers it"
    return None, "paused" if statuses[-1][1] in WAITING else "running", None


def _build(
    kind: str,
    round_: int,
    start: datetime,
    end: datetime | None,
    state: str,
    reason: str | None,
    open_spans: Sequence[Span],
    waiting_spans: Sequence[Span],
    attributes: Sequence[tuple[datetime, Attributes]],
    targets_for: TargetsFor,
    calendar: Calendar,
) -> Plan | None:
    in_force, target_minutes, target_reason, set_at, notes, dropped = _target(
        kind, attributes, end, targets_for
    )
    if target_minutes is None:
        return None
    if dropped is not None:
        # A change took the commitment away (say, a lower severity without this target).
        end = dropped if end is None else min(end, dropped)
        state, reason = "cancelled", "a change took this commitment away"
    segments = _clip(open_spans, start, end)
    pauses = _clip(waiting_spans, start, end)
    made = Plan(
        kind=kind,
        round=round_,
        started_at=start,
        target=timedelta(minutes=target_minutes),
        target_reason=target_reason,
        target_set_at=set_at,
        attributes=in_force,
        segments=segments,
        pauses=pauses,
        state=state,
        stopped_at=end if state in ("stopped", "cancelled") else None,
        stop_reason=reason,
        notes=notes,
    )
    _measure(made, calendar, targets_for(in_force).thresholds)
    return made


def _target(
    kind: str,
    attributes: Sequence[tuple[datetime, Attributes]],
    cut: datetime | None,
    targets_for: TargetsFor,
) -> tuple[Attributes, int | None, str, datetime, list[str], datetime | None]:
    """The target in force at ``cut`` (or now), when it was set, the changes in words, and the
    instant a later change removed it (the last target then stays the clock's)."""
    notes: list[str] = []
    current: int | None = None
    reason = ""
    set_at = attributes[0][0]
    in_force = attributes[0][1]
    previous: Attributes | None = None
    dropped: datetime | None = None
    for at, attrs in attributes:
        if cut is not None and at > cut and previous is not None:
            break
        chosen = targets_for(attrs)
        minutes = chosen.get(kind)
        if previous is not None and minutes != current:
            what = _describe_change(previous, attrs)
            old = "none" if current is None else format_duration(timedelta(minutes=current))
            new = "none" if minutes is None else format_duration(timedelta(minutes=minutes))
            notes.append(f"{what} at {at.isoformat()}: target {old} → {new}")
            if minutes is None:
                dropped = dropped or at
                previous = attrs
                continue
            set_at = at
        dropped = None if minutes is not None else dropped
        current, in_force, previous = minutes, attrs, attrs
        reason = chosen.reasons.get(kind, "")
    return in_force, current, reason, set_at, notes, dropped


def _describe_change(old: Attributes, new: Attributes) -> str:
    parts = []
    for name in ("severity", "kind", "channel", "policy_key", "on_site_required"):
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            parts.append(f"{name.replace('_', ' ')} {a} → {b}")
    return ", ".join(parts) or "policy changed"


def _measure(made: Plan, calendar: Calendar, thresholds: Sequence[float]) -> None:
    due, reached = _point(made.segments, made.target, calendar)
    if due is None and made.state == "stopped":
        # Met: where the deadline was while the clock ran.
        used = sum((calendar.elapsed(a, b) for a, b in made.segments if b), timedelta(0))
        base = made.segments[-1][1] if made.segments else made.stopped_at
        due = calendar.add(base or made.started_at, made.target - used)
    made.due_at, made.reached = due, reached
    if made.state != "running":
        return
    for threshold in thresholds:
        point, _ = _point(made.segments, made.target * threshold, calendar)
        if point is not None:
            made.warnings.append((threshold, point))


def _point(
    segments: Sequence[Span], budget: timedelta, calendar: Calendar
) -> tuple[datetime | None, bool]:
    """Where ``budget`` of working time is used up along the segments; True when that lies
    inside a closed segment (already happened), False for the open last segment."""
    remaining = budget
    for a, b in segments:
        if b is None:
            return calendar.add(a, remaining), False
        available = calendar.elapsed(a, b)
        if remaining <= available:
            return calendar.add(a, remaining), True
        remaining -= available
    return None, False


def _observations(
    statuses: Sequence[tuple[datetime, str]],
    attributes: Sequence[tuple[datetime, Attributes]],
    targets_for: TargetsFor,
) -> list[Plan]:
    found: list[Plan] = []
    round_ = 0
    for i, (at, status) in enumerate(statuses):
        if status != "resolved":
            continue
        round_ += 1
        in_force = attributes[0][1]
        for changed_at, attrs in attributes:
            if changed_at <= at:
                in_force = attrs
        minutes = targets_for(in_force).observation
        if minutes is None:
            continue
        following = statuses[i + 1] if i + 1 < len(statuses) else None
        if following is None:
            state, end, reason = "running", None, None
        elif following[1] == "closed":
            state, end, reason = "stopped", following[0], "the ticket was closed"
        else:
            state, end, reason = "cancelled", following[0], f"the ticket was {following[1]}"
        target = timedelta(minutes=minutes)
        due = at + target
        found.append(
            Plan(
                kind="observation",
                round=round_,
                started_at=at,
                target=target,
                target_reason="observation period of the policy, on wall-clock time",
                target_set_at=at,
                attributes=in_force,
                segments=[(at, end)],
                pauses=[],
                state=state,
                stopped_at=end,
                stop_reason=reason,
                due_at=due,
                reached=end is not None and end >= due,
            )
        )
    return found


def explain_window(calendar: Calendar, start: datetime, end: datetime) -> list[str]:
    """Closed stretches and make-up days between two instants, for explanations."""
    return calendar.closed_stretches(start, end)


def describe_span(span: Span, calendar: Calendar) -> str:
    a, b = span
    until = "now" if b is None else format_local(b, calendar.tz)
    return f"{format_local(a, calendar.tz)} → {until}"
