"""Events sla-timer consumes (DESIGN §5). Each one is kept as a fact of its ticket and the
ticket's clocks are derived again from all its facts, so duplicates and reordering change
nothing (DESIGN §4). ``ticket.created`` also fills the projection (``sla.ticket``)."""

from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.bus import Handler, driver_only
from sla_timer import timers
from sla_timer.settings import Settings

_settings: Settings | None = None


def settings() -> Settings:
    # Handlers get (session, event); the settings they need are read once per process.
    global _settings
    if _settings is None:
        _settings = Settings()
    return _settings


@driver_only
async def on_ticket_created(session: AsyncSession, event: events.TicketCreated) -> None:
    await timers.open_ticket(session, event, settings())


@driver_only
async def on_ticket_fact(session: AsyncSession, event: events.Event) -> None:
    await timers.record(session, event, settings())


on_ticket_updated = on_ticket_status_changed = on_ticket_resolved = on_ticket_fact
on_ticket_reopened = on_ticket_closed = on_ticket_merged = on_ticket_fact
on_ticket_message_added = on_ticket_acknowledged = on_ticket_escalated = on_ticket_fact
on_visit_checked_in = on_ticket_fact


HANDLERS: dict[type, Handler] = {
    events.TicketCreated: on_ticket_created,
    events.TicketUpdated: on_ticket_updated,
    events.TicketStatusChanged: on_ticket_status_changed,
    events.TicketResolved: on_ticket_resolved,
    events.TicketReopened: on_ticket_reopened,
    events.TicketClosed: on_ticket_closed,
    events.TicketMerged: on_ticket_merged,
    events.TicketMessageAdded: on_ticket_message_added,
    events.TicketAcknowledged: on_ticket_acknowledged,
    events.TicketEscalated: on_ticket_escalated,
    events.VisitCheckedIn: on_visit_checked_in,
}
