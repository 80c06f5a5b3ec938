"""Events dispatch consumes (DESIGN §5). Each handler takes the ticket's lock, merges the event
into the projection by ``seq``, then reconciles: a done ticket has no active assignment and
waits in no queue; an open one has an engineer or waits in a queue. Because the outcome
depends on the merged state, not on arrival order, duplicated and reordered events end in the
same place (DESIGN §4)."""

import uuid

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import assignments, escalations, roster, tickets
from dispatch.assignments import Cause
from shared import events
from shared.bus import Handler


async def reconcile(
    session: AsyncSession, ticket: Row, event: events.Event, *, fresh: bool = False
) -> None:
    """Brings assignments in line with the ticket's status. ``fresh``: the row was just
    created by ``ticket.created``, so it has no history to look up."""
    if ticket.details_seq == 0:
        return
    if ticket.status in tickets.DONE:
        await assignments.release_all(session, ticket.id, detail=f"ticket {ticket.status}")
        if ticket.queued_at is not None:
            await tickets.set_queue(session, ticket.id, None, queued=False)
        if ticket.status in tickets.FINAL:
            await escalations.close_vendor_cases(session, ticket.id)
        return
    if ticket.queued_at is not None:
        return
    cause = Cause(event=event)
    if fresh:
        await assignments.route(session, ticket, trigger="created", cause=cause)
        return
    if await assignments.active_primary(session, ticket.id) is not None:
        return
    previous = await assignments.previous_engineer(session, ticket.id)
    await assignments.route(
        session,
        ticket,
        trigger="reopened" if previous else "created",
        cause=cause,
        previous_engineer_id=previous,
        exclude=await assignments.refusals(session, ticket.id),
    )


async def on_ticket_created(session: AsyncSession, event: events.TicketCreated) -> None:
    # A ticket not seen before (nearly always): lock, insert and the loads routing reads, in
    # one statement, for the engineers of the branches covering its region at a new ticket's
    # tier in the cached roster (route() reads them again if that guess was wrong).
    snapshot = roster.cached(session) or await roster.current(session)
    ids = _pool_ids(snapshot, tickets.NEW_TIER, event.data.region)
    created = await tickets.lock_and_create(session, event, ids)
    if created is not None:
        ticket, version, loads = created
        if ticket.status in tickets.OPEN:
            await assignments.route(
                session,
                ticket,
                trigger="created",
                cause=Cause(event=event),
                preloaded=(version, ids, loads),
            )
            return
        await reconcile(session, ticket, event, fresh=True)
        return
    ticket, fresh = await tickets.record_created(session, event)
    await reconcile(session, ticket, event, fresh=fresh)


def _pool_ids(snapshot: roster.Roster, tier: int, region: str | None) -> list[uuid.UUID]:
    return [e.id for e in snapshot.pool(tier=tier, region=region)[1]]


async def on_ticket_updated(session: AsyncSession, event: events.TicketUpdated) -> None:
    await tickets.lock(session, event.subject)
    ticket = await tickets.record_update(session, event)
    await reconcile(session, ticket, event)


async def on_ticket_status_changed(
    session: AsyncSession, event: events.TicketStatusChanged
) -> None:
    d = event.data
    await tickets.lock(session, event.subject)
    ticket = await tickets.record_status(
        session,
        event,
        d.to_status,
        number=d.ticket_number,
        details={"severity": d.severity, "kind": d.kind},
    )
    await reconcile(session, ticket, event)


async def on_ticket_resolved(session: AsyncSession, event: events.TicketResolved) -> None:
    d = event.data
    await tickets.lock(session, event.subject)
    details = {"severity": d.severity, "kind": d.kind, "category": d.category}
    if d.product is not None:
        details["product"] = d.product
    ticket = await tickets.record_status(
        session, event, "resolved", number=d.ticket_number, details=details
    )
    await reconcile(session, ticket, event)


async def on_ticket_reopened(session: AsyncSession, event: events.TicketReopened) -> None:
    d = event.data
    await tickets.lock(session, event.subject)
    ticket = await tickets.record_status(
        session,
        event,
        "reopened",
        number=d.ticket_number,
        details={"severity": d.severity, "kind": d.kind},
    )
    await reconcile(session, ticket, event)


async def on_ticket_closed(session: AsyncSession, event: events.TicketClosed) -> None:
    d = event.data
    await tickets.lock(session, event.subject)
    ticket = await tickets.record_status(
        session,
        event,
        "closed",
        number=d.ticket_number,
        details={"severity": d.severity, "kind": d.kind},
    )
    await reconcile(session, ticket, event)


async def on_ticket_merged(session: AsyncSession, event: events.TicketMerged) -> None:
    await tickets.lock(session, event.subject)
    ticket = await tickets.record_status(session, event, "merged", number=event.data.ticket_number)
    await reconcile(session, ticket, event)


async def on_sla_warning(session: AsyncSession, event: events.SlaWarning) -> None:
    await escalations.remind(session, event)


async def on_sla_breached(session: AsyncSession, event: events.SlaBreached) -> None:
    d = event.data
    if d.timer_kind not in escalations.ESCALATING_TIMERS:
        await escalations.remind(session, event)
        return
    await escalations.escalate(
        session,
        d.ticket_id,
        trigger="sla_breached",
        reason=f"{d.timer_kind} deadline {d.due_at:%Y-%m-%d %H:%M}Z passed "
        f"(policy {d.policy_key}, severity {d.severity})",
        cause=Cause(event=event),
        timer_id=d.timer_id,
        number=d.ticket_number,
    )


HANDLERS: dict[type, Handler] = {
    events.TicketCreated: on_ticket_created,
    events.TicketUpdated: on_ticket_updated,
    events.TicketStatusChanged: on_ticket_status_changed,
    events.TicketResolved: on_ticket_resolved,
    events.TicketReopened: on_ticket_reopened,
    events.TicketClosed: on_ticket_closed,
    events.TicketMerged: on_ticket_merged,
    events.SlaWarning: on_sla_warning,
    events.SlaBreached: on_sla_breached,
}
