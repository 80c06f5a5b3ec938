"""Use cases for the customer register: organisations, contacts, contracts, assets.

Writes emit ``contact.upserted`` and ``asset.upserted`` for other services' projections.
Customers see only their own organisation: anything else is simply not found.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from intake import errors, phones, sql, warranty
from intake.models import Asset, Contact, ContactEmail, ContactPhone, Contract, Organization
from intake.schemas import (
    AssetCreate,
    AssetRead,
    AssetUpdate,
    ContactCreate,
    ContactRead,
    ContactUpdate,
    ContractCreate,
    ContractUpdate,
    OrganizationCreate,
    OrganizationUpdate,
    PhoneIn,
    PhoneRead,
    WarrantyExtensionRead,
    WarrantyRead,
)
from shared import events, outbox
from shared.auth import Actor
from shared.db import utcnow
from shared.http import check_if_match, keyset_page


def _visible(actor: Actor, org_id: uuid.UUID | None) -> bool:
    return actor.may_see_org(org_id)


async def _page(session: AsyncSession, stmt, model, *, limit: int, cursor: str | None):
    return await keyset_page(session, stmt, model.id, limit=limit, cursor=cursor, descending=True)


def _scope(stmt, model, actor: Actor, organization_id: uuid.UUID | None):
    if actor.is_customer:
        stmt = stmt.where(model.organization_id == actor.org)
    if organization_id is not None:
        stmt = stmt.where(model.organization_id == organization_id)
    return stmt


# Organisations ---------------------------------------------------------------------------


async def create_organization(session: AsyncSession, body: OrganizationCreate) -> Organization:
    values = body.model_dump(exclude_none=True)
    try:
        async with session.begin_nested():
            return (
                await session.execute(insert(Organization).values(**values).returning(Organization))
            ).scalar_one()
    except IntegrityError:
        raise errors.DuplicateValue(f"organisation {body.id} already exists")


async def get_organization(
    session: AsyncSession, org_id: uuid.UUID, *, actor: Actor, lock: bool = False
) -> Organization:
    stmt = select(Organization).where(Organization.id == org_id)
    org = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if org is None or not _visible(actor, org.id):
        raise errors.OrganizationNotFound(f"no organisation {org_id}")
    return org


async def list_organizations(
    session, *, actor: Actor, q: str | None, limit: int, cursor: str | None
):
    stmt = select(Organization)
    if actor.is_customer:
        stmt = stmt.where(Organization.id == actor.org)
    if q:
        stmt = stmt.where(Organization.name.ilike(f"%{_like(q)}%"))
    return await _page(session, stmt, Organization, limit=limit, cursor=cursor)


async def update_organization(
    session: AsyncSession,
    org_id: uuid.UUID,
    body: OrganizationUpdate,
    *,
    actor: Actor,
    if_match: str | None,
) -> Organization:
    org = await get_organization(session, org_id, actor=actor, lock=True)
    check_if_match(if_match, org.version)
    changes = body.model_dump(exclude_unset=True)
    return await _bump(session, Organization, org.id, changes)


async def _bump(session: AsyncSession, model, row_id: uuid.UUID, changes: dict[str, Any]):
    return (
        await session.execute(
            update(model)
            .where(model.id == row_id)
            .values(**changes, version=model.version + 1, updated_at=utcnow())
            .returning(model)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


def _like(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")


# Contacts --------------------------------------------------------------------------------


def _normalise_phones(items: list[PhoneIn]) -> list[tuple[str, str, str]]:
    out = []
    for p in items:
        try:
            out.append((phones.normalise(p.number), p.number, p.kind))
        except phones.InvalidPhone as exc:
            raise errors.InvalidPhoneNumber(str(exc))
    return out


async def _set_emails(session: AsyncSession, contact_id: uuid.UUID, emails: list[str]) -> None:
    await session.execute(delete(ContactEmail).where(ContactEmail.contact_id == contact_id))
    seen: set[str] = set()
    for i, address in enumerate(emails):
        if address.lower() in seen:
            continue
        seen.add(address.lower())
        try:
            async with session.begin_nested():
                await session.execute(
                    insert(ContactEmail).values(contact_id=contact_id, address=address, position=i)
                )
        except IntegrityError:
            raise errors.DuplicateValue(f"{address} already belongs to another contact")


async def _set_phones(
    session: AsyncSession, contact_id: uuid.UUID, numbers: list[tuple[str, str, str]]
) -> None:
    await session.execute(delete(ContactPhone).where(ContactPhone.contact_id == contact_id))
    for i, (e164, raw, kind) in enumerate(numbers):
        await session.execute(
            insert(ContactPhone).values(
                contact_id=contact_id, e164=e164, raw=raw, kind=kind, position=i
            )
        )


_EMAILS = "SELECT address FROM contact_email WHERE contact_id = $1 ORDER BY position"
_PHONES = "SELECT e164, raw, kind FROM contact_phone WHERE contact_id = $1 ORDER BY position"


async def contact_read(session: AsyncSession, contact: Any) -> ContactRead:
    """``contact`` is the model or a :class:`sql.Row` of it."""
    emails = await sql.fetch(session, _EMAILS, contact.id)
    numbers = await sql.fetch(session, _PHONES, contact.id)
    return ContactRead(
        **contact.model_dump(),
        emails=[e.address for e in emails],
        phones=[PhoneRead(e164=p.e164, raw=p.raw, kind=p.kind) for p in numbers],
    )


async def create_contact(session: AsyncSession, body: ContactCreate, *, actor: Actor) -> Contact:
    org = await _org_for_write(session, body.organization_id, actor)
    numbers = _normalise_phones(body.phones)
    contact = (
        await session.execute(
            insert(Contact)
            .values(
                organization_id=org.id,
                name=body.name,
                title=body.title,
                preferred_language=body.preferred_language,
                preferred_channel=body.preferred_channel,
            )
            .returning(Contact)
        )
    ).scalar_one()
    await _set_emails(session, contact.id, [str(e) for e in body.emails])
    await _set_phones(session, contact.id, numbers)
    await _contact_upserted(session, contact, org)
    return contact


async def _org_for_write(session: AsyncSession, org_id: uuid.UUID, actor: Actor) -> Organization:
    try:
        return await get_organization(session, org_id, actor=actor)
    except errors.OrganizationNotFound:
        raise errors.InvalidReference(f"organisation {org_id} does not exist")


async def get_contact(session: AsyncSession, contact_id: uuid.UUID, *, actor: Actor) -> Contact:
    contact = await session.get(Contact, contact_id)
    if contact is None or not _visible(actor, contact.organization_id):
        raise errors.ContactNotFound(f"no contact {contact_id}")
    return contact


async def list_contacts(
    session: AsyncSession,
    *,
    actor: Actor,
    organization_id: uuid.UUID | None,
    phone: str | None,
    email: str | None,
    q: str | None,
    limit: int,
    cursor: str | None,
):
    stmt = _scope(select(Contact), Contact, actor, organization_id)
    if phone is not None:
        e164 = phones.try_normalise(phone)
        if e164 is None:
            raise errors.InvalidPhoneNumber(f"{phone!r} is not a phone number")
        stmt = stmt.where(
            Contact.id.in_(select(ContactPhone.contact_id).where(ContactPhone.e164 == e164))
        )
    if email is not None:
        stmt = stmt.where(
            Contact.id.in_(
                select(ContactEmail.contact_id).where(
                    func.lower(ContactEmail.address) == email.strip().lower()
                )
            )
        )
    if q:
        stmt = stmt.where(Contact.name.ilike(f"%{_like(q)}%"))
    return await _page(session, stmt, Contact, limit=limit, cursor=cursor)


async def update_contact(
    session: AsyncSession,
    contact_id: uuid.UUID,
    body: ContactUpdate,
    *,
    actor: Actor,
    if_match: str | None,
) -> Contact:
    contact = await get_contact(session, contact_id, actor=actor)
    await session.refresh(contact, with_for_update=True)
    check_if_match(if_match, contact.version)
    changes = body.model_dump(exclude_unset=True, exclude={"emails", "phones"})
    if body.phones is not None:
        await _set_phones(session, contact.id, _normalise_phones(body.phones))
    if body.emails is not None:
        await _set_emails(session, contact.id, [str(e) for e in body.emails])
    contact = await _bump(session, Contact, contact.id, changes)
    org = await session.get(Organization, contact.organization_id)
    await _contact_upserted(session, contact, org)
    return contact


async def _contact_upserted(session: AsyncSession, contact: Contact, org: Organization | None):
    read = await contact_read(session, contact)
    by_kind = {p.kind: p.e164 for p in reversed(read.phones)}
    await outbox.add(
        session,
        events.ContactUpserted(
            subject=contact.id,
            data=events.ContactUpsertedData(
                contact_id=contact.id,
                organization_id=contact.organization_id,
                organization_name=org.name if org else None,
                name=contact.name,
                title=contact.title,
                phone=by_kind.get("phone"),
                mobile=by_kind.get("mobile"),
                fax=by_kind.get("fax"),
                email=read.emails[0] if read.emails else None,
                language=contact.preferred_language,
                active=contact.active,
                updated_at=contact.updated_at,
            ),
        ),
    )


# Contracts -------------------------------------------------------------------------------


async def create_contract(session: AsyncSession, body: ContractCreate, *, actor: Actor) -> Contract:
    if body.end_date < body.start_date:
        raise errors.InvalidReference("end_date is before start_date")
    await _org_for_write(session, body.organization_id, actor)
    try:
        async with session.begin_nested():
            return (
                await session.execute(
                    insert(Contract).values(**body.model_dump()).returning(Contract)
                )
            ).scalar_one()
    except IntegrityError:
        raise errors.DuplicateValue(f"contract number {body.number} already exists")


async def get_contract(session: AsyncSession, contract_id: uuid.UUID, *, actor: Actor) -> Contract:
    contract = await session.get(Contract, contract_id)
    if contract is None or not _visible(actor, contract.organization_id):
        raise errors.ContractNotFound(f"no contract {contract_id}")
    return contract


async def list_contracts(
    session, *, actor: Actor, organization_id, number: str | None, limit: int, cursor: str | None
):
    stmt = _scope(select(Contract), Contract, actor, organization_id)
    if number:
        stmt = stmt.where(Contract.number == number)
    return await _page(session, stmt, Contract, limit=limit, cursor=cursor)


async def update_contract(
    session: AsyncSession,
    contract_id: uuid.UUID,
    body: ContractUpdate,
    *,
    actor: Actor,
    if_match: str | None,
) -> Contract:
    contract = await get_contract(session, contract_id, actor=actor)
    await session.refresh(contract, with_for_update=True)
    check_if_match(if_match, contract.version)
    changes = body.model_dump(exclude_unset=True)
    start = changes.get("start_date", contract.start_date)
    end = changes.get("end_date", contract.end_date)
    if end < start:
        raise errors.InvalidReference("end_date is before start_date")
    return await _bump(session, Contract, contract.id, changes)


async def active_contract(
    session: AsyncSession, organization_id: uuid.UUID, on: date
) -> Contract | None:
    """The organisation's contract in force on ``on`` (the latest started, if several)."""
    return (
        await session.execute(
            select(Contract)
            .where(
                Contract.organization_id == organization_id,
                Contract.start_date <= on,
                Contract.end_date >= on,
            )
            .order_by(Contract.start_date.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


# Assets ----------------------------------------------------------------------------------


async def create_asset(session: AsyncSession, body: AssetCreate, *, actor: Actor) -> Asset:
    await _org_for_write(session, body.organization_id, actor)
    if body.contract_id is not None:
        await _contract_of_org(session, body.contract_id, body.organization_id, actor)
    try:
        async with session.begin_nested():
            asset = (
                await session.execute(insert(Asset).values(**body.model_dump()).returning(Asset))
            ).scalar_one()
    except IntegrityError:
        raise errors.DuplicateValue(f"serial number {body.serial} is already registered")
    await _asset_upserted(session, asset)
    return asset


async def _contract_of_org(session, contract_id, org_id, actor) -> Contract:
    contract = await session.get(Contract, contract_id)
    if contract is None or contract.organization_id != org_id or not _visible(actor, org_id):
        raise errors.InvalidReference(f"contract {contract_id} is not one of the organisation's")
    return contract


async def get_asset(session: AsyncSession, asset_id: uuid.UUID, *, actor: Actor) -> Asset:
    asset = await session.get(Asset, asset_id)
    if asset is None or not _visible(actor, asset.organization_id):
        raise errors.AssetNotFound(f"no asset {asset_id}")
    return asset


async def find_asset_by_serial(session: AsyncSession, serial: str) -> Asset | None:
    return (
        await session.execute(select(Asset).where(Asset.serial == serial.strip()))
    ).scalar_one_or_none()


async def list_assets(
    session, *, actor: Actor, organization_id, serial: str | None, contract_id, limit, cursor
):
    stmt = _scope(select(Asset), Asset, actor, organization_id)
    if serial:
        stmt = stmt.where(Asset.serial == serial.strip())
    if contract_id:
        stmt = stmt.where(Asset.contract_id == contract_id)
    return await _page(session, stmt, Asset, limit=limit, cursor=cursor)


async def update_asset(
    session: AsyncSession,
    asset_id: uuid.UUID,
    body: AssetUpdate,
    *,
    actor: Actor,
    if_match: str | None,
) -> Asset:
    asset = await get_asset(session, asset_id, actor=actor)
    await session.refresh(asset, with_for_update=True)
    check_if_match(if_match, asset.version)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("contract_id") is not None:
        await _contract_of_org(session, changes["contract_id"], asset.organization_id, actor)
    asset = await _bump(session, Asset, asset.id, changes)
    await _asset_upserted(session, asset)
    return asset


async def _asset_upserted(session: AsyncSession, asset: Asset) -> None:
    await outbox.add(
        session,
        events.AssetUpserted(
            subject=asset.id,
            data=events.AssetUpsertedData(
                asset_id=asset.id,
                organization_id=asset.organization_id,
                contract_id=asset.contract_id,
                product=asset.product,
                vendor=asset.vendor,
                model=asset.model,
                serial=asset.serial,
                region=asset.region,
                site_address=asset.site_address,
                installed_date=asset.install_date,
                warranty_end_date=asset.warranty_end_date,
                updated_at=asset.updated_at,
            ),
        ),
    )


_DOWNTIMES = """
SELECT number, created_at, resolved_at FROM ticket
WHERE asset_id = $1 AND kind IN ('fault', 'rma') AND status NOT IN ('merged', 'cancelled')
"""


async def asset_warranty(session: AsyncSession, asset: Asset) -> warranty.Warranty:
    """The asset's warranty with every downtime extension, from its fault tickets (``asset``
    is the model or a :class:`sql.Row` of it)."""
    rows = await sql.fetch(session, _DOWNTIMES, asset.id)
    downtimes = [warranty.Downtime(r.number, r.created_at, r.resolved_at) for r in rows]
    return warranty.effective(asset.warranty_end_date, downtimes, now=utcnow())


async def asset_read(session: AsyncSession, asset: Asset) -> AssetRead:
    w = await asset_warranty(session, asset)
    return AssetRead(
        **asset.model_dump(),
        warranty=WarrantyRead(
            base_end_date=w.base_end,
            effective_end_date=w.effective_end,
            under_warranty=w.covers(utcnow().date()),
            extensions=[
                WarrantyExtensionRead(
                    ticket_number=e.ticket_number,
                    downtime_days=round(e.downtime.total_seconds() / 86400, 2),
                    extension_days=round(e.extension.total_seconds() / 86400, 2),
                    reason=e.reason,
                )
                for e in w.extensions
            ],
        ),
    )
