"""dispatch.emit: a transaction's events reach the outbox at commit, in emit order, and not at
all when it rolls back."""

from datetime import UTC, datetime

from dispatch.emit import emit, pending
from shared import events
from shared import logging as aclog
from shared.ids import new_id
from tests.factories import outbox_events


def escalated(ticket_id, reason: str) -> events.TicketEscalated:
    return events.TicketEscalated(
        subject=ticket_id,
        data=events.TicketEscalatedData(
            ticket_id=ticket_id,
            ticket_number=1,
            from_tier=1,
            to_tier=2,
            trigger="manual",
            reason=reason,
            escalated_at=datetime.now(UTC),
        ),
    )


async def test_events_are_written_at_commit_in_order_and_dropped_on_rollback(app):
    ticket_id = new_id()
    async with app.state.sessionmaker() as session:
        await emit(session, escalated(ticket_id, "rolled back"))
        await session.rollback()
        assert pending(session) == []
        await emit(session, escalated(ticket_id, "first"))
        await emit(session, escalated(ticket_id, "second"))
        token = aclog.traceparent.set("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        try:
            await emit(session, escalated(ticket_id, "traced"))
        finally:
            aclog.traceparent.reset(token)
        await emit(session, escalated(ticket_id, "last"))
        assert [e.data.reason for e in pending(session)] == ["last"]
        await session.commit()

    written = await outbox_events(app, ticket_id)
    assert [e["data"]["reason"] for e in written] == ["first", "second", "traced", "last"]
    assert [e["seq"] for e in written] == [1, 2, 3, 4]
