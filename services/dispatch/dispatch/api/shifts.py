"""/v1/shifts: weekly duty hours, /v1/shifts/exceptions and the /v1/shifts/oncall rota."""

import uuid

from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime

from dispatch import shifts
from dispatch.api.common import PROBLEMS, create, tag
from dispatch.api.deps import Cursor, IdempotencyKey, IfMatch, Limit, ManagerDep, StaffDep
from dispatch.schemas import (
    OnCallCreate,
    OnCallPage,
    OnCallRead,
    OnCallUpdate,
    ShiftCreate,
    ShiftExceptionCreate,
    ShiftExceptionPage,
    ShiftExceptionRead,
    ShiftExceptionUpdate,
    ShiftPage,
    ShiftRead,
    ShiftUpdate,
)
from shared.deps import SessionDep

router = APIRouter(prefix="/shifts", tags=["shifts"], responses=PROBLEMS)

# The fixed sub-paths come before /{shift_id}, which would otherwise swallow them.


@router.post("/exceptions", status_code=201, response_model=ShiftExceptionRead)
async def create_shift_exception(
    body: ShiftExceptionCreate,
    request: Request,
    session: SessionDep,
    actor: ManagerDep,
    idempotency_key: IdempotencyKey = None,
):
    """Record leave or extra duty of an engineer, or a closure of a branch (managers)."""

    async def run():
        row = await shifts.create_exception(session, body)
        return (
            ShiftExceptionRead.model_validate(row),
            f"/v1/shifts/exceptions/{row.id}",
            row.version,
        )

    return await create(request, session, actor, idempotency_key, run)


@router.get("/exceptions", response_model=ShiftExceptionPage)
async def list_shift_exceptions(
    session: SessionDep,
    actor: StaffDep,
    engineer_id: uuid.UUID | None = None,
    branch_id: uuid.UUID | None = None,
    active_at: AwareDatetime | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Exceptions, filtered by engineer, branch or a moment they cover."""
    rows, next_cursor = await shifts.list_exceptions(
        session,
        engineer_id=engineer_id,
        branch_id=branch_id,
        active_at=active_at,
        limit=limit,
        cursor=cursor,
    )
    items = [ShiftExceptionRead.model_validate(r) for r in rows]
    return ShiftExceptionPage(items=items, next_cursor=next_cursor)


@router.get("/exceptions/{exception_id}", response_model=ShiftExceptionRead)
async def get_shift_exception(
    exception_id: uuid.UUID, response: Response, session: SessionDep, actor: StaffDep
):
    """One exception."""
    row = await shifts.get_exception(session, exception_id)
    tag(response, row.version)
    return row


@router.patch("/exceptions/{exception_id}", response_model=ShiftExceptionRead)
async def update_shift_exception(
    exception_id: uuid.UUID,
    body: ShiftExceptionUpdate,
    response: Response,
    session: SessionDep,
    actor: ManagerDep,
    if_match: IfMatch = None,
):
    """Move or explain an exception (managers; If-Match)."""
    row = await shifts.update_exception(session, exception_id, body, if_match=if_match)
    await session.commit()
    tag(response, row.version)
    return row


@router.delete("/exceptions/{exception_id}", status_code=204)
async def delete_shift_exception(
    exception_id: uuid.UUID, session: SessionDep, actor: ManagerDep, if_match: IfMatch = None
):
    """Remove an exception (managers)."""
    await shifts.delete_exception(session, exception_id, if_match=if_match)
    await session.commit()
    return Response(status_code=204)


@router.post("/oncall", status_code=201, response_model=OnCallRead)
async def create_oncall_slot(
    body: OnCallCreate,
    request: Request,
    session: SessionDep,
    actor: ManagerDep,
    idempotency_key: IdempotencyKey = None,
):
    """Put an engineer on the branch's on-call rota for a period (managers)."""

    async def run():
        row = await shifts.create_oncall(session, body)
        return OnCallRead.model_validate(row), f"/v1/shifts/oncall/{row.id}", row.version

    return await create(request, session, actor, idempotency_key, run)


@router.get("/oncall", response_model=OnCallPage)
async def list_oncall_slots(
    session: SessionDep,
    actor: StaffDep,
    branch_id: uuid.UUID | None = None,
    engineer_id: uuid.UUID | None = None,
    active_at: AwareDatetime | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """The on-call rota, filtered by branch, engineer or a moment it covers."""
    rows, next_cursor = await shifts.list_oncall(
        session,
        branch_id=branch_id,
        engineer_id=engineer_id,
        active_at=active_at,
        limit=limit,
        cursor=cursor,
    )
    return OnCallPage(items=[OnCallRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/oncall/{oncall_id}", response_model=OnCallRead)
async def get_oncall_slot(
    oncall_id: uuid.UUID, response: Response, session: SessionDep, actor: StaffDep
):
    """One on-call slot."""
    row = await shifts.get_oncall(session, oncall_id)
    tag(response, row.version)
    return row


@router.patch("/oncall/{oncall_id}", response_model=OnCallRead)
async def update_oncall_slot(
    oncall_id: uuid.UUID,
    body: OnCallUpdate,
    response: Response,
    session: SessionDep,
    actor: ManagerDep,
    if_match: IfMatch = None,
):
    """Swap the engineer or move the slot (managers; If-Match)."""
    row = await shifts.update_oncall(session, oncall_id, body, if_match=if_match)
    await session.commit()
    tag(response, row.version)
    return row


@router.delete("/oncall/{oncall_id}", status_code=204)
async def delete_oncall_slot(
    oncall_id: uuid.UUID, session: SessionDep, actor: ManagerDep, if_match: IfMatch = None
):
    """Remove an on-call slot (managers)."""
    await shifts.delete_oncall(session, oncall_id, if_match=if_match)
    await session.commit()
    return Response(status_code=204)


@router.post("", status_code=201, response_model=ShiftRead)
async def create_shift(
    body: ShiftCreate,
    request: Request,
    session: SessionDep,
    actor: ManagerDep,
    idempotency_key: IdempotencyKey = None,
):
    """Give an engineer weekly duty hours (managers); the zone defaults to the branch's."""

    async def run():
        row = await shifts.create_shift(session, body)
        return ShiftRead.model_validate(row), f"/v1/shifts/{row.id}", row.version

    return await create(request, session, actor, idempotency_key, run)


@router.get("", response_model=ShiftPage)
async def list_shifts(
    session: SessionDep,
    actor: StaffDep,
    engineer_id: uuid.UUID | None = None,
    branch_id: uuid.UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Weekly shifts, filtered by engineer or branch."""
    rows, next_cursor = await shifts.list_shifts(
        session, engineer_id=engineer_id, branch_id=branch_id, limit=limit, cursor=cursor
    )
    return ShiftPage(items=[ShiftRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{shift_id}", response_model=ShiftRead)
async def get_shift(shift_id: uuid.UUID, response: Response, session: SessionDep, actor: StaffDep):
    """One weekly shift."""
    row = await shifts.get_shift(session, shift_id)
    tag(response, row.version)
    return row


@router.patch("/{shift_id}", response_model=ShiftRead)
async def update_shift(
    shift_id: uuid.UUID,
    body: ShiftUpdate,
    response: Response,
    session: SessionDep,
    actor: ManagerDep,
    if_match: IfMatch = None,
):
    """Change a weekly shift (managers; If-Match)."""
    row = await shifts.update_shift(session, shift_id, body, if_match=if_match)
    await session.commit()
    tag(response, row.version)
    return row


@router.delete("/{shift_id}", status_code=204)
async def delete_shift(
    shift_id: uuid.UUID, session: SessionDep, actor: ManagerDep, if_match: IfMatch = None
):
    """Remove a weekly shift (managers)."""
    await shifts.delete_shift(session, shift_id, if_match=if_match)
    await session.commit()
    return Response(status_code=204)
