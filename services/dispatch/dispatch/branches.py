"""Use cases for branches. They write rows; routes commit."""

import uuid

from sqlalchemy import any_, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import crud
from dispatch.crud import IdTaken
from dispatch.models import Branch
from dispatch.schemas import BranchCreate, BranchUpdate
from shared.db import new_id
from shared.http import Conflict, NotFound


class BranchNotFound(NotFound):
    type = "branch-not-found"
    title = "Branch not found"


class BranchCodeTaken(Conflict):
    type = "branch-code-taken"
    title = "Another branch has this code"


async def create(session: AsyncSession, body: BranchCreate) -> Branch:
    if body.id is not None and await session.get(Branch, body.id) is not None:
        raise IdTaken(f"a branch with id {body.id} exists")
    row = Branch(**body.model_dump(exclude={"id"}), id=body.id or new_id())
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise BranchCodeTaken(f"branch code {body.code!r} is taken")
    await session.refresh(row)
    return row


async def get(session: AsyncSession, branch_id: uuid.UUID, *, for_update: bool = False) -> Branch:
    return await crud.get(session, Branch, branch_id, BranchNotFound, for_update=for_update)


async def update(
    session: AsyncSession, branch_id: uuid.UUID, body: BranchUpdate, *, if_match: str | None
) -> Branch:
    row = await get(session, branch_id, for_update=True)
    return await crud.update(session, row, body.model_dump(exclude_unset=True), if_match=if_match)


async def list_(
    session: AsyncSession,
    *,
    tier: int | None,
    active: bool | None,
    region: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Branch], str | None]:
    stmt = select(Branch)
    if tier is not None:
        stmt = stmt.where(Branch.tier == tier)
    if active is not None:
        stmt = stmt.where(Branch.active == active)
    if region is not None:
        stmt = stmt.where(literal(region.strip().upper()) == any_(Branch.regions))
    return await crud.page(session, stmt, Branch, limit=limit, cursor=cursor)
