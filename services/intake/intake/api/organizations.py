"""/v1/organizations"""

import uuid

from fastapi import APIRouter, Request, Response

from intake import register
from intake.api.deps import Admin, Cursor, IdempotencyKey, IfMatch, Limit, Reader
from intake.api.idempotency import run_once
from intake.schemas import OrganizationCreate, OrganizationRead, OrganizationUpdate
from shared.deps import SessionDep
from shared.http import Page, etag

router = APIRouter(prefix="/organizations", tags=["register"])


@router.post("", status_code=201, response_model=OrganizationRead)
async def create_organization(
    body: OrganizationCreate,
    request: Request,
    session: SessionDep,
    actor: Admin,
    idempotency_key: IdempotencyKey = None,
):
    """Register a customer organisation."""

    async def create():
        org = await register.create_organization(session, body)
        headers = {"Location": f"/v1/organizations/{org.id}", "ETag": etag(org.version)}
        return 201, OrganizationRead.model_validate(org), headers

    return await run_once(request, session, actor, idempotency_key, create)


@router.get("", response_model=Page[OrganizationRead])
async def list_organizations(
    session: SessionDep,
    actor: Reader,
    q: str | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Organisations, newest first; ``q`` searches the name."""
    rows, next_cursor = await register.list_organizations(
        session, actor=actor, q=q, limit=limit, cursor=cursor
    )
    return Page(items=[OrganizationRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{organization_id}", response_model=OrganizationRead)
async def get_organization(
    organization_id: uuid.UUID, response: Response, session: SessionDep, actor: Reader
):
    """One organisation."""
    org = await register.get_organization(session, organization_id, actor=actor)
    response.headers["ETag"] = etag(org.version)
    return org


@router.patch("/{organization_id}", response_model=OrganizationRead)
async def update_organization(
    organization_id: uuid.UUID,
    body: OrganizationUpdate,
    response: Response,
    session: SessionDep,
    actor: Admin,
    if_match: IfMatch = None,
):
    """Change an organisation (If-Match required)."""
    org = await register.update_organization(
        session, organization_id, body, actor=actor, if_match=if_match
    )
    await session.commit()
    response.headers["ETag"] = etag(org.version)
    return org
