"""/v1/tickets"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from intake import tickets
from intake.schemas import TicketCreate, TicketRead
from shared import http
from shared.auth import Actor, require_role
from shared.deps import ActorDep, SessionDep

router = APIRouter(prefix="/tickets", tags=["tickets"])

CreatorDep = Annotated[
    Actor, Depends(require_role("customer", "agent", "manager", "admin", "integration"))
]


def read(ticket) -> TicketRead:
    return TicketRead(**ticket.model_dump(), reference=tickets.reference(ticket.number))


@router.post(
    "",
    status_code=201,
    response_model=TicketRead,
    responses={
        409: {"description": "Idempotency-Key in use"},
        422: {"description": "Invalid body"},
    },
)
async def create_ticket(
    body: TicketCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    actor: CreatorDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
):
    """Open a ticket; the same Idempotency-Key and body replays the first answer."""
    if actor.is_customer and body.organization_id != actor.org:
        raise tickets.TicketNotFound("customers open tickets for their own organisation only")
    if idempotency_key is not None:
        fingerprint = http.request_hash("POST", request.url.path, await request.body())
        stored = await http.idempotency_begin(
            session, actor=actor.sub, key=idempotency_key, fingerprint=fingerprint
        )
        if stored is not None:
            await session.rollback()
            return JSONResponse(
                stored.body, status_code=stored.status_code, headers={"Idempotent-Replay": "true"}
            )
    ticket = await tickets.create(session, body, actor=actor)
    result = read(ticket)
    if idempotency_key is not None:
        await http.idempotency_finish(
            session,
            actor=actor.sub,
            key=idempotency_key,
            status_code=201,
            body=jsonable_encoder(result),
        )
    await session.commit()
    response.headers["Location"] = f"/v1/tickets/{ticket.id}"
    response.headers["ETag"] = http.etag(ticket.version)
    return result


@router.get(
    "/{ticket_id}", response_model=TicketRead, responses={404: {"description": "No such ticket"}}
)
async def get_ticket(
    ticket_id: uuid.UUID, response: Response, session: SessionDep, actor: ActorDep
):
    """One ticket."""
    ticket = await tickets.get(session, ticket_id, actor=actor)
    response.headers["ETag"] = http.etag(ticket.version)
    return read(ticket)
