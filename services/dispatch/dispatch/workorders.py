"""Use cases for task orders (维护与服务任务书) and their service records (维护与服务记录).

A task order is drafted (by an engineer or a manager) for a ticket with the task, the time
requirement, the customer's details (taken from the ticket unless given) and the team; a
manager approves it (``workorder.created``) or rejects it with a reason (a rejected order can be
revised into a draft again). The team records the work in one service record per order: the
problem, a work log, the method, parts; the customer signs it (with their opinion, or their
evaluation for remote work); a manager reviews it. Signed and reviewed, the order is completed
(``workorder.completed``), and the record no longer changes. Routes commit.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Uuid, any_, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import assignments, crud, engineers, states, tickets
from dispatch.assignments import Cause
from dispatch.emit import emit
from dispatch.models import Engineer, ServiceRecord, WorkLogEntry, Workorder
from dispatch.schemas import (
    ServiceRecordCreate,
    ServiceRecordUpdate,
    SignOff,
    WorkLogEntryCreate,
    WorkorderCreate,
    WorkorderUpdate,
)
from shared import events, http
from shared.auth import Actor, Forbidden
from shared.http import Conflict, NotFound


class WorkorderNotFound(NotFound):
    type = "workorder-not-found"
    title = "Task order not found"


class ServiceRecordNotFound(NotFound):
    type = "service-record-not-found"
    title = "The task order has no service record yet"


class IllegalWorkorderAction(Conflict):
    type = "illegal-workorder-action"
    title = "Not allowed in the task order's current state"


class ServiceRecordExists(Conflict):
    type = "service-record-exists"
    title = "The task order already has a service record"


class ServiceRecordSigned(Conflict):
    type = "service-record-signed"
    title = "The service record is signed and can no longer change"


class NotOnTeam(Forbidden):
    type = "not-on-team"
    title = "Only the task order's team or a manager may do this"


def today(time_zone: str) -> date:
    return datetime.now(ZoneInfo(time_zone)).date()


# ---- task orders --------------------------------------------------------------------------


async def create(
    session: AsyncSession, body: WorkorderCreate, *, actor: Actor, time_zone: str
) -> Workorder:
    ticket = await tickets.load(session, body.ticket_id)
    if ticket is None or ticket.details_seq == 0:
        raise assignments.TicketUnknown(f"dispatch has no ticket {body.ticket_id} (yet)")
    team = await _team(session, body.leader_engineer_id, body.engineer_ids)
    issue_date = body.issue_date or today(time_zone)
    n = (await session.execute(text("SELECT nextval('workorder_number_seq')"))).scalar_one()
    row = Workorder(
        number=f"TO-{issue_date:%Y}-{n:06d}",
        ticket_id=ticket.id,
        status="draft",
        issue_date=issue_date,
        due_at=body.due_at,
        task=body.task,
        product=body.product or ticket.product,
        site_address=body.site_address or ticket.site_address,
        customer_name=body.customer_name or ticket.organization_name,
        contract_number=body.contract_number or ticket.contract_number,
        contact_name=body.contact_name or ticket.contact_name,
        contact_phone=body.contact_phone or ticket.contact_phone,
        contact_fax=body.contact_fax,
        contact_email=body.contact_email or ticket.contact_email,
        leader_engineer_id=body.leader_engineer_id,
        engineer_ids=team,
        requested_by=actor.sub,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def _team(
    session: AsyncSession, leader: uuid.UUID, members: list[uuid.UUID]
) -> list[uuid.UUID]:
    team = list(dict.fromkeys([leader, *members]))
    found = set((await session.execute(select(Engineer.id).where(Engineer.id.in_(team)))).scalars())
    if missing := [str(e) for e in team if e not in found]:
        field = "leader_engineer_id" if leader not in found else "engineer_ids"
        raise crud.InvalidReference(f"{field}: no engineer {', '.join(missing)}")
    return team


async def get(session: AsyncSession, workorder_id: uuid.UUID, *, lock: bool = False) -> Workorder:
    return await crud.get(session, Workorder, workorder_id, WorkorderNotFound, for_update=lock)


async def list_(
    session: AsyncSession,
    *,
    ticket_id: uuid.UUID | None,
    status: str | None,
    engineer_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Workorder], str | None]:
    stmt = select(Workorder)
    if ticket_id is not None:
        stmt = stmt.where(Workorder.ticket_id == ticket_id)
    if status is not None:
        stmt = stmt.where(Workorder.status == status)
    if engineer_id is not None:
        stmt = stmt.where(literal(engineer_id, Uuid) == any_(Workorder.engineer_ids))
    return await crud.page(session, stmt, Workorder, limit=limit, cursor=cursor)


async def update(
    session: AsyncSession, workorder_id: uuid.UUID, body: WorkorderUpdate, *, if_match: str | None
) -> Workorder:
    """Revises a draft or a rejected order (which becomes a draft again)."""
    row = await get(session, workorder_id, lock=True)
    _move(row, "revise")
    changes = body.model_dump(exclude_unset=True)
    if "leader_engineer_id" in changes or "engineer_ids" in changes:
        changes["engineer_ids"] = await _team(
            session,
            changes.get("leader_engineer_id") or row.leader_engineer_id,
            changes.get("engineer_ids", row.engineer_ids),
        )
    changes.update(status="draft", reject_reason=None, decided_by=None, decided_at=None)
    return await crud.update(session, row, changes, if_match=if_match)


async def approve(
    session: AsyncSession, workorder_id: uuid.UUID, *, actor: Actor, if_match: str | None
) -> Workorder:
    """A manager approves the order: it is issued (``workorder.created``)."""
    row = await get(session, workorder_id, lock=True)
    _check(row, if_match)
    _move(row, "approve")
    row.status, row.decided_by, row.decided_at = "approved", actor.sub, datetime.now(UTC)
    row.version += 1
    await session.flush()
    ticket = await tickets.load(session, row.ticket_id)
    await emit(
        session,
        events.WorkorderCreated(
            subject=row.ticket_id,
            **Cause(actor=actor).envelope(),
            data=events.WorkorderCreatedData(
                ticket_id=row.ticket_id,
                ticket_number=ticket.number,
                workorder_id=row.id,
                workorder_number=row.number,
                task=row.task,
                site_address=row.site_address,
                due_at=row.due_at,
                leader_engineer_id=row.leader_engineer_id,
                engineer_ids=row.engineer_ids,
                requested_by=row.requested_by,
                approved_by=actor.sub,
                created_at=row.decided_at,
            ),
        ),
    )
    return row


async def reject(
    session: AsyncSession,
    workorder_id: uuid.UUID,
    *,
    actor: Actor,
    reason: str,
    if_match: str | None,
) -> Workorder:
    row = await get(session, workorder_id, lock=True)
    _check(row, if_match)
    _move(row, "reject")
    row.status, row.decided_by, row.decided_at = "rejected", actor.sub, datetime.now(UTC)
    row.reject_reason = reason
    row.version += 1
    await session.flush()
    return row


def _move(row: Workorder, action: states.WorkorderAction) -> None:
    try:
        states.workorder_next(row.status, action)
    except states.IllegalTransition as exc:
        raise IllegalWorkorderAction(str(exc), allowed=exc.allowed)


def _check(row: Workorder | ServiceRecord, if_match: str | None) -> None:
    if if_match is not None:
        http.check_if_match(if_match, row.version)


async def _on_team(session: AsyncSession, row: Workorder, actor: Actor) -> Engineer | None:
    """The caller's engineer record; agents must be on the order's team."""
    me = await engineers.by_user(session, actor.sub)
    if actor.role == "agent" and (me is None or me.id not in row.engineer_ids):
        raise NotOnTeam(f"you are not on the team of {row.number}")
    return me


# ---- service records ----------------------------------------------------------------------


async def create_record(
    session: AsyncSession,
    workorder_id: uuid.UUID,
    body: ServiceRecordCreate,
    *,
    actor: Actor,
    time_zone: str,
) -> ServiceRecord:
    order = await get(session, workorder_id, lock=True)
    _move(order, "record")
    me = await _on_team(session, order, actor)
    engineer_id = body.engineer_id or (me.id if me else order.leader_engineer_id)
    if engineer_id not in order.engineer_ids:
        raise crud.InvalidReference("engineer_id: not on the task order's team")
    existing = await session.execute(
        select(ServiceRecord.id).where(ServiceRecord.workorder_id == workorder_id)
    )
    if existing.first() is not None:
        raise ServiceRecordExists(f"{order.number} already has its service record")
    ticket = await tickets.load(session, order.ticket_id)
    row = ServiceRecord(
        workorder_id=order.id,
        ticket_id=order.ticket_id,
        engineer_id=engineer_id,
        service_date=body.service_date or today(time_zone),
        serial=body.serial or (ticket.serial if ticket else None),
        problem=body.problem,
        method=body.method,
        solved=body.solved,
        parts=body.parts,
        started_at=body.started_at,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def record_of(
    session: AsyncSession, workorder_id: uuid.UUID, *, lock: bool = False
) -> ServiceRecord:
    stmt = select(ServiceRecord).where(ServiceRecord.workorder_id == workorder_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        await get(session, workorder_id)
        raise ServiceRecordNotFound(f"task order {workorder_id} has no service record yet")
    return row


async def work_log(session: AsyncSession, record_id: uuid.UUID) -> list[WorkLogEntry]:
    result = await session.execute(
        select(WorkLogEntry)
        .where(WorkLogEntry.service_record_id == record_id)
        .order_by(WorkLogEntry.at, WorkLogEntry.id)
    )
    return list(result.scalars())


async def _editable(
    session: AsyncSession, workorder_id: uuid.UUID, actor: Actor
) -> tuple[Workorder, ServiceRecord]:
    order = await get(session, workorder_id, lock=True)
    record = await record_of(session, workorder_id, lock=True)
    await _on_team(session, order, actor)
    if record.signed_at is not None:
        raise ServiceRecordSigned(f"signed by {record.signed_by_name} at {record.signed_at}")
    return order, record


async def update_record(
    session: AsyncSession,
    workorder_id: uuid.UUID,
    body: ServiceRecordUpdate,
    *,
    actor: Actor,
    if_match: str | None,
) -> ServiceRecord:
    _, record = await _editable(session, workorder_id, actor)
    return await crud.update(
        session, record, body.model_dump(exclude_unset=True), if_match=if_match
    )


async def add_entry(
    session: AsyncSession, workorder_id: uuid.UUID, body: WorkLogEntryCreate, *, actor: Actor
) -> WorkLogEntry:
    _, record = await _editable(session, workorder_id, actor)
    entry = WorkLogEntry(
        service_record_id=record.id,
        at=body.at or datetime.now(UTC),
        text=body.text,
        author=actor.sub,
    )
    session.add(entry)
    record.version += 1
    await session.flush()
    await session.refresh(entry)
    return entry


async def sign(
    session: AsyncSession,
    workorder_id: uuid.UUID,
    body: SignOff,
    *,
    actor: Actor,
    if_match: str | None,
) -> ServiceRecord:
    """The customer signs the record (the engineer captures it, or a manager records it)."""
    order, record = await _editable(session, workorder_id, actor)
    _check(record, if_match)
    record.signed_by_name = body.customer_name
    record.customer_opinion = body.opinion
    record.evaluation = body.evaluation
    record.signed_at = body.signed_at or datetime.now(UTC)
    record.version += 1
    await session.flush()
    await _complete_if_done(session, order, record, actor)
    return record


async def review(
    session: AsyncSession,
    workorder_id: uuid.UUID,
    *,
    actor: Actor,
    comment: str | None,
    if_match: str | None,
) -> ServiceRecord:
    """A manager reviews the record (before or after the customer signs)."""
    order = await get(session, workorder_id, lock=True)
    record = await record_of(session, workorder_id, lock=True)
    _check(record, if_match)
    record.reviewed_by, record.review_comment = actor.sub, comment
    record.reviewed_at = datetime.now(UTC)
    record.version += 1
    await session.flush()
    await _complete_if_done(session, order, record, actor)
    return record


async def _complete_if_done(
    session: AsyncSession, order: Workorder, record: ServiceRecord, actor: Actor
) -> None:
    if record.signed_at is None or record.reviewed_at is None or order.status == "completed":
        return
    _move(order, "complete")
    order.status, order.completed_at = "completed", max(record.signed_at, record.reviewed_at)
    order.version += 1
    await session.flush()
    ticket = await tickets.load(session, order.ticket_id)
    entries = await work_log(session, record.id)
    log_text = "\n".join(f"{e.at.astimezone(UTC):%Y-%m-%d %H:%M}Z {e.text}" for e in entries)
    await emit(
        session,
        events.WorkorderCompleted(
            subject=order.ticket_id,
            **Cause(actor=actor).envelope(),
            data=events.WorkorderCompletedData(
                ticket_id=order.ticket_id,
                ticket_number=ticket.number,
                workorder_id=order.id,
                workorder_number=order.number,
                service_record_id=record.id,
                engineer_id=record.engineer_id,
                method=record.method,
                work_log=log_text or record.problem,
                solved=record.solved,
                parts=record.parts,
                customer_opinion=record.customer_opinion,
                customer_signed=True,
                started_at=record.started_at,
                completed_at=record.signed_at,
            ),
        ),
    )
