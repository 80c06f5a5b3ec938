"""Events about one ticket, as intake and dispatch would send them (seq per source)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import events
from shared.ids import new_id

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Mon 2 Mar 2026 09:00 in Shanghai


class Story:
    """Builds the events of one ticket; intake's and dispatch's seq count separately."""

    def __init__(self, *, start: datetime = T0, severity: int = 1, kind: str = "fault", **opening):
        self.ticket_id = new_id()
        self.number = 100000 + uuid.uuid4().int % 800000
        self.start = start
        self.severity = severity
        self.kind = kind
        self.seq = {"intake": 0, "dispatch": 0}
        self.opening = opening
        self.events: list[events.Event] = []

    def _next(self, source: str) -> int:
        self.seq[source] += 1
        return self.seq[source]

    def at(self, minutes: float) -> datetime:
        return self.start + timedelta(minutes=minutes)

    def _add(self, event: events.Event) -> events.Event:
        self.events.append(event)
        return event

    def created(self, **data: Any) -> events.TicketCreated:
        fields = {
            "ticket_id": self.ticket_id,
            "ticket_number": self.number,
            "kind": self.kind,
            "severity": self.severity,
            "channel": "web",
            "subject": "Core switch down",
            "organization_id": self.opening.get("organization_id", new_id()),
            "created_at": self.start,
            **{k: v for k, v in self.opening.items() if k != "organization_id"},
            **data,
        }
        self.organization_id = fields["organization_id"]
        return self._add(
            events.TicketCreated(
                subject=self.ticket_id,
                seq=self._next("intake"),
                data=events.TicketCreatedData(**fields),
            )
        )

    def status(self, minutes: float, from_: str, to: str) -> events.TicketStatusChanged:
        return self._add(
            events.TicketStatusChanged(
                subject=self.ticket_id,
                seq=self._next("intake"),
                data=events.TicketStatusChangedData(
                    ticket_id=self.ticket_id,
                    ticket_number=self.number,
                    from_status=from_,
                    to_status=to,
                    severity=self.severity,
                    kind=self.kind,
                    changed_at=self.at(minutes),
                ),
            )
        )

    def updated(self, minutes: float, **changes: tuple[Any, Any]) -> events.TicketUpdated:
        if "severity" in changes:
            self.severity = changes["severity"][1]
        return self._add(
            events.TicketUpdated(
                subject=self.ticket_id,
                seq=self._next("intake"),
                data=events.TicketUpdatedData(
                    ticket_id=self.ticket_id,
                    ticket_number=self.number,
                    changes={k: {"old": o, "new": n} for k, (o, n) in changes.items()},
                    severity=self.severity,
                    kind=self.kind,
                    updated_at=self.at(minutes),
                ),
            )
        )

    def resolved(self, minutes: float) -> events.TicketResolved:
        return self._add(
            events.TicketResolved(
                subject=self.ticket_id,
                seq=self._next("intake"),
                data=events.TicketResolvedData(
                    ticket_id=self.ticket_id,
                    ticket_number=self.number,
                    resolution="Replaced the line card.",
                    severity=self.severity,
                    kind=self.kind,
                    resolved_at=self.at(minutes),
                ),
            )
        )

    def reopened(self, minutes: float) -> events.TicketReopened:
        return self._add(
            events.TicketReopened(
                subject=self.ticket_id,
                seq=self._next("intake"),
                data=events.TicketReopenedData(
                    ticket_id=self.ticket_id,
                    ticket_number=self.number,
                    reason="recurrence",
                    reopen_count=1,
                    severity=self.severity,
                    kind=self.kind,
                    reopened_at=self.at(minutes),
                ),
            )
        )

    def acknowledged(self, minutes: float) -> events.TicketAcknowledged:
        return self._add(
            events.TicketAcknowledged(
                subject=self.ticket_id,
                seq=self._next("dispatch"),
                data=events.TicketAcknowledgedData(
                    ticket_id=self.ticket_id,
                    ticket_number=self.number,
                    assignment_id=new_id(),
                    engineer_id=new_id(),
                    engineer_name="Wang Fang",
                    tier=1,
                    acknowledged_at=self.at(minutes),
                ),
            )
        )

    def checked_in(self, minutes: float) -> events.VisitCheckedIn:
        return self._add(
            events.VisitCheckedIn(
                subject=self.ticket_id,
                seq=self._next("dispatch"),
                data=events.VisitCheckedInData(
                    ticket_id=self.ticket_id,
                    ticket_number=self.number,
                    visit_id=new_id(),
                    engineer_id=new_id(),
                    engineer_name="Wang Fang",
                    checked_in_at=self.at(minutes),
                ),
            )
        )

    def message(self, minutes: float, *, author: str = "agent", public: bool = True):
        return self._add(
            events.TicketMessageAdded(
                subject=self.ticket_id,
                seq=self._next("intake"),
                data=events.TicketMessageAddedData(
                    ticket_id=self.ticket_id,
                    ticket_number=self.number,
                    message_id=new_id(),
                    author_kind=author,
                    channel="web",
                    public=public,
                    body="We are on it.",
                    created_at=self.at(minutes),
                ),
            )
        )
