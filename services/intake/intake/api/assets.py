"""/v1/assets: the equipment archive."""

import uuid

from fastapi import APIRouter, Request, Response

from intake import register
from intake.api.deps import Admin, Cursor, IdempotencyKey, IfMatch, Limit, Reader
from intake.api.idempotency import run_once
from intake.schemas import AssetCreate, AssetRead, AssetUpdate
from shared.deps import SessionDep
from shared.http import Page, etag

router = APIRouter(prefix="/assets", tags=["register"])


@router.post("", status_code=201, response_model=AssetRead)
async def create_asset(
    body: AssetCreate,
    request: Request,
    session: SessionDep,
    actor: Admin,
    idempotency_key: IdempotencyKey = None,
):
    """Register a device by its serial number."""

    async def create():
        asset = await register.create_asset(session, body, actor=actor)
        read = await register.asset_read(session, asset)
        return 201, read, {"Location": f"/v1/assets/{asset.id}", "ETag": etag(asset.version)}

    return await run_once(request, session, actor, idempotency_key, create)


@router.get("", response_model=Page[AssetRead])
async def list_assets(
    session: SessionDep,
    actor: Reader,
    organization_id: uuid.UUID | None = None,
    serial: str | None = None,
    contract_id: uuid.UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Assets; ``?serial=`` finds a device by its serial number."""
    rows, next_cursor = await register.list_assets(
        session,
        actor=actor,
        organization_id=organization_id,
        serial=serial,
        contract_id=contract_id,
        limit=limit,
        cursor=cursor,
    )
    return Page(
        items=[await register.asset_read(session, r) for r in rows], next_cursor=next_cursor
    )


@router.get("/{asset_id}", response_model=AssetRead)
async def get_asset(asset_id: uuid.UUID, response: Response, session: SessionDep, actor: Reader):
    """One asset with its warranty, extended for long downtimes, and the reasons."""
    asset = await register.get_asset(session, asset_id, actor=actor)
    response.headers["ETag"] = etag(asset.version)
    return await register.asset_read(session, asset)


@router.patch("/{asset_id}", response_model=AssetRead)
async def update_asset(
    asset_id: uuid.UUID,
    body: AssetUpdate,
    response: Response,
    session: SessionDep,
    actor: Admin,
    if_match: IfMatch = None,
):
    """Change an asset (If-Match required)."""
    asset = await register.update_asset(session, asset_id, body, actor=actor, if_match=if_match)
    read = await register.asset_read(session, asset)
    await session.commit()
    response.headers["ETag"] = etag(asset.version)
    return read
