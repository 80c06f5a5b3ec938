"""Attachments: stored as files under ``AFTERCARE_ATTACHMENTS_DIR``, described in the database.

The declared content type is checked against the file's own magic bytes; executables and
scripts are refused, and a file whose bytes say it is something else than declared is stored
with the type its bytes show.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import filetype
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from intake import errors
from intake.models import Attachment, Ticket
from intake.settings import Settings
from intake.tickets import count_attachments
from shared.auth import Actor
from shared.ids import new_id

REFUSED_TYPES = frozenset(
    {
        "application/x-msdownload",
        "application/x-dosexec",
        "application/x-executable",
        "application/x-elf",
        "application/x-sh",
        "application/x-msi",
        "application/vnd.microsoft.portable-executable",
        "application/java-archive",
        "application/x-mach-binary",
    }
)
REFUSED_EXTENSIONS = frozenset(
    {".exe", ".dll", ".bat", ".cmd", ".com", ".scr", ".msi", ".ps1", ".vbs", ".js", ".jar", ".sh"}
)


def content_type_of(data: bytes, declared: str | None, filename: str) -> str:
    """The type to store: what the bytes say, else the declared one; refuses executables."""
    if Path(filename).suffix.lower() in REFUSED_EXTENSIONS:
        raise errors.AttachmentRefused(f"{filename}: executable files are not accepted")
    sniffed = filetype.guess_mime(data[:8192])
    declared = (declared or "application/octet-stream").split(";")[0].strip().lower()
    if data[:2] == b"MZ" or data[:4] == b"\x7fELF":
        sniffed = "application/x-executable"
    for candidate in (sniffed, declared):
        if candidate in REFUSED_TYPES:
            raise errors.AttachmentRefused(f"{filename}: {candidate} is not accepted")
    return sniffed or declared


def safe_filename(name: str) -> str:
    base = Path(name.replace("\\", "/")).name.strip().replace("\x00", "")
    return base[:255] or "attachment"


async def store(
    session: AsyncSession,
    settings: Settings,
    ticket: Ticket,
    *,
    filename: str,
    data: bytes,
    declared_type: str | None,
    actor: Actor,
    public: bool = True,
    message_id: uuid.UUID | None = None,
    content_id: str | None = None,
) -> Attachment:
    if len(data) > settings.attachment_max_bytes:
        raise errors.AttachmentTooLarge(
            f"{filename} is {len(data)} bytes; the limit is {settings.attachment_max_bytes}"
        )
    if await count_attachments(session, ticket.id) >= settings.attachments_per_ticket:
        raise errors.TooManyAttachments(
            f"a ticket holds at most {settings.attachments_per_ticket} attachments"
        )
    name = safe_filename(filename)
    content_type = content_type_of(data, declared_type, name)
    attachment_id = new_id()
    key = f"{ticket.id}/{attachment_id}"
    _write(settings.attachments_dir / key, data)
    return (
        await session.execute(
            insert(Attachment)
            .values(
                id=attachment_id,
                ticket_id=ticket.id,
                message_id=message_id,
                filename=name,
                content_type=content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                storage_key=key,
                public=public or actor.is_customer,
                content_id=content_id,
                created_by=actor.sub,
            )
            .returning(Attachment)
        )
    ).scalar_one()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


async def list_for(session: AsyncSession, ticket: Ticket, *, actor: Actor) -> list[Attachment]:
    stmt = select(Attachment).where(Attachment.ticket_id == ticket.id)
    if actor.is_customer:
        stmt = stmt.where(Attachment.public.is_(True))
    return list((await session.execute(stmt.order_by(Attachment.created_at))).scalars())


async def get(
    session: AsyncSession, ticket: Ticket, attachment_id: uuid.UUID, *, actor: Actor
) -> Attachment:
    attachment = await session.get(Attachment, attachment_id)
    if (
        attachment is None
        or attachment.ticket_id != ticket.id
        or (actor.is_customer and not attachment.public)
    ):
        raise errors.AttachmentNotFound(f"no attachment {attachment_id} on this ticket")
    return attachment


def path_of(settings: Settings, attachment: Attachment) -> Path:
    return settings.attachments_dir / attachment.storage_key
