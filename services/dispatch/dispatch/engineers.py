"""Use cases for engineers and the on-duty question. They write rows; routes commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import any_, literal, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import crud, duty, roster, routing
from dispatch.models import Branch, Engineer, EngineerLoad
from dispatch.schemas import EngineerCreate, EngineerRead, EngineerUpdate, OnDutyRead
from shared.db import new_id
from shared.http import Conflict, NotFound


class EngineerNotFound(NotFound):
    type = "engineer-not-found"
    title = "Engineer not found"


class UserIdTaken(Conflict):
    type = "engineer-user-id-taken"
    title = "Another engineer has this user id"


class TierMismatch(crud.InvalidReference):
    type = "engineer-tier-mismatch"
    title = "An engineer's tier is their branch's tier"


class CapacityBelowOpen(Conflict):
    type = "capacity-below-open"
    title = "Capacity below the open assignments"


@dataclass
class EngineerView:
    engineer: Engineer
    load: EngineerLoad | None

    def read(self) -> EngineerRead:
        data = self.engineer.model_dump()
        if self.load is not None:
            data["open_count"] = self.load.open_count
            data["last_assigned_at"] = self.load.last_assigned_at
        return EngineerRead(**data)


async def create(session: AsyncSession, body: EngineerCreate) -> EngineerView:
    branch = await crud.must_exist(session, Branch, body.branch_id, "branch_id")
    tier = body.tier or branch.tier
    if tier != branch.tier:
        raise TierMismatch(f"tier {tier} in a tier-{branch.tier} branch")
    if body.id is not None and await session.get(Engineer, body.id) is not None:
        raise crud.IdTaken(f"an engineer with id {body.id} exists")
    row = Engineer(**body.model_dump(exclude={"tier", "id"}), tier=tier, id=body.id or new_id())
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise UserIdTaken(f"user id {body.user_id!r} already belongs to an engineer")
    load = EngineerLoad(engineer_id=row.id, open_count=0)
    session.add(load)
    await session.flush()
    await session.refresh(row)
    return EngineerView(row, load)


async def get(session: AsyncSession, engineer_id: uuid.UUID) -> EngineerView:
    row = await crud.get(session, Engineer, engineer_id, EngineerNotFound)
    return EngineerView(row, await session.get(EngineerLoad, engineer_id))


async def by_user(session: AsyncSession, user_id: str) -> Engineer | None:
    return (
        await session.execute(select(Engineer).where(Engineer.user_id == user_id))
    ).scalar_one_or_none()


async def update(
    session: AsyncSession, engineer_id: uuid.UUID, body: EngineerUpdate, *, if_match: str | None
) -> EngineerView:
    row = await crud.get(session, Engineer, engineer_id, EngineerNotFound, for_update=True)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("branch_id") not in (None, row.branch_id):
        branch = await crud.must_exist(session, Branch, changes["branch_id"], "branch_id")
        if branch.tier != row.tier:
            raise TierMismatch(
                f"a tier-{row.tier} engineer cannot move to a tier-{branch.tier} branch"
            )
    # The load row is locked so that no assignment slips in between the check and the change.
    load = (
        await session.execute(
            select(EngineerLoad).where(EngineerLoad.engineer_id == engineer_id).with_for_update()
        )
    ).scalar_one()
    if changes.get("max_open") is not None and changes["max_open"] < load.open_count:
        raise CapacityBelowOpen(
            f"{row.name} has {load.open_count} open assignments; reassign some before lowering "
            f"the capacity to {changes['max_open']}",
            open_count=load.open_count,
        )
    row = await crud.update(session, row, changes, if_match=if_match)
    return EngineerView(row, load)


async def list_(
    session: AsyncSession,
    *,
    branch_id: uuid.UUID | None,
    tier: int | None,
    active: bool | None,
    skill: str | None,
    user_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[EngineerView], str | None]:
    stmt = select(Engineer)
    if branch_id is not None:
        stmt = stmt.where(Engineer.branch_id == branch_id)
    if tier is not None:
        stmt = stmt.where(Engineer.tier == tier)
    if active is not None:
        stmt = stmt.where(Engineer.active == active)
    if skill is not None:
        stmt = stmt.where(literal(routing.normalise(skill)) == any_(Engineer.skills))
    if user_id is not None:
        stmt = stmt.where(Engineer.user_id == user_id)
    rows, next_cursor = await crud.page(session, stmt, Engineer, limit=limit, cursor=cursor)
    loads = await loads_of(session, [r.id for r in rows])
    return [EngineerView(r, loads.get(r.id)) for r in rows], next_cursor


async def loads_of(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, EngineerLoad]:
    if not ids:
        return {}
    result = await session.execute(select(EngineerLoad).where(EngineerLoad.engineer_id.in_(ids)))
    return {load.engineer_id: load for load in result.scalars()}


async def on_duty(
    session: AsyncSession, *, at: datetime, region: str | None, tier: int | None
) -> list[OnDutyRead]:
    """Active engineers on shift or on call at ``at``; with ``region``, only those of the
    branches covering it (most specific branch first), as routing would consider them."""
    now = (await session.execute(text("SELECT now()"))).scalar_one()
    if at >= now - roster.HISTORY:
        snapshot = await roster.current(session)
    else:
        snapshot = await roster.load(session, since=at)
    if region is not None:
        tiers = [tier] if tier is not None else [1, 2]
        branches = [b for t in tiers for b in snapshot.covering(tier=t, region=region)]
    else:
        branches = sorted(
            (b for b in snapshot.branches.values() if b.active and tier in (None, b.tier)),
            key=lambda b: (b.tier, b.name),
        )
    found: list[tuple[roster.EngineerInfo, duty.Duty, routing.Branch]] = []
    for branch in branches:
        for engineer_id in snapshot.by_branch.get(branch.id, ()):
            info = snapshot.engineers[engineer_id]
            if not info.active or (tier is not None and info.tier != tier):
                continue
            state = duty.duty_at(snapshot.schedule(engineer_id), at)
            if state.available:
                found.append((info, state, branch))
    loads = await loads_of(session, [info.id for info, _, _ in found])
    return [
        OnDutyRead(
            engineer_id=info.id,
            user_id=info.user_id,
            name=info.name,
            phone=info.phone,
            branch_id=branch.id,
            branch_name=branch.name,
            tier=info.tier,
            on_shift=state.on_shift,
            on_call=state.on_call,
            why=state.why,
            open_count=loads[info.id].open_count if info.id in loads else 0,
            max_open=info.max_open,
        )
        for info, state, branch in found
    ]
