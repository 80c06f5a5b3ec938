"""Use cases for weekly shifts, dated exceptions and the on-call rota. Routes commit.

Every write here changes the roster, so the roster trigger bumps its version and wakes the
queue re-evaluation (a new shift or on-call slot may let a waiting ticket be assigned).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from dispatch import crud
from dispatch.crud import M
from dispatch.models import Branch, Engineer, OnCall, Shift, ShiftException
from dispatch.schemas import (
    OnCallCreate,
    OnCallUpdate,
    ShiftCreate,
    ShiftExceptionCreate,
    ShiftExceptionUpdate,
    ShiftUpdate,
)
from shared import http
from shared.http import NotFound


class ShiftNotFound(NotFound):
    type = "shift-not-found"
    title = "Shift not found"


class ShiftExceptionNotFound(NotFound):
    type = "shift-exception-not-found"
    title = "Shift exception not found"


class OnCallNotFound(NotFound):
    type = "oncall-not-found"
    title = "On-call slot not found"


class InvalidPeriod(http.Problem):
    status = 422
    type = "invalid-period"
    title = "The period ends before it starts"


class NotInBranch(crud.InvalidReference):
    type = "engineer-not-in-branch"
    title = "The engineer does not belong to the branch"


# ---- weekly shifts ------------------------------------------------------------------------


async def create_shift(session: AsyncSession, body: ShiftCreate) -> Shift:
    engineer = await crud.must_exist(session, Engineer, body.engineer_id, "engineer_id")
    time_zone = body.time_zone
    if time_zone is None:
        time_zone = (await session.get(Branch, engineer.branch_id)).time_zone
    row = Shift(**body.model_dump(exclude={"time_zone"}), time_zone=time_zone)
    return await _insert(session, row)


async def get_shift(session: AsyncSession, shift_id: uuid.UUID) -> Shift:
    return await crud.get(session, Shift, shift_id, ShiftNotFound)


async def update_shift(
    session: AsyncSession, shift_id: uuid.UUID, body: ShiftUpdate, *, if_match: str | None
) -> Shift:
    row = await crud.get(session, Shift, shift_id, ShiftNotFound, for_update=True)
    changes = body.model_dump(exclude_unset=True)
    if "weekdays" in changes:
        changes["weekdays"] = sorted(set(changes["weekdays"]))
    valid_from = changes.get("valid_from", row.valid_from)
    valid_until = changes.get("valid_until", row.valid_until)
    if valid_from and valid_until and valid_until < valid_from:
        raise InvalidPeriod("valid_until is before valid_from")
    return await crud.update(session, row, changes, if_match=if_match)


async def list_shifts(
    session: AsyncSession,
    *,
    engineer_id: uuid.UUID | None,
    branch_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Shift], str | None]:
    stmt = select(Shift)
    if engineer_id is not None:
        stmt = stmt.where(Shift.engineer_id == engineer_id)
    if branch_id is not None:
        stmt = stmt.where(
            Shift.engineer_id.in_(select(Engineer.id).where(Engineer.branch_id == branch_id))
        )
    return await crud.page(session, stmt, Shift, limit=limit, cursor=cursor)


async def delete_shift(session: AsyncSession, shift_id: uuid.UUID, *, if_match: str | None) -> None:
    await _delete(session, Shift, shift_id, ShiftNotFound, if_match)


# ---- exceptions ---------------------------------------------------------------------------


async def create_exception(session: AsyncSession, body: ShiftExceptionCreate) -> ShiftException:
    if body.engineer_id is not None:
        await crud.must_exist(session, Engineer, body.engineer_id, "engineer_id")
    if body.branch_id is not None:
        await crud.must_exist(session, Branch, body.branch_id, "branch_id")
    return await _insert(session, ShiftException(**body.model_dump()))


async def get_exception(session: AsyncSession, exception_id: uuid.UUID) -> ShiftException:
    return await crud.get(session, ShiftException, exception_id, ShiftExceptionNotFound)


async def update_exception(
    session: AsyncSession,
    exception_id: uuid.UUID,
    body: ShiftExceptionUpdate,
    *,
    if_match: str | None,
) -> ShiftException:
    row = await crud.get(
        session, ShiftException, exception_id, ShiftExceptionNotFound, for_update=True
    )
    changes = body.model_dump(exclude_unset=True)
    _check_period(changes.get("starts_at", row.starts_at), changes.get("ends_at", row.ends_at))
    return await crud.update(session, row, changes, if_match=if_match)


async def list_exceptions(
    session: AsyncSession,
    *,
    engineer_id: uuid.UUID | None,
    branch_id: uuid.UUID | None,
    active_at: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[ShiftException], str | None]:
    stmt = select(ShiftException)
    if engineer_id is not None:
        stmt = stmt.where(ShiftException.engineer_id == engineer_id)
    if branch_id is not None:
        stmt = stmt.where(ShiftException.branch_id == branch_id)
    if active_at is not None:
        stmt = stmt.where(ShiftException.starts_at <= active_at, ShiftException.ends_at > active_at)
    return await crud.page(session, stmt, ShiftException, limit=limit, cursor=cursor)


async def delete_exception(
    session: AsyncSession, exception_id: uuid.UUID, *, if_match: str | None
) -> None:
    await _delete(session, ShiftException, exception_id, ShiftExceptionNotFound, if_match)


# ---- on-call rota -------------------------------------------------------------------------


async def create_oncall(session: AsyncSession, body: OnCallCreate) -> OnCall:
    await crud.must_exist(session, Branch, body.branch_id, "branch_id")
    engineer = await crud.must_exist(session, Engineer, body.engineer_id, "engineer_id")
    if engineer.branch_id != body.branch_id:
        raise NotInBranch(f"engineer {engineer.name} belongs to another branch")
    return await _insert(session, OnCall(**body.model_dump()))


async def get_oncall(session: AsyncSession, oncall_id: uuid.UUID) -> OnCall:
    return await crud.get(session, OnCall, oncall_id, OnCallNotFound)


async def update_oncall(
    session: AsyncSession, oncall_id: uuid.UUID, body: OnCallUpdate, *, if_match: str | None
) -> OnCall:
    row = await crud.get(session, OnCall, oncall_id, OnCallNotFound, for_update=True)
    changes = body.model_dump(exclude_unset=True)
    _check_period(changes.get("starts_at", row.starts_at), changes.get("ends_at", row.ends_at))
    if changes.get("engineer_id") not in (None, row.engineer_id):
        engineer = await crud.must_exist(session, Engineer, changes["engineer_id"], "engineer_id")
        if engineer.branch_id != row.branch_id:
            raise NotInBranch(f"engineer {engineer.name} belongs to another branch")
    return await crud.update(session, row, changes, if_match=if_match)


async def list_oncall(
    session: AsyncSession,
    *,
    branch_id: uuid.UUID | None,
    engineer_id: uuid.UUID | None,
    active_at: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[OnCall], str | None]:
    stmt = select(OnCall)
    if branch_id is not None:
        stmt = stmt.where(OnCall.branch_id == branch_id)
    if engineer_id is not None:
        stmt = stmt.where(OnCall.engineer_id == engineer_id)
    if active_at is not None:
        stmt = stmt.where(OnCall.starts_at <= active_at, OnCall.ends_at > active_at)
    return await crud.page(session, stmt, OnCall, limit=limit, cursor=cursor)


async def delete_oncall(
    session: AsyncSession, oncall_id: uuid.UUID, *, if_match: str | None
) -> None:
    await _delete(session, OnCall, oncall_id, OnCallNotFound, if_match)


# ---- helpers ------------------------------------------------------------------------------


def _check_period(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidPeriod("ends_at must be after starts_at")


async def _insert(session: AsyncSession, row: M) -> M:
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def _delete(
    session: AsyncSession,
    model: type[SQLModel],
    id_: uuid.UUID,
    missing: type[http.Problem],
    if_match: str | None,
) -> None:
    row = await crud.get(session, model, id_, missing, for_update=True)
    if if_match is not None:
        http.check_if_match(if_match, row.version)  # type: ignore[attr-defined]
    await session.execute(delete(model).where(model.id == id_))  # type: ignore[attr-defined]
