"""/v1/vendors"""

import uuid

from fastapi import APIRouter, Request, Response

from dispatch import vendors
from dispatch.api.common import PROBLEMS, create, tag
from dispatch.api.deps import Cursor, IdempotencyKey, IfMatch, Limit, ManagerDep, StaffDep
from dispatch.schemas import VendorCreate, VendorPage, VendorRead, VendorUpdate
from shared.deps import SessionDep

router = APIRouter(prefix="/vendors", tags=["vendors"], responses=PROBLEMS)


@router.post("", status_code=201, response_model=VendorRead)
async def create_vendor(
    body: VendorCreate,
    request: Request,
    session: SessionDep,
    actor: ManagerDep,
    idempotency_key: IdempotencyKey = None,
):
    """Register a vendor for tier-3 escalation (managers)."""

    async def run():
        row = await vendors.create(session, body)
        return VendorRead.model_validate(row), f"/v1/vendors/{row.id}", row.version

    return await create(request, session, actor, idempotency_key, run)


@router.get("", response_model=VendorPage)
async def list_vendors(
    session: SessionDep,
    actor: StaffDep,
    product: str | None = None,
    active: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Vendors, filtered by a product they support."""
    rows, next_cursor = await vendors.list_(
        session, product=product, active=active, limit=limit, cursor=cursor
    )
    return VendorPage(items=[VendorRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{vendor_id}", response_model=VendorRead)
async def get_vendor(
    vendor_id: uuid.UUID, response: Response, session: SessionDep, actor: StaffDep
):
    """One vendor."""
    row = await vendors.get(session, vendor_id)
    tag(response, row.version)
    return row


@router.patch("/{vendor_id}", response_model=VendorRead)
async def update_vendor(
    vendor_id: uuid.UUID,
    body: VendorUpdate,
    response: Response,
    session: SessionDep,
    actor: ManagerDep,
    if_match: IfMatch = None,
):
    """Change a vendor (managers; If-Match)."""
    row = await vendors.update(session, vendor_id, body, if_match=if_match)
    await session.commit()
    tag(response, row.version)
    return row
