"""Deadlines and escalation: reminders on ``sla.warning``, tier changes on ``sla.breached`` or
by hand (issue 5).

Tier 1 → 2: the ticket is routed to headquarters; the branch engineer stays attached as a
supporting assignment (they keep working it jointly, and it still counts in their capacity).
Tier 2 → 3: a vendor case is opened (the vendor named, or the active vendor supporting the
ticket's product) with the vendor's case reference when known; the headquarters engineer stays
responsible. Every escalation emits ``ticket.escalated`` with its reason, before the
``ticket.assigned`` of the new tier. An SLA timer escalates a ticket at most once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import assignments, crud, tickets, vendors
from dispatch.assignments import Cause
from dispatch.emit import emit
from dispatch.models import Escalation, Reminder, Vendor, VendorCase
from shared import events
from shared.auth import Actor
from shared.http import Conflict, NotFound
from shared.ids import new_id

E = Escalation.__table__
R = Reminder.__table__
VC = VendorCase.__table__

ESCALATING_TIMERS = frozenset({"response", "resolution"})


class AtTopTier(Conflict):
    type = "at-top-tier"
    title = "The ticket is already with the vendor (tier 3)"


class VendorCaseNotFound(NotFound):
    type = "vendor-case-not-found"
    title = "Vendor case not found"


async def escalate(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    *,
    trigger: str,
    reason: str,
    cause: Cause,
    timer_id: uuid.UUID | None = None,
    vendor_id: uuid.UUID | None = None,
    vendor_case_ref: str | None = None,
    number: int | None = None,
) -> Row | None:
    """Moves the ticket up one tier. Returns the escalation, or None when an SLA timer asked
    for one that is not due (already escalated for that timer, ticket done, or at tier 3)."""
    by_sla = timer_id is not None
    await tickets.lock(session, ticket_id)
    ticket = await tickets.load(session, ticket_id)
    if ticket is None:
        if number is None:
            raise assignments.TicketUnknown(f"dispatch has no ticket {ticket_id} (yet)")
        ticket = await tickets.merge(session, ticket_id, number, {}, 0)
    if by_sla:
        done = await session.execute(
            select(E).where(E.c.ticket_id == ticket_id, E.c.timer_id == timer_id)
        )
        if done.first() is not None:
            return None
    if ticket.status in tickets.DONE:
        if by_sla:
            return None
        raise assignments.TicketNotOpen(f"the ticket is {ticket.status}")
    if ticket.tier >= 3:
        if by_sla:
            await _remind(
                session, ticket, None, "escalation", None, None, f"{reason}; already at tier 3"
            )
            return None
        raise AtTopTier("the ticket is already with the vendor")

    primary = await assignments.active_primary(session, ticket_id)
    from_tier, to_tier = ticket.tier, ticket.tier + 1
    vendor, vendor_case = None, None
    if to_tier == 3:
        vendor = (
            await crud.must_exist(session, Vendor, vendor_id, "vendor_id")
            if vendor_id is not None
            else await vendors.for_product(session, ticket.product)
        )
        vendor_case = (
            await session.execute(
                insert(VC)
                .values(
                    id=new_id(),
                    ticket_id=ticket_id,
                    vendor_id=vendor.id if vendor else None,
                    vendor_case_ref=vendor_case_ref,
                    status="open",
                    opened_by=cause.user,
                    note=None if vendor else f"no active vendor supports {ticket.product!r}",
                )
                .returning(*VC.c)
            )
        ).one()
    row = (
        await session.execute(
            insert(E)
            .values(
                id=new_id(),
                ticket_id=ticket_id,
                from_tier=from_tier,
                to_tier=to_tier,
                trigger=trigger,
                reason=reason,
                timer_id=timer_id,
                from_assignment_id=primary.id if primary else None,
                from_engineer_id=primary.engineer_id if primary else None,
                vendor_case_id=vendor_case.id if vendor_case else None,
                escalated_by=cause.user,
            )
            .returning(*E.c)
        )
    ).one()
    ticket = await tickets.set_tier(session, ticket_id, to_tier)
    await emit(
        session,
        events.TicketEscalated(
            subject=ticket_id,
            **cause.envelope(),
            data=events.TicketEscalatedData(
                ticket_id=ticket_id,
                ticket_number=ticket.number,
                from_tier=from_tier,
                to_tier=to_tier,
                trigger=trigger,
                reason=reason,
                vendor=vendor.name if vendor else None,
                vendor_case_ref=vendor_case_ref,
                escalated_by=cause.user,
                escalated_at=row.escalated_at,
            ),
        ),
    )
    if to_tier == 2:
        if primary is not None:
            # The branch engineer stays attached, as support of the headquarters expert.
            await session.execute(
                update(assignments.A)
                .where(assignments.A.c.id == primary.id)
                .values(role="support", version=assignments.A.c.version + 1)
            )
        if ticket.queued_at is not None:
            await tickets.set_queue(session, ticket_id, None, queued=False)
            ticket = await tickets.load(session, ticket_id)
        if tickets.routable(ticket):
            await assignments.route(
                session,
                ticket,
                trigger="escalated",
                cause=cause,
                exclude=await assignments.refusals(session, ticket_id),
            )
    return row


async def may_escalate(session: AsyncSession, ticket_id: uuid.UUID, actor: Actor) -> bool:
    """Managers escalate any ticket; an engineer only one they are working on."""
    if actor.role in ("manager", "admin"):
        return True
    found = await session.execute(
        text(
            "SELECT 1 FROM assignment a JOIN engineer e ON e.id = a.engineer_id "
            "WHERE a.ticket_id = :t AND a.ended_at IS NULL AND e.user_id = :u"
        ),
        {"t": ticket_id, "u": actor.sub},
    )
    return found.first() is not None


async def remind(session: AsyncSession, event: events.SlaWarning | events.SlaBreached) -> None:
    """Records a deadline warning (or a breach that does not escalate) for the engineer
    responsible, or for the queue when nobody has the ticket."""
    d = event.data
    await tickets.lock(session, d.ticket_id)
    ticket = await tickets.load(session, d.ticket_id)
    if ticket is None:
        ticket = await tickets.merge(session, d.ticket_id, d.ticket_number, {}, 0)
    if ticket.status in tickets.DONE:
        return
    primary = await assignments.active_primary(session, d.ticket_id)
    if d.timer_kind == "response" and primary is not None and primary.status == "accepted":
        return  # already answered; the warning crossed the acknowledgement
    if isinstance(event, events.SlaBreached):
        note = f"{d.timer_kind} deadline {_ts(d.due_at)} passed"
    else:
        note = f"{d.timer_kind} deadline {_ts(d.due_at)}: {d.threshold:.0%} of the time used"
    threshold = getattr(d, "threshold", None)
    await _remind(session, ticket, primary, d.timer_kind, threshold, d.due_at, note)


async def _remind(
    session: AsyncSession,
    ticket: Row,
    primary: Row | None,
    timer_kind: str,
    threshold: float | None,
    due_at: datetime | None,
    note: str,
) -> None:
    await session.execute(
        insert(R).values(
            id=new_id(),
            ticket_id=ticket.id,
            assignment_id=primary.id if primary else None,
            engineer_id=primary.engineer_id if primary else None,
            timer_kind=timer_kind,
            threshold=threshold,
            due_at=due_at,
            note=note,
        )
    )


async def close_vendor_cases(session: AsyncSession, ticket_id: uuid.UUID) -> None:
    await session.execute(
        update(VC)
        .where(VC.c.ticket_id == ticket_id, VC.c.status == "open")
        .values(status="closed", closed_at=datetime.now(UTC), version=VC.c.version + 1)
    )


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


async def update_vendor_case(
    session: AsyncSession, case_id: uuid.UUID, changes: dict, *, if_match: str | None
) -> VendorCase:
    """Records the vendor's reference, swaps the vendor, or closes the case (managers)."""
    row = await crud.get(session, VendorCase, case_id, VendorCaseNotFound, for_update=True)
    if changes.get("vendor_id") is not None:
        await crud.must_exist(session, Vendor, changes["vendor_id"], "vendor_id")
    if changes.get("status") == "closed" and row.status != "closed":
        changes["closed_at"] = datetime.now(UTC)
    elif changes.get("status") == "open":
        changes["closed_at"] = None
    return await crud.update(session, row, changes, if_match=if_match)
