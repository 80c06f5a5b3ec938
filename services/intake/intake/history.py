"""The ticket's timeline: every use case that changes a ticket records what happened here."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from intake.models import TicketEvent
from shared.db import utcnow
from shared.ids import new_id


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
    await session.execute(
        insert(TicketEvent).values(
            id=new_id(),
            ticket_id=ticket_id,
            at=at or utcnow(),
            kind=kind,
            actor=actor,
            public=public,
            summary=summary,
            data=data or {},
            source_event_id=source_event_id,
        )
    )
