"""/v1/inbound/*: the mail, phone (CTI) and SMS/IM gateways.

A gateway authenticates with an integration token, or signs the body (``X-Aftercare-Signature``,
DESIGN §7; each signature is accepted once), or — for Mailgun's format — with Mailgun's own
``timestamp``/``token``/``signature`` fields. Bodies are size-limited before they are read whole.
Whatever is refused gets a problem response that says why, and is logged.
"""

import logging
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from intake import calls, cti, gateways, inbound
from intake.api.deps import SettingsDep
from intake.schemas import (
    CallerRead,
    InboundAttachmentRead,
    InboundMailRead,
    InboundMessageRead,
    MessageInbound,
)
from intake.settings import Settings
from shared.auth import Actor, Forbidden, Unauthenticated, authenticate, verify_webhook_signature
from shared.db import utcnow
from shared.deps import SessionDep
from shared.http import Problem

router = APIRouter(prefix="/inbound", tags=["inbound"])
log = logging.getLogger("aftercare.intake.inbound")


class PayloadTooLarge(Problem):
    status = 413
    type = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(Problem):
    status = 415
    type = "unsupported-media-type"
    title = "Unsupported media type"


class InvalidCtiEvent(Problem):
    status = 422
    type = "invalid-cti-event"
    title = "Invalid CTI event"


async def _read(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"the body is {length} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # Starlette replays it to request.form()
    return body


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _form(request: Request, limit: int) -> gateways.Form:
    form = await request.form(max_files=200, max_fields=1000, max_part_size=limit)
    out: gateways.Form = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read()
            item: Any = gateways.FilePart(value.filename, value.content_type, data)
        else:
            item = value
        out.setdefault(key, []).append(item)
    return out


async def _gateway(
    request: Request,
    session,
    settings: Settings,
    body: bytes,
    form: gateways.Form | None = None,
) -> Actor:
    """Who sent this: an integration token, a once-only body signature, or Mailgun's fields."""
    if request.headers.get("authorization"):
        actor = await authenticate(request)
        if actor.role != "integration":
            raise Forbidden("inbound gateways use a token with the role integration")
        return actor
    header = request.headers.get("x-aftercare-signature")
    if header:
        signature = verify_webhook_signature(
            settings.webhook_secret.get_secret_value(), header, body
        )
        await inbound.remember_signature(session, signature)
        return Actor(sub="signed-gateway", role="integration", name="Signed gateway")
    if form is not None and "signature" in form and settings.mailgun_signing_key is not None:
        signature = inbound.verify_mailgun(
            settings.mailgun_signing_key.get_secret_value(),
            gateways._text(form, "timestamp") or "",
            gateways._text(form, "token") or "",
            gateways._text(form, "signature") or "",
            time.time(),
        )
        await inbound.remember_signature(session, signature)
        return Actor(sub="mailgun", role="integration", name="Mailgun")
    raise Unauthenticated(
        "send Authorization: Bearer <integration token>, or sign the body with "
        "X-Aftercare-Signature (Mailgun: its signature fields and AFTERCARE_MAILGUN_SIGNING_KEY)"
    )


def _refused(request: Request, exc: Problem) -> None:
    log.warning("inbound %s refused: %s %s", request.url.path, exc.status, exc.detail or exc.title)


MAIL_BODY = {
    "requestBody": {
        "required": True,
        "description": "A raw RFC 5322 message, a form with the raw message (Mailgun "
        "body-mime, SendGrid email) or SendGrid/Mailgun parsed fields, or Postmark JSON.",
        "content": {
            "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {"type": "object"}},
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


@router.post(
    "/email",
    status_code=201,
    response_model=InboundMailRead,
    openapi_extra=MAIL_BODY,
    responses={200: {"description": "A retry of a mail already received: the first outcome"}},
)
async def receive_email(request: Request, session: SessionDep, settings: SettingsDep):
    """Receive one mail from a mail gateway: a new ticket, a message on the ticket it answers,
    or (auto-replies and bounces) a note or a log record. Idempotent by Message-ID."""
    try:
        body = await _read(request, settings.inbound_mail_max_bytes)
        media = _media_type(request)
        form = None
        if media in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = await _form(request, settings.inbound_mail_max_bytes)
        actor = await _gateway(request, session, settings, body, form)
        try:
            if form is not None:
                gateway, mail = gateways.from_form(form)
            elif media == "application/json":
                try:
                    payload = orjson.loads(body)
                except orjson.JSONDecodeError as exc:
                    raise inbound.PayloadRefused(f"the body is not JSON: {exc}")
                gateway, mail = gateways.from_json(payload, body)
            elif media in gateways.RAW_TYPES or media == "":
                gateway, mail = "rfc822", gateways.from_raw(body)
            else:
                raise UnsupportedMediaType(
                    f"{media} is not a mail format; send message/rfc822, a form or Postmark JSON"
                )
        except gateways.UnsupportedPayload as exc:
            raise inbound.PayloadRefused(str(exc))
        outcome = await inbound.receive_mail(session, settings, mail, gateway=gateway, actor=actor)
        await session.commit()
    except Problem as exc:
        _refused(request, exc)
        raise
    row = outcome.row
    read = InboundMailRead(
        id=row.id,
        message_id=row.message_id,
        gateway=row.gateway,
        duplicate=outcome.duplicate,
        disposition=row.disposition,
        reason=row.reason,
        loop_signal=row.loop_signal,
        from_email=row.from_email,
        from_name=row.from_name,
        subject=row.subject,
        contact_id=row.contact_id,
        ticket_id=row.ticket_id,
        ticket_number=outcome.ticket_number,
        ticket_message_id=row.ticket_message_id,
        attachments=[InboundAttachmentRead(**a) for a in outcome.files],
        received_at=row.received_at,
    )
    return JSONResponse(read.model_dump(mode="json"), status_code=200 if outcome.duplicate else 201)


CTI_BODY = {
    "requestBody": {
        "required": True,
        "description": "Generic CTI fields: event (newCall|answer|hangup), from, to, direction "
        "(in|out), callId, user or user[], queue, answeringNumber, cause.",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
        },
    }
}


@router.post(
    "/cti",
    openapi_extra=CTI_BODY,
    responses={
        200: {
            "description": "`{}`; for newCall the caller's contact, organisation and open tickets",
            "content": {"application/json": {"schema": CallerRead.model_json_schema()}},
        }
    },
)
async def receive_cti_event(request: Request, session: SessionDep, settings: SettingsDep):
    """Receive one Generic CTI event of a PBX bridge; events of a call may come in any order
    and more than once. A missed inbound call opens a callback ticket."""
    try:
        body = await _read(request, settings.inbound_event_max_bytes)
        media = _media_type(request)
        form = None
        if media in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = await _form(request, settings.inbound_event_max_bytes)
        actor = await _gateway(request, session, settings, body, None)
        if form is not None:
            fields: dict[str, Any] = {
                k: [v for v in vs if isinstance(v, str)] for k, vs in form.items()
            }
        else:
            try:
                fields = orjson.loads(body) if body.strip() else {}
            except orjson.JSONDecodeError as exc:
                raise InvalidCtiEvent(f"the body is neither JSON nor form data: {exc}")
            if not isinstance(fields, dict):
                raise InvalidCtiEvent("the body must be a JSON object")
        if not fields:
            return JSONResponse({})
        try:
            event = cti.parse(fields, utcnow())
        except cti.InvalidEvent as exc:
            raise InvalidCtiEvent(str(exc), field=exc.field)
        _, caller = await calls.record(session, settings, event, actor=actor)
        if session.in_transaction():  # else the event was one statement, committed already
            await session.commit()  # (committing a session with nothing begun: ~50 µs of CPU)
    except Problem as exc:
        _refused(request, exc)
        raise
    return JSONResponse(caller.model_dump(mode="json") if caller is not None else {})


@router.post(
    "/message",
    status_code=201,
    response_model=InboundMessageRead,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": MessageInbound.model_json_schema(by_alias=True)}
            },
        }
    },
    responses={200: {"description": "A retry of a message already received"}},
)
async def receive_message(request: Request, session: SessionDep, settings: SettingsDep):
    """Receive one SMS or IM message (sms, wechat, wecom, dingtalk, other): a message on the
    sender's open ticket, else a new ticket. Idempotent by (channel, external_id)."""
    try:
        raw = await _read(request, settings.inbound_mail_max_bytes)
        actor = await _gateway(request, session, settings, raw)
        try:
            body = MessageInbound.model_validate_json(raw)
        except ValidationError as exc:
            errors = [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
            ]
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
            raise inbound.PayloadRefused(detail, errors=errors)
        outcome = await inbound.receive_message(session, settings, body, actor=actor)
        await session.commit()
    except Problem as exc:
        _refused(request, exc)
        raise
    row = outcome.row
    read = InboundMessageRead(
        id=row.id,
        channel=row.channel,
        external_id=row.external_id,
        duplicate=outcome.duplicate,
        disposition=row.disposition,
        contact_id=row.contact_id,
        ticket_id=row.ticket_id,
        ticket_number=outcome.ticket_number,
        ticket_message_id=row.ticket_message_id,
        received_at=row.received_at,
    )
    return JSONResponse(read.model_dump(mode="json"), status_code=200 if outcome.duplicate else 201)
