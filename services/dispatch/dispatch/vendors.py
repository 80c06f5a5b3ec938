"""Use cases for vendors (tier 3). Routes commit."""

from __future__ import annotations

import uuid

from sqlalchemy import any_, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import crud, routing
from dispatch.crud import IdTaken
from dispatch.models import Vendor
from dispatch.schemas import VendorCreate, VendorUpdate
from shared.db import new_id
from shared.http import Conflict, NotFound


class VendorNotFound(NotFound):
    type = "vendor-not-found"
    title = "Vendor not found"


class VendorNameTaken(Conflict):
    type = "vendor-name-taken"
    title = "Another vendor has this name"


async def create(session: AsyncSession, body: VendorCreate) -> Vendor:
    if body.id is not None and await session.get(Vendor, body.id) is not None:
        raise IdTaken(f"a vendor with id {body.id} exists")
    row = Vendor(**body.model_dump(exclude={"id"}), id=body.id or new_id())
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise VendorNameTaken(f"vendor {body.name!r} exists")
    await session.refresh(row)
    return row


async def get(session: AsyncSession, vendor_id: uuid.UUID) -> Vendor:
    return await crud.get(session, Vendor, vendor_id, VendorNotFound)


async def update(
    session: AsyncSession, vendor_id: uuid.UUID, body: VendorUpdate, *, if_match: str | None
) -> Vendor:
    row = await crud.get(session, Vendor, vendor_id, VendorNotFound, for_update=True)
    try:
        return await crud.update(
            session, row, body.model_dump(exclude_unset=True), if_match=if_match
        )
    except IntegrityError:
        raise VendorNameTaken(f"vendor {body.name!r} exists")


async def list_(
    session: AsyncSession,
    *,
    product: str | None,
    active: bool | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Vendor], str | None]:
    stmt = select(Vendor)
    if product is not None:
        stmt = stmt.where(literal(routing.normalise(product)) == any_(Vendor.products))
    if active is not None:
        stmt = stmt.where(Vendor.active == active)
    return await crud.page(session, stmt, Vendor, limit=limit, cursor=cursor)


async def for_product(session: AsyncSession, product: str | None) -> Vendor | None:
    """The active vendor supporting ``product`` (the oldest, if several do)."""
    if not product:
        return None
    return (
        await session.execute(
            select(Vendor)
            .where(Vendor.active, literal(routing.normalise(product)) == any_(Vendor.products))
            .order_by(Vendor.id)
            .limit(1)
        )
    ).scalar_one_or_none()
