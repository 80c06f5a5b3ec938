"""Use cases of the inbound channels: mail and SMS/IM messages become tickets or messages.

Every mail is recorded in ``inbound_mail`` with what became of it (its disposition), so nothing
a gateway delivered is lost silently; a Message-ID (or external id) seen before answers with the
first outcome and changes nothing. The edge commits.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from intake import attachments, errors, mailparse, phones, register, sql, states, tickets
from intake.models import (
    Contact,
    InboundMail,
    InboundMessage,
)
from intake.schemas import ContactCreate, MessageCreate, MessageInbound, TicketCreate
from intake.settings import Settings
from shared.auth import SIGNATURE_WINDOW_SECONDS, Actor, BadSignature
from shared.db import utcnow
from shared.http import Problem
from shared.ids import new_id

log = logging.getLogger("aftercare.intake.inbound")

SYSTEM = Actor(sub="intake-inbound", role="admin", name="Inbound channels")
SUBJECT_MAX, BODY_MAX = 500, 100_000


class UnknownSender(Problem):
    status = 422
    type = "unknown-sender"
    title = "The sender is not a registered contact"


class NoSender(Problem):
    status = 422
    type = "no-sender"
    title = "The message has no usable sender address"


class PayloadRefused(Problem):
    status = 422
    type = "inbound-refused"
    title = "The gateway's payload was not understood"


# Gateway signatures ----------------------------------------------------------------------


_SIGNATURE = """
INSERT INTO seen_signature (signature, expires_at) VALUES ($1, $2)
ON CONFLICT DO NOTHING
RETURNING signature
"""


async def remember_signature(session: AsyncSession, signature: str) -> None:
    """Refuses a signature already used inside its window (a replay), else remembers it until
    the window has passed; expired ones are swept as a side effect."""
    now = utcnow()
    expires = now + timedelta(seconds=2 * SIGNATURE_WINDOW_SECONDS)
    if await sql.fetchval(session, _SIGNATURE, signature, expires) is None:
        raise BadSignature("this signature was already used (a replayed request)")
    if int(hashlib.sha256(signature.encode()).hexdigest()[:2], 16) < 8:  # ~3 % of requests
        await sql.execute(session, "DELETE FROM seen_signature WHERE expires_at < $1", now)


def verify_mailgun(key: str, timestamp: str, token: str, signature: str, now: float) -> str:
    """Mailgun's webhook signature: HMAC-SHA256 of timestamp + token with the signing key."""
    try:
        t = int(timestamp)
    except (TypeError, ValueError):
        raise BadSignature("Mailgun timestamp is not a number")
    if abs(now - t) > SIGNATURE_WINDOW_SECONDS:
        raise BadSignature(f"Mailgun timestamp outside the {SIGNATURE_WINDOW_SECONDS} s window")
    expected = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature or ""):
        raise BadSignature("Mailgun signature does not match")
    return f"mailgun:{signature}"


# Senders ---------------------------------------------------------------------------------


def valid_address(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except (EmailNotValidError, TypeError, ValueError):
        return None


_UNKNOWN_SENDERS = "INSERT INTO organization (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING"


async def unknown_senders_org(session: AsyncSession, settings: Settings) -> uuid.UUID:
    org_id = settings.unknown_senders_organization_id
    await sql.execute(session, _UNKNOWN_SENDERS, org_id, settings.unknown_senders_organization_name)
    return org_id


_CONTACT_BY_EMAIL = """
SELECT c.* FROM contact c JOIN contact_email e ON e.contact_id = c.id
WHERE lower(e.address) = $1
LIMIT 1
"""
# The active contact with the E.164 number $1 (calls.py embeds it in its statements too).
CONTACT_BY_PHONE = """
SELECT c.* FROM contact c JOIN contact_phone p ON p.contact_id = c.id
WHERE p.e164 = $1 AND c.active
ORDER BY p.position, c.id
LIMIT 1
"""


async def contact_by_email(session: AsyncSession, address: str) -> Any:
    """The contact with this address (any case), as a :class:`sql.Row`."""
    return await sql.fetchrow(session, _CONTACT_BY_EMAIL, address.strip().lower())


async def contact_by_phone(session: AsyncSession, e164: str) -> Any:
    """The active contact with this number, as a :class:`sql.Row`."""
    return await sql.fetchrow(session, CONTACT_BY_PHONE, e164)


async def new_contact(
    session: AsyncSession,
    settings: Settings,
    *,
    name: str,
    email: str | None = None,
    phone: str | None = None,
) -> Contact:
    """A contact in the unknown-senders organisation (refused, if the setting says so)."""
    if settings.unknown_senders == "refuse":
        raise UnknownSender(f"{email or phone} is not a registered contact; ask for it to be added")
    org_id = await unknown_senders_org(session, settings)
    try:
        body = ContactCreate(
            organization_id=org_id,
            name=(name or email or phone or "Unknown")[:200],
            emails=[email] if email else [],
            phones=[{"number": phone, "kind": "mobile"}] if phone else [],
        )
    except ValidationError:
        body = ContactCreate(organization_id=org_id, name=(name or "Unknown")[:200])
    try:
        async with session.begin_nested():
            return await register.create_contact(session, body, actor=SYSTEM)
    except errors.DuplicateValue:  # the same sender, at the same moment, from another request
        found = await contact_by_email(session, email) if email else None
        if found is None:
            raise
        return found


# Threading -------------------------------------------------------------------------------


def sent_ticket_id(message_id: str, domain: str) -> uuid.UUID | None:
    """The ticket a Message-ID the system wrote belongs to (``<ticket-<uuid>.…@domain>``)."""
    m = re.match(r"<ticket-([0-9a-f-]{36})[.@][^>]*@" + re.escape(domain) + ">$", message_id)
    if m is None:
        m = re.match(r"<ticket-([0-9a-f-]{36})@" + re.escape(domain) + ">$", message_id)
    try:
        return uuid.UUID(m.group(1)) if m else None
    except ValueError:
        return None


_LIVE = "SELECT * FROM ticket WHERE id = $1 FOR UPDATE"
# Stored Message-IDs a mail refers to: mails received here, and messages filed with one.
_REFERENCED = """
SELECT 1 AS source, message_id AS ref, ticket_id FROM inbound_mail
WHERE message_id = ANY($1::text[]) AND ticket_id IS NOT NULL
UNION ALL
SELECT 2, external_ref, ticket_id FROM ticket_message WHERE external_ref = ANY($1::text[])
ORDER BY source
"""
_BY_NUMBER = "SELECT id FROM ticket WHERE number = $1"


async def _live(session: AsyncSession, ticket_id: uuid.UUID | None) -> Any:
    """The ticket (a :class:`sql.Row`), followed through merges; None when it is closed or
    cancelled."""
    for _ in range(10):
        if ticket_id is None:
            return None
        ticket = await sql.fetchrow(session, _LIVE, ticket_id)
        if ticket is None:
            return None
        if ticket.status == "merged" and ticket.merged_into_id is not None:
            ticket_id = ticket.merged_into_id
            continue
        return None if ticket.status in states.FINAL else ticket
    return None


async def thread(
    session: AsyncSession, settings: Settings, mail: mailparse.InboundMail, contact: Any
) -> tuple[Any, str | None]:
    """The ticket a mail continues, and how it was found: by its references to stored or sent
    Message-IDs first, then by the subject's ``[#number]`` tag when the sender belongs to that
    ticket's organisation."""
    refs = mail.thread_ids
    if refs:
        for ref in refs:
            tid = sent_ticket_id(ref, settings.message_id_domain)
            if tid is not None and (ticket := await _live(session, tid)):
                return ticket, f"reference {ref}"
        rows = await sql.fetch(session, _REFERENCED, list(refs))
        by_ref = {r.ref: r.ticket_id for r in rows}
        for ref in refs:
            if ref in by_ref and (ticket := await _live(session, by_ref[ref])):
                return ticket, f"reference {ref}"
    number = mailparse.ticket_number(mail.subject)
    if number is not None and contact is not None:
        tid = await sql.fetchval(session, _BY_NUMBER, number)
        ticket = await _live(session, tid)
        if ticket is not None and ticket.organization_id == contact.organization_id:
            return ticket, f"subject tag #{number}"
    return None, None


# Mail ------------------------------------------------------------------------------------


@dataclass
class MailOutcome:
    row: InboundMail
    duplicate: bool
    ticket_number: int | None = None
    files: list[dict] = field(default_factory=list)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


_MAIL = "SELECT * FROM inbound_mail WHERE message_id = $1"
_NUMBER = "SELECT number FROM ticket WHERE id = $1"


async def _previous(session: AsyncSession, key: str) -> MailOutcome:
    row = await sql.fetchrow(session, _MAIL, key)
    assert row is not None
    number = None
    if row.ticket_id is not None:
        number = await sql.fetchval(session, _NUMBER, row.ticket_id)
    return MailOutcome(row, True, number, list(row.details.get("attachments", [])))


_CLAIM_MAIL = """
INSERT INTO inbound_mail
    (id, message_id, gateway, from_email, from_name, subject, loop_signal, html, size, sha256)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT DO NOTHING
RETURNING id
"""


async def receive_mail(
    session: AsyncSession,
    settings: Settings,
    mail: mailparse.InboundMail,
    *,
    gateway: str,
    actor: Actor,
) -> MailOutcome:
    """Records a mail once per Message-ID and files it: a message on the ticket it continues, a
    new ticket, or — for auto-replies and bounces — a system note on the ticket it concerns or
    just the record, never a new ticket."""
    key = mail.key[:998]
    row_id = await sql.fetchval(
        session,
        _CLAIM_MAIL,
        new_id(),
        key,
        gateway,
        mail.from_email[:500],
        mail.from_name[:500],
        mail.subject,
        mail.loop_signal,
        mail.html,
        mail.size,
        mail.sha256,
    )
    if row_id is None:  # a retry: a concurrent first attempt holds the index entry until commit
        return await _previous(session, key)

    address = valid_address(mail.from_email) if mail.from_email else None
    contact = await contact_by_email(session, mail.from_email) if mail.from_email else None
    if contact is None and mail.loop_signal is None:
        if not mail.from_email:
            raise NoSender("the mail has no From, Sender, Reply-To or Return-Path address")
        if address is not None:
            contact = await new_contact(
                session, settings, name=mail.from_name or address, email=address
            )
        elif settings.unknown_senders == "refuse":
            raise UnknownSender(f"{mail.from_email!r} is not a registered contact")
    ticket, how = await thread(session, settings, mail, contact)
    subject = (mail.subject or "").strip() or "(no subject)"
    text = mail.text.strip() or "(no text)"
    values: dict = {"contact_id": contact.id if contact else None}
    message = None
    if mail.loop_signal is not None:
        if ticket is not None:
            message = await tickets.add_message(
                session,
                ticket,
                MessageCreate(
                    body=_clip(
                        f"Automatic mail ({mail.loop_signal}): {subject}\n\n{text}", BODY_MAX
                    ),
                    public=False,
                    channel="email",
                ),
                actor=None,
                kind="system",
                external_ref=key,
            )
            values.update(disposition="auto_reply_stored", reason=how)
        else:
            values.update(disposition="auto_reply_logged", reason="no ticket to attach it to")
        log.info("auto-reply or bounce %s: %s", key, mail.loop_signal)
    elif ticket is not None:
        author = Actor(
            sub=str(contact.id) if contact else mail.from_email,
            role="customer",
            org=ticket.organization_id,
            name=mail.from_name or mail.from_email,
        )
        message = await tickets.add_message(
            session,
            ticket,
            MessageCreate(body=_clip(text, BODY_MAX), public=True, channel="email"),
            actor=author,
            kind="customer",
            external_ref=key,
        )
        values.update(disposition="message_added", reason=how)
    else:
        org_id = (
            contact.organization_id if contact else await unknown_senders_org(session, settings)
        )
        body = TicketCreate(
            subject=_clip(subject, SUBJECT_MAX),
            description=_clip(text, BODY_MAX),
            organization_id=org_id,
            contact_id=contact.id if contact else None,
            channel="email",
            severity=3,
            join_duplicates=False,
        )
        created = await tickets.create(
            session, body, actor=Actor(sub=actor.sub, role="integration", name=actor.name)
        )
        ticket = created.ticket
        values.update(disposition="ticket_created", reason=None)
    if ticket is not None:
        values["ticket_id"] = ticket.id
    if message is not None:
        values["ticket_message_id"] = message.id
    files = (
        await _store_files(session, settings, ticket, mail, message, actor)
        if ticket is not None
        else [_describe(a, False, "not stored: no ticket") for a in mail.attachments]
    )
    values["details"] = {"attachments": files, "defects": mail.defects[:50]}
    row = await _file_mail(session, row_id, values)
    return MailOutcome(row, False, ticket.number if ticket else None, files)


async def _file_mail(session: AsyncSession, row_id: uuid.UUID, values: dict) -> Any:
    """The mail's record with what became of it (one statement), as a :class:`sql.Row`."""
    sets, args = sql.set_list(values, start=2)
    row = await sql.fetchrow(
        session,
        f"UPDATE inbound_mail SET {sets} WHERE id = $1 RETURNING *",
        row_id,
        *args,
    )
    assert row is not None
    return row


def _describe(a: mailparse.Attachment, stored: bool, refused: str | None) -> dict:
    return {
        "filename": a.filename,
        "content_type": a.content_type,
        "size": len(a.data),
        "content_id": a.content_id,
        "stored": stored,
        "refused": refused,
    }


async def _store_files(session, settings, ticket, mail, message, actor) -> list[dict]:
    out = []
    for i, a in enumerate(mail.attachments):
        if i >= settings.mail_max_attachments:
            out.append(_describe(a, False, f"more than {settings.mail_max_attachments} files"))
            continue
        if not a.data:
            out.append(_describe(a, False, "empty"))
            continue
        try:
            # A refusal comes before anything is written: no savepoint needed to go on.
            await attachments.store(
                session,
                settings,
                ticket,
                filename=a.filename,
                data=a.data,
                declared_type=a.content_type,
                actor=actor,
                public=mail.loop_signal is None,
                message_id=message.id if message is not None else None,
                content_id=a.content_id,
            )
            out.append(_describe(a, True, None))
        except (
            errors.AttachmentRefused,
            errors.AttachmentTooLarge,
            errors.TooManyAttachments,
        ) as exc:
            out.append(_describe(a, False, exc.detail or exc.title))
    return out


# SMS and IM ------------------------------------------------------------------------------


@dataclass
class MessageOutcome:
    row: InboundMessage
    duplicate: bool
    ticket_number: int | None


_CLAIM_MESSAGE = """
INSERT INTO inbound_message (id, channel, external_id, sender) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
RETURNING id
"""
_MESSAGE = "SELECT * FROM inbound_message WHERE channel = $1 AND external_id = $2"
_SENDERS_OPEN_TICKET = f"""
SELECT * FROM ticket
WHERE contact_id = $1 AND status IN ({tickets.OPEN_SQL})
ORDER BY channel <> $2, id DESC
LIMIT 1
FOR UPDATE
"""
_FILE_MESSAGE = """
UPDATE inbound_message SET disposition = $2, ticket_id = $3, ticket_message_id = $4, contact_id = $5
WHERE id = $1
RETURNING *
"""


async def receive_message(
    session: AsyncSession, settings: Settings, body: MessageInbound, *, actor: Actor
) -> MessageOutcome:
    """An SMS or IM message once per (channel, external id): a message on the sender's newest
    open ticket, else a new ticket on that channel."""
    row_id = await sql.fetchval(
        session, _CLAIM_MESSAGE, new_id(), body.channel, body.external_id, body.sender
    )
    if row_id is None:
        row = await sql.fetchrow(session, _MESSAGE, body.channel, body.external_id)
        assert row is not None
        number = None
        if row.ticket_id is not None:
            number = await sql.fetchval(session, _NUMBER, row.ticket_id)
        return MessageOutcome(row, True, number)
    e164 = phones.try_normalise(body.sender, settings.phone_region)
    email = valid_address(body.sender) if "@" in body.sender else None
    contact = None
    if e164:
        contact = await contact_by_phone(session, e164)
    elif email:
        contact = await contact_by_email(session, email)
    if contact is None:
        contact = await new_contact(
            session, settings, name=body.name or body.sender, email=email, phone=e164
        )
    ticket = await sql.fetchrow(session, _SENDERS_OPEN_TICKET, contact.id, body.channel)
    links = [f"[media: {m.url}]" for m in body.media if m.url]
    text = "\n".join([body.text, *links]).strip() or "(no text)"
    message = None
    if ticket is not None:
        author = Actor(sub=str(contact.id), role="customer", org=ticket.organization_id,
                       name=contact.name)  # fmt: skip
        message = await tickets.add_message(
            session,
            ticket,
            MessageCreate(body=_clip(text, BODY_MAX), public=True, channel=body.channel),
            actor=author,
            kind="customer",
            external_ref=f"{body.channel}:{body.external_id}",
        )
        disposition = "message_added"
    else:
        first_line = text.splitlines()[0] if text else body.channel
        created = await tickets.create(
            session,
            TicketCreate(
                subject=_clip(first_line, 80),
                description=_clip(text, BODY_MAX),
                contact_id=contact.id,
                channel=body.channel,
                join_duplicates=False,
            ),
            actor=Actor(sub=actor.sub, role="integration", name=actor.name),
        )
        ticket = created.ticket
        disposition = "ticket_created"
    for m in body.media:
        if not m.data:
            continue
        try:
            data = base64.b64decode(m.data, validate=True)
        except (binascii.Error, ValueError):
            raise PayloadRefused(f"media {m.filename or ''!r}: data is not valid base64")
        await attachments.store(
            session,
            settings,
            ticket,
            filename=m.filename or "media",
            data=data,
            declared_type=m.content_type,
            actor=actor,
            message_id=message.id if message else None,
        )
    row = await sql.fetchrow(
        session,
        _FILE_MESSAGE,
        row_id,
        disposition,
        ticket.id,
        message.id if message else None,
        contact.id,
    )
    return MessageOutcome(row, False, ticket.number)
