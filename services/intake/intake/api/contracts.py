"""/v1/contracts"""

import uuid

from fastapi import APIRouter, Request, Response

from intake import register
from intake.api.deps import Admin, Cursor, IdempotencyKey, IfMatch, Limit, Reader
from intake.api.idempotency import run_once
from intake.schemas import ContractCreate, ContractRead, ContractUpdate
from shared.deps import SessionDep
from shared.http import Page, etag

router = APIRouter(prefix="/contracts", tags=["register"])


@router.post("", status_code=201, response_model=ContractRead)
async def create_contract(
    body: ContractCreate,
    request: Request,
    session: SessionDep,
    actor: Admin,
    idempotency_key: IdempotencyKey = None,
):
    """Register a service contract: coverage, calendar and SLA policy."""

    async def create():
        contract = await register.create_contract(session, body, actor=actor)
        headers = {"Location": f"/v1/contracts/{contract.id}", "ETag": etag(contract.version)}
        return 201, ContractRead.model_validate(contract), headers

    return await run_once(request, session, actor, idempotency_key, create)


@router.get("", response_model=Page[ContractRead])
async def list_contracts(
    session: SessionDep,
    actor: Reader,
    organization_id: uuid.UUID | None = None,
    number: str | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Contracts, newest first."""
    rows, next_cursor = await register.list_contracts(
        session,
        actor=actor,
        organization_id=organization_id,
        number=number,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[ContractRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{contract_id}", response_model=ContractRead)
async def get_contract(
    contract_id: uuid.UUID, response: Response, session: SessionDep, actor: Reader
):
    """One contract."""
    contract = await register.get_contract(session, contract_id, actor=actor)
    response.headers["ETag"] = etag(contract.version)
    return contract


@router.patch("/{contract_id}", response_model=ContractRead)
async def update_contract(
    contract_id: uuid.UUID,
    body: ContractUpdate,
    response: Response,
    session: SessionDep,
    actor: Admin,
    if_match: IfMatch = None,
):
    """Change a contract (If-Match required)."""
    contract = await register.update_contract(
        session, contract_id, body, actor=actor, if_match=if_match
    )
    await session.commit()
    response.headers["ETag"] = etag(contract.version)
    return contract
