"""/v1/engineers"""

import uuid
from datetime import datetime

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from dispatch import engineers
from dispatch.api.common import PROBLEMS, create, tag
from dispatch.api.deps import Cursor, IdempotencyKey, IfMatch, Limit, ManagerDep, StaffDep
from dispatch.engineers import EngineerNotFound
from dispatch.schemas import EngineerCreate, EngineerPage, EngineerRead, EngineerUpdate, OnDutyList
from shared.db import utcnow
from shared.deps import SessionDep

router = APIRouter(prefix="/engineers", tags=["engineers"], responses=PROBLEMS)


@router.post("", status_code=201, response_model=EngineerRead)
async def create_engineer(
    body: EngineerCreate,
    request: Request,
    session: SessionDep,
    actor: ManagerDep,
    idempotency_key: IdempotencyKey = None,
):
    """Add an engineer to a branch (managers)."""

    async def run():
        view = await engineers.create(session, body)
        row = view.engineer
        return view.read(), f"/v1/engineers/{row.id}", row.version

    return await create(request, session, actor, idempotency_key, run)


@router.get("", response_model=EngineerPage)
async def list_engineers(
    session: SessionDep,
    actor: StaffDep,
    branch_id: uuid.UUID | None = None,
    tier: int | None = None,
    active: bool | None = None,
    skill: str | None = None,
    user_id: str | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Engineers, filtered by branch, tier, active flag, skill or login."""
    views, next_cursor = await engineers.list_(
        session,
        branch_id=branch_id,
        tier=tier,
        active=active,
        skill=skill,
        user_id=user_id,
        limit=limit,
        cursor=cursor,
    )
    return EngineerPage(items=[v.read() for v in views], next_cursor=next_cursor)


@router.get("/on-duty", response_model=OnDutyList)
async def list_engineers_on_duty(
    session: SessionDep,
    actor: StaffDep,
    at: AwareDatetime | None = Query(None, description="When; default now"),
    region: str | None = Query(None, description="Only branches covering this region"),
    tier: int | None = Query(None, ge=1, le=2),
):
    """Who is on shift or on call at a moment, and why."""
    moment: datetime = at or utcnow()
    items = await engineers.on_duty(session, at=moment, region=region, tier=tier)
    return OnDutyList(at=moment, region=region, items=items)


@router.get("/me", response_model=EngineerRead)
async def get_my_engineer(response: Response, session: SessionDep, actor: StaffDep):
    """The engineer record of the caller (their token's `sub` is its `user_id`)."""
    row = await engineers.by_user(session, actor.sub)
    if row is None:
        raise EngineerNotFound(f"no engineer has the user id {actor.sub!r}")
    view = await engineers.get(session, row.id)
    tag(response, row.version)
    return view.read()


@router.get("/{engineer_id}", response_model=EngineerRead)
async def get_engineer(
    engineer_id: uuid.UUID, response: Response, session: SessionDep, actor: StaffDep
):
    """One engineer with their open assignments."""
    view = await engineers.get(session, engineer_id)
    tag(response, view.engineer.version)
    return view.read()


@router.patch("/{engineer_id}", response_model=EngineerRead)
async def update_engineer(
    engineer_id: uuid.UUID,
    body: EngineerUpdate,
    response: Response,
    session: SessionDep,
    actor: ManagerDep,
    if_match: IfMatch = None,
):
    """Change an engineer (managers; If-Match). Capacity cannot go below their open work."""
    view = await engineers.update(session, engineer_id, body, if_match=if_match)
    await session.commit()
    tag(response, view.engineer.version)
    return view.read()
