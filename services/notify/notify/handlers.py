"""Events notify consumes (DESIGN §5)."""

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify.models import Ticket
from shared import events
from shared.bus import Handler


async def on_ticket_created(session: AsyncSession, event: events.TicketCreated) -> None:
    d = event.data
    await session.execute(
        insert(Ticket)
        .values(
            id=event.subject,
            organization_id=d.organization_id,
            number=d.ticket_number,
            subject=d.subject,
            contact_id=d.contact_id,
            language=d.language,
            channel=d.channel,
        )
        .on_conflict_do_nothing(index_elements=[Ticket.id])
    )


HANDLERS: dict[type, Handler] = {
    events.TicketCreated: on_ticket_created,
}
