"""/v1/sla/schedules: recurring schedules (RFC 5545 RRULE) that emit schedule.due."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from shared import http
from sla_timer import schedules
from sla_timer.api.deps import (
    IdempotencyKey,
    IfMatch,
    ReaderDep,
    SessionDep,
    WriterDep,
    idempotent_create,
)
from sla_timer.models import Schedule
from sla_timer.schemas import ScheduleCreate, ScheduleRead, ScheduleUpdate

router = APIRouter(prefix="/sla/schedules", tags=["schedules"])
NOT_FOUND = {404: {"description": "No such schedule"}}


def read(row: Schedule) -> ScheduleRead:
    return ScheduleRead(**row.model_dump(), upcoming=schedules.upcoming(row))


@router.post("", status_code=201, response_model=ScheduleRead, responses={422: {}})
async def create_schedule(
    body: ScheduleCreate,
    request: Request,
    session: SessionDep,
    actor: WriterDep,
    idempotency_key: IdempotencyKey = None,
):
    """Create a schedule; the same Idempotency-Key and body replays the first answer."""

    async def create():
        row = await schedules.create(session, body, actor=actor)
        return read(row), f"/v1/sla/schedules/{row.id}", row.version

    return await idempotent_create(request, session, actor, idempotency_key, create)


@router.get("", response_model=http.Page[ScheduleRead])
async def list_schedules(
    session: SessionDep,
    actor: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    purpose: str | None = None,
    organization_id: uuid.UUID | None = None,
    contract_id: uuid.UUID | None = None,
):
    """Schedules, oldest first, filtered by purpose, organisation or contract."""
    rows, next_cursor = await schedules.page(
        session,
        limit=limit,
        cursor=cursor,
        purpose=purpose,
        organization_id=organization_id,
        contract_id=contract_id,
    )
    return http.Page[ScheduleRead](items=[read(r) for r in rows], next_cursor=next_cursor)


@router.get("/{schedule_id}", response_model=ScheduleRead, responses=NOT_FOUND)
async def get_schedule(
    schedule_id: uuid.UUID, response: Response, session: SessionDep, actor: ReaderDep
):
    """One schedule with its next occurrences."""
    row = await schedules.get(session, schedule_id)
    response.headers["ETag"] = http.etag(row.version)
    return read(row)


@router.patch("/{schedule_id}", response_model=ScheduleRead, responses={**NOT_FOUND, 412: {}})
async def update_schedule(
    schedule_id: uuid.UUID,
    body: ScheduleUpdate,
    response: Response,
    session: SessionDep,
    actor: WriterDep,
    if_match: IfMatch = None,
):
    """Change a schedule (If-Match); it counts on from now, fired occurrences stay fired."""
    row = await schedules.update(session, schedule_id, body, if_match=if_match)
    result = read(row)
    await session.commit()
    response.headers["ETag"] = http.etag(row.version)
    return result


@router.delete("/{schedule_id}", status_code=204, responses={**NOT_FOUND, 412: {}})
async def delete_schedule(
    schedule_id: uuid.UUID, session: SessionDep, actor: WriterDep, if_match: IfMatch = None
):
    """Delete a schedule (If-Match)."""
    await schedules.delete(session, schedule_id, if_match=if_match)
    await session.commit()
    return Response(status_code=204)
