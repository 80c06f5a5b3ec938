"""Inbox for idempotent consumers (DESIGN §4).

``claim`` records an event id in the handler's transaction. A second delivery of the same event
finds the row and has no effect; two replicas handling the same event at once serialise on the
primary key, and the loser sees the winner's committed row.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, Text, Uuid, func, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events import Event


def inbox_table(metadata: MetaData, schema: str) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("type", Text, nullable=False),
        Column("source", Text, nullable=False),
        Column("subject", Uuid, nullable=False),
        Column("seq", BigInteger, nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        schema=schema,
    )


_CLAIM = text(
    """
    INSERT INTO inbox (event_id, type, source, subject, seq)
    VALUES (:id, :type, :source, :subject, :seq)
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
    """
)


async def claim(session: AsyncSession, event: Event) -> bool:
    """True when this is the first time the event is handled; False for a redelivery."""
    result = await session.execute(
        _CLAIM,
        {
            "id": event.id,
            "type": event.type,
            "source": event.source,
            "subject": event.subject,
            "seq": event.seq,
        },
    )
    return result.first() is not None
