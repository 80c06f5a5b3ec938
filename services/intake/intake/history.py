"""The ticket's timeline: every use case that changes a ticket records what happened here."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from intake import sql
from shared.db import utcnow
from shared.ids import new_id

_INSERT = """
INSERT INTO ticket_event (id, ticket_id, at, kind, actor, public, summary, data, source_event_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9)
"""


async def record(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    kind: str,
    summary: str,
    *,
    actor: str | None = None,
    public: bool = True,
    at: datetime | None = None,
    data: dict[str, Any] | None = None,
    source_event_id: uuid.UUID | None = None,
) -> None:
    await sql.execute(
        session,
        _INSERT,
        new_id(),
        ticket_id,
        at or utcnow(),
        kind,
        actor,
        public,
        summary,
        sql.dumps(data or {}),
        source_event_id,
    )
