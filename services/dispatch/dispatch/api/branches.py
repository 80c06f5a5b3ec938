"""/v1/branches"""

import uuid

from fastapi import APIRouter, Request, Response

from dispatch import branches, queries
from dispatch.api.common import PROBLEMS, create, tag
from dispatch.api.deps import Cursor, IdempotencyKey, IfMatch, Limit, ManagerDep, StaffDep
from dispatch.schemas import BranchCreate, BranchPage, BranchRead, BranchUpdate, QueuedTicketPage
from shared.deps import SessionDep

router = APIRouter(prefix="/branches", tags=["branches"], responses=PROBLEMS)


@router.post("", status_code=201, response_model=BranchRead)
async def create_branch(
    body: BranchCreate,
    request: Request,
    session: SessionDep,
    actor: ManagerDep,
    idempotency_key: IdempotencyKey = None,
):
    """Create a branch (managers)."""

    async def run():
        row = await branches.create(session, body)
        return BranchRead.model_validate(row), f"/v1/branches/{row.id}", row.version

    return await create(request, session, actor, idempotency_key, run)


@router.get("", response_model=BranchPage)
async def list_branches(
    session: SessionDep,
    actor: StaffDep,
    tier: int | None = None,
    active: bool | None = None,
    region: str | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Branches, filtered by tier, active flag or a region code they list."""
    rows, next_cursor = await branches.list_(
        session, tier=tier, active=active, region=region, limit=limit, cursor=cursor
    )
    return BranchPage(items=[BranchRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{branch_id}", response_model=BranchRead)
async def get_branch(
    branch_id: uuid.UUID, response: Response, session: SessionDep, actor: StaffDep
):
    """One branch."""
    row = await branches.get(session, branch_id)
    tag(response, row.version)
    return row


@router.patch("/{branch_id}", response_model=BranchRead)
async def update_branch(
    branch_id: uuid.UUID,
    body: BranchUpdate,
    response: Response,
    session: SessionDep,
    actor: ManagerDep,
    if_match: IfMatch = None,
):
    """Change a branch (managers; If-Match)."""
    row = await branches.update(session, branch_id, body, if_match=if_match)
    await session.commit()
    tag(response, row.version)
    return row


@router.get("/{branch_id}/queue", response_model=QueuedTicketPage)
async def list_branch_queue(
    branch_id: uuid.UUID,
    session: SessionDep,
    actor: StaffDep,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Tickets waiting in the branch's queue, each with the decision that queued it."""
    await branches.get(session, branch_id)
    items, next_cursor = await queries.queue(session, branch_id, limit=limit, cursor=cursor)
    return QueuedTicketPage(items=items, next_cursor=next_cursor)
