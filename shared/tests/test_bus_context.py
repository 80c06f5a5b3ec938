"""A handled event's ids and trace do not outlive its handling."""

from datetime import UTC, datetime

from shared import events
from shared import logging as aclog
from shared.bus import _event_context
from shared.ids import new_id


class Delivery:
    headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


def event() -> events.TicketCreated:
    ticket_id = new_id()
    return events.TicketCreated(
        subject=ticket_id,
        seq=1,
        data=events.TicketCreatedData(
            ticket_id=ticket_id,
            ticket_number=100001,
            kind="fault",
            severity=3,
            organization_id=new_id(),
            subject="s",
            description="",
            created_at=datetime.now(UTC),
        ),
    )


def test_the_trace_and_ids_are_set_while_handling_and_reset_after():
    e = event()
    with _event_context(Delivery(), e):
        assert aclog.traceparent.get() == Delivery.headers["traceparent"]
        assert aclog.event_id.get() == str(e.id)
        assert aclog.ticket_id.get() == str(e.subject)
    assert aclog.traceparent.get() is None
    assert aclog.event_id.get() is None
    assert aclog.ticket_id.get() is None
