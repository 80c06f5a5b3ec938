"""/v1/calls: the call log of the phone channel."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from intake import calls
from intake.api.deps import Cursor, Limit, Staff, StaffOrGateway
from intake.schemas import CallLinkCreate, CallRead
from shared.deps import SessionDep
from shared.http import Page

router = APIRouter(prefix="/calls", tags=["calls"])


@router.get("", response_model=Page[CallRead])
async def list_calls(
    session: SessionDep,
    actor: StaffOrGateway,
    number: Annotated[str | None, Query(max_length=40, description="The customer's number")] = None,
    contact_id: uuid.UUID | None = None,
    ticket_id: uuid.UUID | None = None,
    missed: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Calls, newest first; filter by number, contact, ticket or missed."""
    rows, next_cursor = await calls.list_(
        session,
        actor=actor,
        number=number,
        contact_id=contact_id,
        ticket_id=ticket_id,
        missed=missed,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[CallRead.model_validate(c) for c in rows], next_cursor=next_cursor)


@router.get("/{call_id}", response_model=CallRead)
async def get_call(call_id: uuid.UUID, session: SessionDep, actor: StaffOrGateway):
    """One call."""
    return await calls.get(session, call_id, actor=actor)


@router.post("/{call_id}/ticket", response_model=CallRead)
async def link_call(call_id: uuid.UUID, body: CallLinkCreate, session: SessionDep, actor: Staff):
    """Attach an answered call to an existing ticket (a note of the call goes on the ticket).
    To open a new ticket from a call, ``POST /v1/tickets`` with ``call_id``."""
    call = await calls.link(session, call_id, body.ticket_id, body.note, actor=actor)
    await session.commit()
    return call
