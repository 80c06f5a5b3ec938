"""Use cases for what engineers and managers do with assignments: accept, decline, hand
back, check in on site; assign, reassign. Each locks the ticket first (``tickets.lock``) and
uses the routing of ``assignments`` to find the next engineer. Routes commit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, insert, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import assignments, roster, states, tickets
from dispatch.assignments import (
    A,
    Cause,
    EngineerUnavailable,
    IllegalAction,
    NotYourAssignment,
    TicketNotOpen,
    TicketUnknown,
    WrongTier,
)
from dispatch.emit import emit
from dispatch.models import Visit
from shared import events, http
from shared.auth import Actor
from shared.ids import new_id

# ---- engineer actions ---------------------------------------------------------------------


async def _for_action(
    session: AsyncSession, assignment_id: uuid.UUID, actor: Actor, action: states.AssignmentAction
) -> tuple[Row, Row, str]:
    """Locks the assignment's ticket, re-reads the assignment, checks who acts and the move."""
    first = await assignments.get(session, assignment_id)
    await tickets.lock(session, first.ticket_id)
    row = await assignments.get(session, assignment_id)
    if actor.role == "agent":
        mine = (
            await session.execute(
                text("SELECT user_id FROM engineer WHERE id = :id"), {"id": row.engineer_id}
            )
        ).scalar_one()
        if mine != actor.sub:
            raise NotYourAssignment("only the assigned engineer or a manager may do this")
    try:
        new_status = states.assignment_next(row.status, action)
    except states.IllegalTransition as exc:
        raise IllegalAction(str(exc), allowed=exc.allowed)
    ticket = await tickets.load(session, row.ticket_id)
    assert ticket is not None
    return row, ticket, new_status


def check_version(row: Row, if_match: str | None) -> None:
    """Actions take an optional If-Match: sent, it must be the assignment's current ETag."""
    if if_match is not None:
        http.check_if_match(if_match, row.version)


async def accept(
    session: AsyncSession, assignment_id: uuid.UUID, *, actor: Actor, if_match: str | None = None
) -> Row:
    """The engineer takes the ticket: the first response (``ticket.acknowledged``)."""
    row, ticket, _ = await _for_action(session, assignment_id, actor, "accept")
    check_version(row, if_match)
    if row.status == "accepted":
        return row
    row = (
        await session.execute(
            update(A)
            .where(A.c.id == row.id)
            .values(status="accepted", accepted_at=func.clock_timestamp(), version=A.c.version + 1)
            .returning(*A.c)
        )
    ).one()
    info = (await roster.current(session)).engineers[row.engineer_id]
    await emit(
        session,
        events.TicketAcknowledged(
            subject=ticket.id,
            **Cause(actor=actor).envelope(),
            data=events.TicketAcknowledgedData(
                ticket_id=ticket.id,
                ticket_number=ticket.number,
                assignment_id=row.id,
                engineer_id=row.engineer_id,
                engineer_name=info.name,
                tier=row.tier,
                acknowledged_at=row.accepted_at,
            ),
        ),
    )
    return row


async def decline(
    session: AsyncSession,
    assignment_id: uuid.UUID,
    *,
    actor: Actor,
    reason: str,
    if_match: str | None = None,
) -> Row:
    """The engineer refuses before accepting: the ticket goes to the next candidate."""
    row, ticket, status = await _for_action(session, assignment_id, actor, "decline")
    check_version(row, if_match)
    return await _give_back(session, row, ticket, status=status, reason=reason, actor=actor)


async def hand_back(
    session: AsyncSession,
    assignment_id: uuid.UUID,
    *,
    actor: Actor,
    reason: str,
    if_match: str | None = None,
) -> Row:
    """The engineer gives an accepted ticket back: it is routed again, without them."""
    row, ticket, status = await _for_action(session, assignment_id, actor, "hand_back")
    check_version(row, if_match)
    return await _give_back(session, row, ticket, status=status, reason=reason, actor=actor)


async def _give_back(
    session: AsyncSession, row: Row, ticket: Row, *, status: str, reason: str, actor: Actor
) -> Row:
    ended = await assignments.end(session, row, status=status, detail=reason)
    if row.role == "primary" and tickets.routable(ticket):
        await assignments.route(
            session,
            ticket,
            trigger=status,
            cause=Cause(actor=actor),
            exclude=await assignments.refusals(session, ticket.id),
            released=ended,
        )
    return ended


async def check_in(
    session: AsyncSession,
    assignment_id: uuid.UUID,
    *,
    actor: Actor,
    checked_in_at: datetime | None,
    latitude: float | None,
    longitude: float | None,
    workorder_id: uuid.UUID | None,
    note: str | None,
) -> Row:
    """The engineer arrived on site (``visit.checked_in``: the on-site clock stops)."""
    row, ticket, _ = await _for_action(session, assignment_id, actor, "check_in")
    when = checked_in_at or datetime.now(UTC)
    visit = (
        await session.execute(
            insert(Visit.__table__)
            .values(
                id=new_id(),
                ticket_id=ticket.id,
                assignment_id=row.id,
                engineer_id=row.engineer_id,
                workorder_id=workorder_id,
                latitude=latitude,
                longitude=longitude,
                note=note,
                checked_in_at=when,
            )
            .returning(*Visit.__table__.c)
        )
    ).one()
    info = (await roster.current(session)).engineers[row.engineer_id]
    await emit(
        session,
        events.VisitCheckedIn(
            subject=ticket.id,
            **Cause(actor=actor).envelope(),
            data=events.VisitCheckedInData(
                ticket_id=ticket.id,
                ticket_number=ticket.number,
                visit_id=visit.id,
                workorder_id=workorder_id,
                engineer_id=row.engineer_id,
                engineer_name=info.name,
                latitude=latitude,
                longitude=longitude,
                checked_in_at=when,
            ),
        ),
    )
    return visit


# ---- manager moves ------------------------------------------------------------------------


async def assign_manually(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    engineer_id: uuid.UUID | None,
    *,
    actor: Actor,
    reason: str | None,
) -> Row | None:
    """A manager gives the ticket to an engineer (or, with none named, lets the rules pick
    someone other than the current one); the current primary assignment ends ``reassigned``.
    The engineer must be active, of the ticket's tier and under capacity."""
    await tickets.lock(session, ticket_id)
    ticket = await tickets.load(session, ticket_id)
    if ticket is None or ticket.details_seq == 0:
        raise TicketUnknown(f"dispatch has no ticket {ticket_id} (yet)")
    if ticket.status not in tickets.OPEN:
        raise TicketNotOpen(f"the ticket is {ticket.status}")
    current = await assignments.active_primary(session, ticket_id)
    cause = Cause(actor=actor)
    if engineer_id is None:
        if current is None:
            raise IllegalAction("name an engineer_id: the ticket has no engineer to move it from")
        ended = await assignments.end(session, current, status="reassigned", detail=reason)
        return await assignments.route(
            session,
            ticket,
            trigger="reassign",
            cause=cause,
            exclude={
                **await assignments.refusals(session, ticket_id),
                current.engineer_id: "reassigned away",
            },
            released=ended,
        )
    snapshot = await roster.current(session)
    info = snapshot.engineers.get(engineer_id)
    if info is None:
        raise EngineerUnavailable(f"no engineer {engineer_id}")
    if info.tier != tickets.routing_tier(ticket):
        raise WrongTier(
            f"{info.name} is tier {info.tier}; the ticket is at tier {ticket.tier} "
            "(escalate it instead)"
        )
    if current is not None and current.engineer_id == engineer_id:
        return current
    if not info.active:
        raise EngineerUnavailable(f"{info.name} is inactive")
    if not await assignments.take_capacity_of(session, engineer_id):
        raise EngineerUnavailable(f"{info.name} is at capacity ({info.max_open} open)")
    previous = None
    if current is not None:
        await assignments.end(session, current, status="reassigned", detail=reason)
        previous = current.engineer_id
    return await assignments.record_assignment(
        session,
        snapshot,
        ticket,
        engineer_id,
        tier=tickets.routing_tier(ticket),
        by="manual",
        rule=None,
        decision=None,
        previous_engineer_id=previous,
        cause=cause,
    )


async def reassign(
    session: AsyncSession,
    assignment_id: uuid.UUID,
    engineer_id: uuid.UUID | None,
    *,
    actor: Actor,
    reason: str | None,
    if_match: str | None = None,
) -> Row | None:
    first = await assignments.get(session, assignment_id)
    await tickets.lock(session, first.ticket_id)
    row = await assignments.get(session, assignment_id)
    check_version(row, if_match)
    if row.ended_at is not None:
        raise IllegalAction(f"the assignment has ended ({row.status})", allowed=[])
    if row.role != "primary":
        raise IllegalAction("a supporting engineer is not reassigned; reassign the primary one")
    return await assign_manually(session, row.ticket_id, engineer_id, actor=actor, reason=reason)
