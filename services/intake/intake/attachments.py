"""Attachments: stored as files under ``AFTERCARE_ATTACHMENTS_DIR``, described in the database.

The declared content type is checked against the file's own magic bytes; executables and
scripts are refused, and a file whose bytes say it is something else than declared is stored
with the type its bytes show.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import filetype
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from intake import errors, sql
from intake.models import Attachment, Ticket
from intake.settings import Settings
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


_COUNT = "SELECT count(*) FROM attachment WHERE ticket_id = $1"
_INSERT = """
INSERT INTO attachment (id, ticket_id, message_id, filename, content_type, size, sha256,
                        storage_key, public, content_id, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING *
"""


async def store(
    session: AsyncSession,
    settings: Settings,
    ticket: Any,
    *,
    filename: str,
    data: bytes,
    declared_type: str | None,
    actor: Actor,
    public: bool = True,
    message_id: uuid.UUID | None = None,
    content_id: str | None = None,
) -> Any:
    """Checks, writes and records one file of ``ticket``: its row (a :class:`sql.Row`, read
    like :class:`Attachment`). The file is on disk, synced, before its row is written; if the
    transaction then rolls back, the file stays unreferenced."""
    if len(data) > settings.attachment_max_bytes:
        raise errors.AttachmentTooLarge(
            f"{filename} is {len(data)} bytes; the limit is {settings.attachment_max_bytes}"
        )
    if await sql.fetchval(session, _COUNT, ticket.id) >= settings.attachments_per_ticket:
        raise errors.TooManyAttachments(
            f"a ticket holds at most {settings.attachments_per_ticket} attachments"
        )
    name = safe_filename(filename)
    content_type = content_type_of(data, declared_type, name)
    attachment_id = new_id()
    key = f"{ticket.id}/{attachment_id}"
    # The writes and syncs wait on the disk: in a thread, while the event loop serves others.
    await asyncio.to_thread(_write, settings.attachments_dir / key, data)
    return await sql.fetchrow(
        session,
        _INSERT,
        attachment_id,
        ticket.id,
        message_id,
        name,
        content_type,
        len(data),
        hashlib.sha256(data).hexdigest(),
        key,
        public or actor.is_customer,
        content_id,
        actor.sub,
    )


def _write(path: Path, data: bytes) -> None:
    """Writes the file whole or not at all (a temporary file renamed into place), and syncs
    the file and the directory entries that name it, so a stored file survives a crash."""
    created = not path.parent.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    for directory in (path.parent, path.parent.parent) if created else (path.parent,):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
