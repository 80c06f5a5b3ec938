"""/v1/tickets: tickets, their messages, attachments, actions and timeline."""

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse

from intake import attachments, tickets
from intake.api.deps import (
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    Manager,
    Reader,
    SettingsDep,
    Staff,
)
from intake.api.idempotency import run_once
from intake.schemas import (
    AttachmentRead,
    Category,
    Channel,
    ConfirmationCreate,
    Kind,
    MergeCreate,
    MessageCreate,
    MessageRead,
    TicketCreate,
    TicketRead,
    TicketUpdate,
    Timeline,
    TransitionCreate,
)
from intake.states import Status
from shared.auth import Forbidden
from shared.deps import SessionDep
from shared.http import Page, etag

router = APIRouter(prefix="/tickets", tags=["tickets"])
_ = Category


def _headers(ticket) -> dict[str, str]:
    return {"Location": f"/v1/tickets/{ticket.id}", "ETag": etag(ticket.version)}


@router.post(
    "",
    status_code=201,
    response_model=TicketRead,
    responses={200: {"description": "Joined an open ticket of the same contact and asset"}},
)
async def create_ticket(
    body: TicketCreate,
    request: Request,
    session: SessionDep,
    actor: Reader,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
):
    """Record a report. A repeated report of the same contact about the same asset joins the
    open ticket (200 with that ticket, header ``Aftercare-Joined: true``)."""

    async def create():
        created = await tickets.create(
            session,
            body,
            actor=actor,
            duplicate_window=timedelta(hours=settings.duplicate_window_hours),
        )
        headers = _headers(created.ticket)
        if created.joined:
            headers["Aftercare-Joined"] = "true"
        return (200 if created.joined else 201), tickets.read(created.ticket), headers

    return await run_once(request, session, actor, idempotency_key, create)


@router.get("", response_model=Page[TicketRead])
async def list_tickets(
    session: SessionDep,
    actor: Reader,
    status: Annotated[list[Status] | None, Query()] = None,
    kind: Annotated[list[Kind] | None, Query()] = None,
    severity: Annotated[list[int] | None, Query()] = None,
    organization_id: uuid.UUID | None = None,
    assignee_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
    asset_id: uuid.UUID | None = None,
    tier: Annotated[int | None, Query(ge=1, le=3)] = None,
    channel: Annotated[list[Channel] | None, Query()] = None,
    legacy: bool | None = None,
    updated_since: datetime | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in the subject")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Tickets, newest first. Repeat a filter to match any of its values (``?status=new&status=
    assigned``)."""
    f = tickets.TicketFilter(
        status=status,
        kind=kind,
        severity=severity,
        organization_id=organization_id,
        assignee_id=assignee_id,
        contact_id=contact_id,
        asset_id=asset_id,
        tier=tier,
        channel=channel,
        legacy=legacy,
        updated_since=updated_since,
        q=q,
    )
    rows, next_cursor = await tickets.list_(session, f, actor=actor, limit=limit, cursor=cursor)
    return Page(items=[tickets.read(t) for t in rows], next_cursor=next_cursor)


@router.get("/{ticket_id}", response_model=TicketRead)
async def get_ticket(ticket_id: uuid.UUID, response: Response, session: SessionDep, actor: Reader):
    """One ticket."""
    ticket = await tickets.get(session, ticket_id, actor=actor)
    response.headers["ETag"] = etag(ticket.version)
    return tickets.read(ticket)


@router.patch("/{ticket_id}", response_model=TicketRead)
async def update_ticket(
    ticket_id: uuid.UUID,
    body: TicketUpdate,
    response: Response,
    session: SessionDep,
    actor: Staff,
    if_match: IfMatch = None,
):
    """Change fields (If-Match required); only managers change the severity."""
    ticket = await tickets.update_fields(session, ticket_id, body, actor=actor, if_match=if_match)
    await session.commit()
    response.headers["ETag"] = etag(ticket.version)
    return tickets.read(ticket)


@router.post("/{ticket_id}/transitions", response_model=TicketRead)
async def change_ticket_status(
    ticket_id: uuid.UUID,
    body: TransitionCreate,
    response: Response,
    session: SessionDep,
    actor: Staff,
    if_match: IfMatch = None,
):
    """Act on the ticket: start, wait_customer, resume, resolve (with the resolution), close,
    reopen, cancel. An action the ticket's state does not allow is a 409 naming the allowed
    ones."""
    ticket = await tickets.transition(session, ticket_id, body, actor=actor, if_match=if_match)
    await session.commit()
    response.headers["ETag"] = etag(ticket.version)
    return tickets.read(ticket)


@router.post("/{ticket_id}/confirmation", response_model=TicketRead)
async def confirm_ticket(
    ticket_id: uuid.UUID,
    body: ConfirmationCreate,
    response: Response,
    session: SessionDep,
    actor: Reader,
):
    """The customer accepts the solution (closed) or rejects it with a reason (reopened)."""
    if actor.role == "integration":
        raise Forbidden("the customer or an agent on their behalf confirms a solution")
    ticket = await tickets.confirm(
        session, ticket_id, accepted=body.accepted, reason=body.reason, actor=actor
    )
    await session.commit()
    response.headers["ETag"] = etag(ticket.version)
    return tickets.read(ticket)


@router.post("/{ticket_id}/merge", response_model=TicketRead)
async def merge_ticket(
    ticket_id: uuid.UUID, body: MergeCreate, session: SessionDep, actor: Manager
):
    """Merge this duplicate into another ticket of the same organisation."""
    ticket = await tickets.merge(
        session, ticket_id, body.into_ticket_id, reason=body.reason, actor=actor
    )
    await session.commit()
    return tickets.read(ticket)


@router.get("/{ticket_id}/messages", response_model=list[MessageRead])
async def list_ticket_messages(ticket_id: uuid.UUID, session: SessionDep, actor: Reader):
    """Messages in order; customers see the public ones."""
    ticket = await tickets.get(session, ticket_id, actor=actor)
    files = await attachments.list_for(session, ticket, actor=actor)
    by_message: dict[uuid.UUID, list[AttachmentRead]] = {}
    for a in files:
        if a.message_id is not None:
            by_message.setdefault(a.message_id, []).append(AttachmentRead.model_validate(a))
    return [
        MessageRead(**m.model_dump(), attachments=by_message.get(m.id, []))
        for m in await tickets.messages(session, ticket, actor=actor)
    ]


@router.post("/{ticket_id}/messages", status_code=201, response_model=MessageRead)
async def add_ticket_message(
    ticket_id: uuid.UUID,
    body: MessageCreate,
    request: Request,
    session: SessionDep,
    actor: Reader,
    idempotency_key: IdempotencyKey = None,
):
    """Add a message. Internal (``public: false``) messages are for staff only."""
    ticket = await tickets.get(session, ticket_id, actor=actor, lock=True)

    async def create():
        message = await tickets.add_message(session, ticket, body, actor=actor)
        return 201, MessageRead.model_validate(message), {}

    return await run_once(request, session, actor, idempotency_key, create)


@router.get("/{ticket_id}/timeline", response_model=Timeline)
async def get_ticket_timeline(ticket_id: uuid.UUID, session: SessionDep, actor: Reader):
    """The ticket's full history in order: messages, state changes, assignment, escalation and
    SLA events, as an auditor reads it. Customers see the public entries."""
    ticket = await tickets.get(session, ticket_id, actor=actor)
    entries = await tickets.timeline(session, ticket, actor=actor)
    return Timeline(ticket_id=ticket.id, number=ticket.number, entries=entries)


@router.get("/{ticket_id}/attachments", response_model=list[AttachmentRead])
async def list_ticket_attachments(ticket_id: uuid.UUID, session: SessionDep, actor: Reader):
    """Attachments of the ticket."""
    ticket = await tickets.get(session, ticket_id, actor=actor)
    return await attachments.list_for(session, ticket, actor=actor)


@router.post("/{ticket_id}/attachments", status_code=201, response_model=AttachmentRead)
async def add_ticket_attachment(
    ticket_id: uuid.UUID,
    session: SessionDep,
    actor: Reader,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="The file")],
    public: Annotated[bool, Form()] = True,
    message_id: Annotated[uuid.UUID | None, Form()] = None,
):
    """Attach a file (multipart). Size and count are limited; executables are refused."""
    ticket = await tickets.get(session, ticket_id, actor=actor, lock=True)
    data = await file.read(settings.attachment_max_bytes + 1)
    stored = await attachments.store(
        session,
        settings,
        ticket,
        filename=file.filename or "attachment",
        data=data,
        declared_type=file.content_type,
        actor=actor,
        public=public,
        message_id=message_id,
    )
    await session.commit()
    return stored


@router.get("/{ticket_id}/attachments/{attachment_id}", response_class=FileResponse)
async def download_ticket_attachment(
    ticket_id: uuid.UUID,
    attachment_id: uuid.UUID,
    session: SessionDep,
    actor: Reader,
    settings: SettingsDep,
):
    """Download an attachment (for those who may see the ticket)."""
    ticket = await tickets.get(session, ticket_id, actor=actor)
    attachment = await attachments.get(session, ticket, attachment_id, actor=actor)
    return FileResponse(
        attachments.path_of(settings, attachment),
        media_type=attachment.content_type,
        filename=attachment.filename,
        headers={"X-Content-Type-Options": "nosniff"},
    )
