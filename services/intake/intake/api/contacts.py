"""/v1/contacts"""

import uuid

from fastapi import APIRouter, Query, Request, Response

from intake import register
from intake.api.deps import Admin, Cursor, IdempotencyKey, IfMatch, Limit, Reader
from intake.api.idempotency import run_once
from intake.schemas import ContactCreate, ContactRead, ContactUpdate
from shared.deps import SessionDep
from shared.http import Page, etag

router = APIRouter(prefix="/contacts", tags=["register"])


@router.post("", status_code=201, response_model=ContactRead)
async def create_contact(
    body: ContactCreate,
    request: Request,
    session: SessionDep,
    actor: Admin,
    idempotency_key: IdempotencyKey = None,
):
    """Register a contact person; phone numbers are stored in E.164."""

    async def create():
        contact = await register.create_contact(session, body, actor=actor)
        read = await register.contact_read(session, contact)
        return 201, read, {"Location": f"/v1/contacts/{contact.id}", "ETag": etag(read.version)}

    return await run_once(request, session, actor, idempotency_key, create)


@router.get("", response_model=Page[ContactRead])
async def list_contacts(
    session: SessionDep,
    actor: Reader,
    organization_id: uuid.UUID | None = None,
    phone: str | None = Query(default=None, description="Any notation; matched in E.164"),
    email: str | None = Query(default=None, description="Case-insensitive"),
    q: str | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Contacts; the lookups a phone or mail gateway needs are ``?phone=`` and ``?email=``."""
    rows, next_cursor = await register.list_contacts(
        session,
        actor=actor,
        organization_id=organization_id,
        phone=phone,
        email=email,
        q=q,
        limit=limit,
        cursor=cursor,
    )
    items = [await register.contact_read(session, r) for r in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{contact_id}", response_model=ContactRead)
async def get_contact(
    contact_id: uuid.UUID, response: Response, session: SessionDep, actor: Reader
):
    """One contact."""
    contact = await register.get_contact(session, contact_id, actor=actor)
    response.headers["ETag"] = etag(contact.version)
    return await register.contact_read(session, contact)


@router.patch("/{contact_id}", response_model=ContactRead)
async def update_contact(
    contact_id: uuid.UUID,
    body: ContactUpdate,
    response: Response,
    session: SessionDep,
    actor: Admin,
    if_match: IfMatch = None,
):
    """Change a contact (If-Match required); lists given replace the stored ones."""
    contact = await register.update_contact(
        session, contact_id, body, actor=actor, if_match=if_match
    )
    read = await register.contact_read(session, contact)
    await session.commit()
    response.headers["ETag"] = etag(read.version)
    return read
