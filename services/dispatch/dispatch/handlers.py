"""Events dispatch consumes (DESIGN §5). Each handler takes the ticket's lock, merges the event
into the projection by ``seq``, then reconciles: a done ticket has no active assignment and
waits in no queue; an open one has an engineer or waits in a queue. Because the outcome
depends on the merged state, not on arrival order, duplicated and reordered events end in the
same place (DESIGN §4)."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import assignments, escalations, roster, tickets
from dispatch.assignments import Cause
from dispatch.sql import Rec
from shared import events
from shared.bus import Handler, prepared_by


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


_PREPARED = "dispatch.tickets_created"


@dataclass
class _Created:
    """A run of ``ticket.created`` prepared together: the tickets inserted (by id; each is
    taken by its event's handler), each one's pool of engineers, the roster version, and the
    loads of all those engineers, kept current as the run's handlers assign them. ``planned``:
    the decisions of the whole run, made and written together (:func:`assignments.plan_new`),
    when that worked out; else each handler routes its ticket."""

    rows: dict[uuid.UUID, Rec]
    pools: dict[uuid.UUID, list[uuid.UUID]]
    version: int
    loads: assignments.Loads
    snapshot: roster.Roster
    planned: dict[uuid.UUID, assignments.Planned] | None = None

    def take(self, ticket_id: uuid.UUID) -> tuple[Rec, list[uuid.UUID], assignments.Loads] | None:
        ticket = self.rows.pop(ticket_id, None)
        if ticket is None:
            return None
        ids = self.pools[ticket_id]
        return ticket, ids, {i: self.loads[i] for i in ids if i in self.loads}

    def assigned(self, row: Rec) -> None:
        if (load := self.loads.get(row.engineer_id)) is not None:
            self.loads[row.engineer_id] = (load[0] + 1, row.assigned_at)


async def prepare_tickets_created(session: AsyncSession, created: list[events.TicketCreated]):
    """A run of new tickets in one consumer batch: their locks and inserts, and the loads of
    every engineer their routing reads, in one statement; then every decision of the run made
    in order (:func:`assignments.plan_new`) and written in a second."""
    session.info.pop(_PREPARED, None)
    snapshot = roster.cached(session) or await roster.current(session)
    pools = {e.subject: _pool_ids(snapshot, tickets.NEW_TIER, e.data.region) for e in created}
    rows, version, loads = await tickets.lock_and_create_many(session, created, _union(pools))
    if not rows:
        return  # all known already: each handler merges its event
    if version != snapshot.version:  # the cached roster was not the current one
        snapshot = await roster.current(session, version)
        pools = {e.subject: _pool_ids(snapshot, tickets.NEW_TIER, e.data.region) for e in created}
        version, loads = await assignments.loads_of(session, _union(pools))
    prepared = session.info[_PREPARED] = _Created(rows, pools, version, loads, snapshot)
    new = [
        rows[e.subject]
        for e in created
        if e.subject in rows and rows[e.subject].status in tickets.OPEN
    ]
    if version != snapshot.version or any(
        _pool_ids(snapshot, tickets.facts(t).tier, t.region) != pools[t.id] for t in new
    ):
        return
    decisions = assignments.plan_new(snapshot, new, dict(loads), datetime.now(UTC))
    prepared.planned = await assignments.assign_planned(session, new, decisions)


@prepared_by(prepare_tickets_created)
async def on_ticket_created(session: AsyncSession, event: events.TicketCreated) -> None:
    # A ticket not seen before (nearly always): lock, insert and the loads routing reads, in
    # one statement (or prepared with the rest of its run, decisions included), for the
    # engineers of the branches covering its region at a new ticket's tier in the cached
    # roster (route() reads them again if that guess was wrong).
    prepared: _Created | None = session.info.get(_PREPARED)
    taken = prepared.take(event.subject) if prepared is not None else None
    if prepared is not None and not prepared.rows:
        # The run's last ticket: let go of the run now. A session sits in reference cycles,
        # so what hangs off it lives until the cyclic collector runs; the run's decisions
        # and loads were most of the objects it had to free, in pauses of several ms.
        del session.info[_PREPARED]
    if taken is not None and prepared is not None:
        ticket, ids, loads = taken
        planned = prepared.planned.get(ticket.id) if prepared.planned is not None else None
        if planned is not None:
            await assignments.finish_planned(
                session, prepared.snapshot, ticket, planned, cause=Cause(event=event)
            )
            return
        created: tuple | None = (ticket, prepared.version, loads)
    else:
        snapshot = roster.cached(session) or await roster.current(session)
        ids = _pool_ids(snapshot, tickets.NEW_TIER, event.data.region)
        created = await tickets.lock_and_create(session, event, ids)
    if created is not None:
        ticket, version, loads = created
        if ticket.status in tickets.OPEN:
            row = await assignments.route(
                session,
                ticket,
                trigger="created",
                cause=Cause(event=event),
                preloaded=(version, ids, loads),
            )
            if row is not None and prepared is not None:
                prepared.assigned(row)
            return
        await reconcile(session, ticket, event, fresh=True)
        return
    ticket, fresh = await tickets.record_created(session, event)
    await reconcile(session, ticket, event, fresh=fresh)


def _union(pools: dict[uuid.UUID, list[uuid.UUID]]) -> list[uuid.UUID]:
    return list(dict.fromkeys(i for ids in pools.values() for i in ids))


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
