"""Events kb consumes (DESIGN §5)."""

from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.bus import Handler, driver_only
from shared.db import driver

# One prepared statement on the session's asyncpg connection: a projection row per ticket is
# the whole work of this handler, so the statement layer would be most of its cost.
_PROJECT = """
INSERT INTO ticket (id, organization_id, number, kind, subject, description, product, category)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (id) DO NOTHING
"""


@driver_only
async def on_ticket_created(session: AsyncSession, event: events.TicketCreated) -> None:
    d = event.data
    conn = await driver(session)
    await conn.execute(
        _PROJECT,
        event.subject,
        d.organization_id,
        d.ticket_number,
        d.kind,
        d.subject,
        d.description,
        d.product,
        d.category,
    )


HANDLERS: dict[type, Handler] = {
    events.TicketCreated: on_ticket_created,
}
