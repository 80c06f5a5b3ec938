"""The read side of assignments: details with their reason, lists, queues, escalations and
vendor cases, shaped for the API's ``Read`` models."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import crud, states
from dispatch.assignments import AssignmentNotFound
from dispatch.models import (
    Assignment,
    Engineer,
    Escalation,
    Reminder,
    RoutingDecision,
    Ticket,
    VendorCase,
    Visit,
)
from dispatch.schemas import (
    AssignmentRead,
    DecisionRead,
    QueuedTicketRead,
    ReminderRead,
    VisitRead,
)

A = Assignment.__table__


async def assignment(session: AsyncSession, assignment_id: uuid.UUID) -> AssignmentRead:
    row = (await session.execute(select(A).where(A.c.id == assignment_id))).first()
    if row is None:
        raise AssignmentNotFound(f"no assignment {assignment_id}")
    return (await assignment_reads(session, [row], detail=True))[0]


async def assignment_reads(
    session: AsyncSession, rows: list[Row] | list[Assignment], *, detail: bool = False
) -> list[AssignmentRead]:
    """Read models for assignment rows; ``detail`` adds the decision, reminders and visits."""
    if not rows:
        return []
    ticket_ids = {r.ticket_id for r in rows}
    engineer_ids = {r.engineer_id for r in rows}
    numbers = {
        r.id: r.number
        for r in await session.execute(
            select(Ticket.id, Ticket.number).where(Ticket.id.in_(ticket_ids))
        )
    }
    names = {
        r.id: r.name
        for r in await session.execute(
            select(Engineer.id, Engineer.name).where(Engineer.id.in_(engineer_ids))
        )
    }
    decisions: dict[uuid.UUID, DecisionRead] = {}
    reminders: dict[uuid.UUID, list[ReminderRead]] = {}
    visits: dict[uuid.UUID, list[VisitRead]] = {}
    if detail:
        ids = [r.id for r in rows]
        decision_ids = [r.decision_id for r in rows if r.decision_id]
        for d in (
            await session.execute(
                select(RoutingDecision).where(RoutingDecision.id.in_(decision_ids))
            )
        ).scalars():
            decisions[d.id] = DecisionRead.model_validate(d)
        for m in (
            await session.execute(
                select(Reminder).where(Reminder.assignment_id.in_(ids)).order_by(Reminder.id)
            )
        ).scalars():
            reminders.setdefault(m.assignment_id, []).append(ReminderRead.model_validate(m))
        for v in (
            await session.execute(
                select(Visit).where(Visit.assignment_id.in_(ids)).order_by(Visit.id)
            )
        ).scalars():
            visits.setdefault(v.assignment_id, []).append(VisitRead.model_validate(v))
    return [
        AssignmentRead.model_validate(r).model_copy(
            update={
                "ticket_number": numbers.get(r.ticket_id),
                "engineer_name": names.get(r.engineer_id),
                "allowed_actions": (
                    states.assignment_actions(r.status) if r.ended_at is None else []
                ),
                "decision": decisions.get(r.decision_id) if r.decision_id else None,
                "reminders": reminders.get(r.id, []),
                "visits": visits.get(r.id, []),
            }
        )
        for r in rows
    ]


async def assignments(
    session: AsyncSession,
    *,
    ticket_id: uuid.UUID | None,
    engineer_id: uuid.UUID | None,
    user_id: str | None,
    status: str | None,
    active: bool | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[AssignmentRead], str | None]:
    stmt = select(Assignment)
    if ticket_id is not None:
        stmt = stmt.where(Assignment.ticket_id == ticket_id)
    if engineer_id is not None:
        stmt = stmt.where(Assignment.engineer_id == engineer_id)
    if user_id is not None:
        stmt = stmt.where(
            Assignment.engineer_id.in_(select(Engineer.id).where(Engineer.user_id == user_id))
        )
    if status is not None:
        stmt = stmt.where(Assignment.status == status)
    if active is not None:
        stmt = stmt.where(
            Assignment.ended_at.is_(None) if active else Assignment.ended_at.is_not(None)
        )
    rows, next_cursor = await crud.page(session, stmt, Assignment, limit=limit, cursor=cursor)
    return await assignment_reads(session, rows), next_cursor


async def decisions(
    session: AsyncSession, *, ticket_id: uuid.UUID | None, limit: int, cursor: str | None
) -> tuple[list[RoutingDecision], str | None]:
    stmt = select(RoutingDecision)
    if ticket_id is not None:
        stmt = stmt.where(RoutingDecision.ticket_id == ticket_id)
    return await crud.page(session, stmt, RoutingDecision, limit=limit, cursor=cursor)


async def queue(
    session: AsyncSession, branch_id: uuid.UUID | None, *, limit: int, cursor: str | None
) -> tuple[list[QueuedTicketRead], str | None]:
    """The tickets waiting in a branch's queue (``None``: in no branch's, as no branch covers
    their region), in id order, with the decision that queued them."""
    stmt = select(Ticket).where(Ticket.queued_at.is_not(None))
    stmt = stmt.where(
        Ticket.queue_branch_id == branch_id if branch_id else Ticket.queue_branch_id.is_(None)
    )
    rows, next_cursor = await crud.page(session, stmt, Ticket, limit=limit, cursor=cursor)
    reasons: dict[uuid.UUID, dict] = {}
    if rows:
        latest = (
            select(RoutingDecision.ticket_id, RoutingDecision.reason)
            .where(
                RoutingDecision.ticket_id.in_([t.id for t in rows]),
                RoutingDecision.outcome == "queued",
            )
            .order_by(RoutingDecision.decided_at)
        )
        reasons = {r.ticket_id: r.reason for r in await session.execute(latest)}
    items = [
        QueuedTicketRead(
            ticket_id=t.id,
            ticket_number=t.number,
            subject=t.subject,
            severity=t.severity,
            region=t.region,
            product=t.product,
            tier=t.tier,
            queued_at=t.queued_at,
            evaluated_at=t.evaluated_at,
            reason=reasons.get(t.id),
        )
        for t in rows
    ]
    return items, next_cursor


async def escalations(
    session: AsyncSession, *, ticket_id: uuid.UUID | None, limit: int, cursor: str | None
) -> tuple[list[Escalation], str | None]:
    stmt = select(Escalation)
    if ticket_id is not None:
        stmt = stmt.where(Escalation.ticket_id == ticket_id)
    return await crud.page(session, stmt, Escalation, limit=limit, cursor=cursor)


async def vendor_cases(
    session: AsyncSession,
    *,
    ticket_id: uuid.UUID | None,
    vendor_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[VendorCase], str | None]:
    stmt = select(VendorCase)
    if ticket_id is not None:
        stmt = stmt.where(VendorCase.ticket_id == ticket_id)
    if vendor_id is not None:
        stmt = stmt.where(VendorCase.vendor_id == vendor_id)
    if status is not None:
        stmt = stmt.where(VendorCase.status == status)
    return await crud.page(session, stmt, VendorCase, limit=limit, cursor=cursor)
