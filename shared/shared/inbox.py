"""Inbox for idempotent consumers (DESIGN §4).

``claim`` records an event id in the handler's transaction. A second delivery of the same event
finds the row and has no effect; two replicas handling the same event at once serialise on the
primary key, and the loser sees the winner's committed row.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, Text, Uuid, func
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import driver
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


_CLAIM = """
INSERT INTO inbox (event_id, type, source, subject, seq)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::bigint[])
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""


async def claim(session: AsyncSession, event: Event) -> bool:
    """True when this is the first time the event is handled; False for a redelivery."""
    return (await claim_many(session, [event]))[0]


async def claim_many(session: AsyncSession, batch: Sequence[Event]) -> list[bool]:
    """Claims a batch in one statement; per event, in order, whether to handle it.

    An event id repeated within the batch is handled once: its first occurrence only.
    """
    conn = await driver(session)
    rows = await conn.fetch(
        _CLAIM,
        [e.id for e in batch],
        [e.type for e in batch],
        [e.source for e in batch],
        [e.subject for e in batch],
        [e.seq for e in batch],
    )
    new = {row["event_id"] for row in rows}
    firsts = []
    for event in batch:
        firsts.append(event.id in new)
        new.discard(event.id)
    return firsts
