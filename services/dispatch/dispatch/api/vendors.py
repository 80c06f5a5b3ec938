"""/v1/vendors"""

import uuid

from fastapi import APIRouter, Request, Response

from dispatch import crud, escalations, queries, vendors
from dispatch.api.common import PROBLEMS, create, tag
from dispatch.api.deps import Cursor, IdempotencyKey, IfMatch, Limit, ManagerDep, StaffDep
from dispatch.models import VendorCase
from dispatch.schemas import (
    VendorCasePage,
    VendorCaseRead,
    VendorCaseUpdate,
    VendorCreate,
    VendorPage,
    VendorRead,
    VendorUpdate,
)
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


@router.get("/cases", response_model=VendorCasePage)
async def list_vendor_cases(
    session: SessionDep,
    actor: StaffDep,
    ticket_id: uuid.UUID | None = None,
    vendor_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Tier-3 cases opened with vendors."""
    rows, next_cursor = await queries.vendor_cases(
        session, ticket_id=ticket_id, vendor_id=vendor_id, status=status, limit=limit, cursor=cursor
    )
    return VendorCasePage(
        items=[VendorCaseRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/cases/{case_id}", response_model=VendorCaseRead)
async def get_vendor_case(
    case_id: uuid.UUID, response: Response, session: SessionDep, actor: StaffDep
):
    """One vendor case."""
    row = await crud.get(session, VendorCase, case_id, escalations.VendorCaseNotFound)
    tag(response, row.version)
    return row


@router.patch("/cases/{case_id}", response_model=VendorCaseRead)
async def update_vendor_case(
    case_id: uuid.UUID,
    body: VendorCaseUpdate,
    response: Response,
    session: SessionDep,
    actor: ManagerDep,
    if_match: IfMatch = None,
):
    """Record the vendor's case reference, change the vendor, or close the case (managers)."""
    row = await escalations.update_vendor_case(
        session, case_id, body.model_dump(exclude_unset=True), if_match=if_match
    )
    await session.commit()
    tag(response, row.version)
    return row


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
