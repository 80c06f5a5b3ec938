"""Events sla-timer consumes (DESIGN §5)."""

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.bus import Handler
from sla_timer.models import Ticket


async def on_ticket_created(session: AsyncSession, event: events.TicketCreated) -> None:
    d = event.data
    await session.execute(
        insert(Ticket)
        .values(
            id=event.subject,
            organization_id=d.organization_id,
            kind=d.kind,
            severity=d.severity,
            channel=d.channel,
            coverage=d.coverage,
            policy_key=d.policy_key,
            calendar_id=d.calendar_id,
            opened_at=d.created_at,
        )
        .on_conflict_do_nothing(index_elements=[Ticket.id])
    )


HANDLERS: dict[type, Handler] = {
    events.TicketCreated: on_ticket_created,
}
