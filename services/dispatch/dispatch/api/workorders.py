"""/v1/workorders: task orders, their approval, their service record, and printing."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from dispatch import printing, tickets, workorders
from dispatch.api.common import PROBLEMS, create, tag
from dispatch.api.deps import Cursor, IdempotencyKey, IfMatch, Limit, ManagerDep, StaffDep
from dispatch.models import Engineer
from dispatch.schemas import (
    ReasonBody,
    Review,
    ServiceRecordCreate,
    ServiceRecordRead,
    ServiceRecordUpdate,
    SignOff,
    WorkLogEntryCreate,
    WorkLogEntryRead,
    WorkorderCreate,
    WorkorderPage,
    WorkorderRead,
    WorkorderUpdate,
)
from dispatch.settings import Settings
from shared.deps import SessionDep

router = APIRouter(prefix="/workorders", tags=["workorders"], responses=PROBLEMS)

Language = Annotated[printing.Language, Query(description="zh-CN or en")]


def _zone(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.report_time_zone


async def _record_read(session, record) -> ServiceRecordRead:
    entries = await workorders.work_log(session, record.id)
    return ServiceRecordRead.model_validate(record).model_copy(
        update={"work_log": [WorkLogEntryRead.model_validate(e) for e in entries]}
    )


@router.post("", status_code=201, response_model=WorkorderRead)
async def create_workorder(
    body: WorkorderCreate,
    request: Request,
    session: SessionDep,
    actor: StaffDep,
    idempotency_key: IdempotencyKey = None,
):
    """Draft a task order for a ticket; customer details default to the ticket's."""

    async def run():
        row = await workorders.create(session, body, actor=actor, time_zone=_zone(request))
        return WorkorderRead.model_validate(row), f"/v1/workorders/{row.id}", row.version

    return await create(request, session, actor, idempotency_key, run)


@router.get("", response_model=WorkorderPage)
async def list_workorders(
    session: SessionDep,
    actor: StaffDep,
    ticket_id: uuid.UUID | None = None,
    status: str | None = None,
    engineer_id: uuid.UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Task orders, filtered by ticket, status or a team member."""
    rows, next_cursor = await workorders.list_(
        session,
        ticket_id=ticket_id,
        status=status,
        engineer_id=engineer_id,
        limit=limit,
        cursor=cursor,
    )
    return WorkorderPage(
        items=[WorkorderRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/{workorder_id}", response_model=WorkorderRead)
async def get_workorder(
    workorder_id: uuid.UUID, response: Response, session: SessionDep, actor: StaffDep
):
    """One task order."""
    row = await workorders.get(session, workorder_id)
    tag(response, row.version)
    return row


@router.patch("/{workorder_id}", response_model=WorkorderRead)
async def update_workorder(
    workorder_id: uuid.UUID,
    body: WorkorderUpdate,
    response: Response,
    session: SessionDep,
    actor: StaffDep,
    if_match: IfMatch = None,
):
    """Revise a draft, or a rejected order (it becomes a draft again); If-Match."""
    row = await workorders.update(session, workorder_id, body, if_match=if_match)
    await session.commit()
    tag(response, row.version)
    return row


@router.post("/{workorder_id}/approve", response_model=WorkorderRead)
async def approve_workorder(
    workorder_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    actor: ManagerDep,
    if_match: IfMatch = None,
):
    """Approve the task order (managers): it is issued (`workorder.created`)."""
    row = await workorders.approve(session, workorder_id, actor=actor, if_match=if_match)
    await session.commit()
    tag(response, row.version)
    return row


@router.post("/{workorder_id}/reject", response_model=WorkorderRead)
async def reject_workorder(
    workorder_id: uuid.UUID,
    body: ReasonBody,
    response: Response,
    session: SessionDep,
    actor: ManagerDep,
    if_match: IfMatch = None,
):
    """Reject the task order with a reason (managers)."""
    row = await workorders.reject(
        session, workorder_id, actor=actor, reason=body.reason, if_match=if_match
    )
    await session.commit()
    tag(response, row.version)
    return row


@router.get("/{workorder_id}/print", response_class=HTMLResponse)
async def print_workorder(
    workorder_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: StaffDep,
    lang: Language = "zh-CN",
):
    """The task order as a printable HTML page."""
    order = await workorders.get(session, workorder_id)
    names = await _names(session, order.engineer_ids)
    ticket = await tickets.load(session, order.ticket_id)
    html = printing.render(
        "workorder.html",
        language=lang,
        time_zone=_zone(request),
        order=order,
        ticket_number=ticket.number if ticket else "",
        leader=names.get(order.leader_engineer_id, str(order.leader_engineer_id)),
        members=[names.get(e, str(e)) for e in order.engineer_ids if e != order.leader_engineer_id],
    )
    return HTMLResponse(html)


@router.post("/{workorder_id}/record", status_code=201, response_model=ServiceRecordRead)
async def create_service_record(
    workorder_id: uuid.UUID,
    body: ServiceRecordCreate,
    request: Request,
    session: SessionDep,
    actor: StaffDep,
    idempotency_key: IdempotencyKey = None,
):
    """Start the service record of an approved task order (its team or a manager)."""

    async def run():
        row = await workorders.create_record(
            session, workorder_id, body, actor=actor, time_zone=_zone(request)
        )
        read = await _record_read(session, row)
        return read, f"/v1/workorders/{workorder_id}/record", row.version

    return await create(request, session, actor, idempotency_key, run)


@router.get("/{workorder_id}/record", response_model=ServiceRecordRead)
async def get_service_record(
    workorder_id: uuid.UUID, response: Response, session: SessionDep, actor: StaffDep
):
    """The task order's service record with its work log."""
    row = await workorders.record_of(session, workorder_id)
    tag(response, row.version)
    return await _record_read(session, row)


@router.patch("/{workorder_id}/record", response_model=ServiceRecordRead)
async def update_service_record(
    workorder_id: uuid.UUID,
    body: ServiceRecordUpdate,
    response: Response,
    session: SessionDep,
    actor: StaffDep,
    if_match: IfMatch = None,
):
    """Change the record until the customer signs it; If-Match."""
    row = await workorders.update_record(
        session, workorder_id, body, actor=actor, if_match=if_match
    )
    await session.commit()
    tag(response, row.version)
    return await _record_read(session, row)


@router.post("/{workorder_id}/record/entries", status_code=201, response_model=WorkLogEntryRead)
async def add_work_log_entry(
    workorder_id: uuid.UUID, body: WorkLogEntryCreate, session: SessionDep, actor: StaffDep
):
    """Add a step and its result to the work log."""
    entry = await workorders.add_entry(session, workorder_id, body, actor=actor)
    await session.commit()
    return entry


@router.post("/{workorder_id}/record/sign", response_model=ServiceRecordRead)
async def sign_service_record(
    workorder_id: uuid.UUID,
    body: SignOff,
    response: Response,
    session: SessionDep,
    actor: StaffDep,
    if_match: IfMatch = None,
):
    """Record the customer's sign-off: name, opinion, evaluation for remote work."""
    row = await workorders.sign(session, workorder_id, body, actor=actor, if_match=if_match)
    await session.commit()
    tag(response, row.version)
    return await _record_read(session, row)


@router.post("/{workorder_id}/record/review", response_model=ServiceRecordRead)
async def review_service_record(
    workorder_id: uuid.UUID,
    body: Review,
    response: Response,
    session: SessionDep,
    actor: ManagerDep,
    if_match: IfMatch = None,
):
    """The manager's review (managers). Signed and reviewed, the order is completed
    (`workorder.completed`)."""
    row = await workorders.review(
        session, workorder_id, actor=actor, comment=body.comment, if_match=if_match
    )
    await session.commit()
    tag(response, row.version)
    return await _record_read(session, row)


@router.get("/{workorder_id}/record/print", response_class=HTMLResponse)
async def print_service_record(
    workorder_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: StaffDep,
    lang: Language = "zh-CN",
):
    """The service record as a printable HTML page."""
    order = await workorders.get(session, workorder_id)
    record = await workorders.record_of(session, workorder_id)
    entries = await workorders.work_log(session, record.id)
    names = await _names(session, [record.engineer_id])
    ticket = await tickets.load(session, order.ticket_id)
    html = printing.render(
        "service_record.html",
        language=lang,
        time_zone=_zone(request),
        order=order,
        record=record,
        entries=entries,
        engineer=names.get(record.engineer_id, str(record.engineer_id)),
        ticket_number=ticket.number if ticket else "",
    )
    return HTMLResponse(html)


async def _names(session, ids) -> dict[uuid.UUID, str]:
    rows = await session.execute(select(Engineer.id, Engineer.name).where(Engineer.id.in_(ids)))
    return {r.id: r.name for r in rows}
