"""/v1/assignments: who works on a ticket and why; the engineer's actions; a manager's moves;
escalations (/v1/assignments/escalations) and routing decisions (/v1/assignments/decisions)."""

import uuid

from fastapi import APIRouter, Query, Request, Response

from dispatch import actions, escalations, queries
from dispatch.api.common import PROBLEMS, create, tag
from dispatch.api.deps import Cursor, IdempotencyKey, IfMatch, Limit, ManagerDep, StaffDep
from dispatch.assignments import Cause, NotYourAssignment
from dispatch.schemas import (
    AssignmentCreate,
    AssignmentPage,
    AssignmentRead,
    CheckInBody,
    DecisionPage,
    DecisionRead,
    EscalationCreate,
    EscalationPage,
    EscalationRead,
    QueuedTicketPage,
    ReasonBody,
    ReassignBody,
    VisitRead,
)
from shared.deps import SessionDep

router = APIRouter(prefix="/assignments", tags=["assignments"], responses=PROBLEMS)


async def _answer(session, response: Response, assignment_id: uuid.UUID) -> AssignmentRead:
    read = await queries.assignment(session, assignment_id)
    tag(response, read.version)
    return read


@router.get("", response_model=AssignmentPage)
async def list_assignments(
    session: SessionDep,
    actor: StaffDep,
    ticket_id: uuid.UUID | None = None,
    engineer_id: uuid.UUID | None = None,
    mine: bool = Query(False, description="Only the caller's own (as an engineer)"),
    status: str | None = None,
    active: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Assignments, filtered by ticket, engineer, status or whether they are active."""
    items, next_cursor = await queries.assignments(
        session,
        ticket_id=ticket_id,
        engineer_id=engineer_id,
        user_id=actor.sub if mine else None,
        status=status,
        active=active,
        limit=limit,
        cursor=cursor,
    )
    return AssignmentPage(items=items, next_cursor=next_cursor)


@router.post("", status_code=201, response_model=AssignmentRead)
async def create_assignment(
    body: AssignmentCreate,
    request: Request,
    session: SessionDep,
    actor: ManagerDep,
    idempotency_key: IdempotencyKey = None,
):
    """Give a ticket to an engineer by hand (managers); its current engineer, if any, is
    relieved. The engineer must be active, of the ticket's tier and under capacity."""

    async def run():
        row = await actions.assign_manually(
            session, body.ticket_id, body.engineer_id, actor=actor, reason=body.reason
        )
        read = (await queries.assignment_reads(session, [row], detail=True))[0]
        return read, f"/v1/assignments/{row.id}", row.version

    return await create(request, session, actor, idempotency_key, run)


@router.get("/decisions", response_model=DecisionPage)
async def list_routing_decisions(
    session: SessionDep,
    actor: StaffDep,
    ticket_id: uuid.UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Routing decisions with their full reason, e.g. why a ticket waits in a queue."""
    rows, next_cursor = await queries.decisions(
        session, ticket_id=ticket_id, limit=limit, cursor=cursor
    )
    return DecisionPage(
        items=[DecisionRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.post("/escalations", status_code=201, response_model=EscalationRead)
async def create_escalation(
    body: EscalationCreate,
    request: Request,
    session: SessionDep,
    actor: StaffDep,
    idempotency_key: IdempotencyKey = None,
):
    """Escalate a ticket one tier (managers, or an engineer working on it): tier 1 → 2 routes
    it to headquarters with the branch engineer still attached; 2 → 3 opens a vendor case."""

    async def run():
        if not await escalations.may_escalate(session, body.ticket_id, actor):
            raise NotYourAssignment("only a manager or an engineer working on it may escalate")
        row = await escalations.escalate(
            session,
            body.ticket_id,
            trigger=body.trigger,
            reason=body.reason,
            cause=Cause(actor=actor),
            vendor_id=body.vendor_id,
            vendor_case_ref=body.vendor_case_ref,
        )
        return EscalationRead.model_validate(row), f"/v1/assignments/escalations/{row.id}", None

    return await create(request, session, actor, idempotency_key, run)


@router.get("/escalations", response_model=EscalationPage)
async def list_escalations(
    session: SessionDep,
    actor: StaffDep,
    ticket_id: uuid.UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Escalations with their trigger and reason."""
    rows, next_cursor = await queries.escalations(
        session, ticket_id=ticket_id, limit=limit, cursor=cursor
    )
    return EscalationPage(
        items=[EscalationRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/unrouted", response_model=QueuedTicketPage)
async def list_unrouted_tickets(
    session: SessionDep, actor: StaffDep, limit: Limit = 50, cursor: Cursor = None
):
    """Tickets waiting because no branch of their tier covers their region."""
    items, next_cursor = await queries.queue(session, None, limit=limit, cursor=cursor)
    return QueuedTicketPage(items=items, next_cursor=next_cursor)


@router.get("/{assignment_id}", response_model=AssignmentRead)
async def get_assignment(
    assignment_id: uuid.UUID, response: Response, session: SessionDep, actor: StaffDep
):
    """One assignment with the routing decision behind it (every candidate considered, why
    each was excluded or how it scored, the winner), its reminders and visits."""
    return await _answer(session, response, assignment_id)


@router.post("/{assignment_id}/accept", response_model=AssignmentRead)
async def accept_assignment(
    assignment_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: StaffDep,
    if_match: IfMatch = None,
):
    """The engineer takes the ticket: the first response (`ticket.acknowledged`)."""
    await actions.accept(session, assignment_id, actor=actor, if_match=if_match)
    await session.commit()
    return await _answer(session, response, assignment_id)


@router.post("/{assignment_id}/decline", response_model=AssignmentRead)
async def decline_assignment(
    assignment_id: uuid.UUID,
    body: ReasonBody,
    response: Response,
    session: SessionDep,
    actor: StaffDep,
    if_match: IfMatch = None,
):
    """The engineer refuses, with a reason; the ticket goes to the next candidate."""
    await actions.decline(
        session, assignment_id, actor=actor, reason=body.reason, if_match=if_match
    )
    await session.commit()
    return await _answer(session, response, assignment_id)


@router.post("/{assignment_id}/hand-back", response_model=AssignmentRead)
async def hand_back_assignment(
    assignment_id: uuid.UUID,
    body: ReasonBody,
    response: Response,
    session: SessionDep,
    actor: StaffDep,
    if_match: IfMatch = None,
):
    """The engineer gives an accepted ticket back, with a reason; it is routed again."""
    await actions.hand_back(
        session, assignment_id, actor=actor, reason=body.reason, if_match=if_match
    )
    await session.commit()
    return await _answer(session, response, assignment_id)


@router.post("/{assignment_id}/check-in", status_code=201, response_model=VisitRead)
async def check_in_on_site(
    assignment_id: uuid.UUID,
    body: CheckInBody,
    request: Request,
    session: SessionDep,
    actor: StaffDep,
    idempotency_key: IdempotencyKey = None,
):
    """The engineer arrived on site (`visit.checked_in`), with time and optional position."""

    async def run():
        visit = await actions.check_in(
            session,
            assignment_id,
            actor=actor,
            checked_in_at=body.checked_in_at,
            latitude=body.latitude,
            longitude=body.longitude,
            workorder_id=body.workorder_id,
            note=body.note,
        )
        return VisitRead.model_validate(visit), f"/v1/assignments/{assignment_id}", None

    return await create(request, session, actor, idempotency_key, run)


@router.post("/{assignment_id}/reassign", response_model=AssignmentRead | None)
async def reassign_assignment(
    assignment_id: uuid.UUID,
    body: ReassignBody,
    response: Response,
    session: SessionDep,
    actor: ManagerDep,
    if_match: IfMatch = None,
):
    """Move the ticket to another engineer (managers): the one named, or the rules' next
    choice. Answers the new assignment, or null if the ticket now waits in its queue."""
    row = await actions.reassign(
        session, assignment_id, body.engineer_id, actor=actor, reason=body.reason, if_match=if_match
    )
    await session.commit()
    if row is None:
        return None
    return await _answer(session, response, row.id)
