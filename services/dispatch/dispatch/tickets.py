"""Dispatch's projection of tickets, merged from intake's events in any order (DESIGN §4).

Detail fields (region, product, severity ...) carry the ``seq`` of the event that last set
them in ``field_seqs``; an event changes a field only if it is newer, so ``ticket.created`` and
``ticket.updated`` merge to the same row whatever order they arrive in. ``status`` likewise
keeps the status of the newest status-bearing event. A row created by a later event before
``ticket.created`` arrived is a stub (``details_seq`` 0) and is not routed until it has its
details.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import routing
from dispatch.models import Ticket
from shared import events

T = Ticket.__table__

OPEN = frozenset({"new", "assigned", "in_progress", "pending_customer", "reopened"})
DONE = frozenset({"resolved", "closed", "merged", "cancelled"})
# Resolved tickets may come back (reopen); these never do.
FINAL = frozenset({"closed", "merged", "cancelled"})

# ticket.created / ticket.updated field → projection column
DETAILS = {
    "organization_id": "organization_id",
    "organization_name": "organization_name",
    "subject": "subject",
    "kind": "kind",
    "severity": "severity",
    "category": "category",
    "region": "region",
    "product": "product",
    "serial": "serial",
    "coverage": "coverage",
    "on_site_required": "on_site_required",
    "language": "language",
    "site_address": "site_address",
    "contract_number": "contract_number",
    "contact_name": "contact_name",
    "contact_phone": "contact_phone",
    "contact_email": "contact_email",
    "reported_at": "reported_at",
}


def lock_key(ticket_id: uuid.UUID) -> int:
    """The advisory lock key of a ticket: its random low 64 bits (UUIDv7's high bits are the
    clock, which tickets created in the same millisecond share)."""
    return int.from_bytes(ticket_id.bytes[8:], "big", signed=True)


async def lock(session: AsyncSession, ticket_id: uuid.UUID) -> None:
    """Serialises everything dispatch does to one ticket until the transaction ends: event
    handlers on any worker, engineer actions, the queue re-evaluation."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(ticket_id)})


async def try_lock(session: AsyncSession, ticket_id: uuid.UUID) -> bool:
    result = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_key(ticket_id)}
    )
    return bool(result.scalar_one())


async def load(session: AsyncSession, ticket_id: uuid.UUID) -> Row | None:
    return (await session.execute(select(T).where(T.c.id == ticket_id))).first()


def facts(ticket: Row) -> routing.TicketFacts:
    return routing.TicketFacts(
        ticket_id=ticket.id,
        tier=routing_tier(ticket),
        region=ticket.region,
        coverage=ticket.coverage,
        product=ticket.product,
        category=ticket.category,
        language=ticket.language,
        severity=ticket.severity,
    )


def routing_tier(ticket: Row) -> int:
    """At tier 3 the vendor works the case and a headquarters engineer stays responsible."""
    return min(ticket.tier, 2)


def routable(ticket: Row) -> bool:
    return ticket.details_seq > 0 and ticket.status in OPEN


async def record_created(session: AsyncSession, event: events.TicketCreated) -> tuple[Row, bool]:
    """The merged row, and whether this made it routable for the first time (true unless
    the same ticket's creation was already recorded)."""
    d = event.data
    values = {column: getattr(d, field) for field, column in DETAILS.items()}
    seq = max(event.seq, 1)
    fresh = (
        await session.execute(
            insert(T)
            .values(
                id=event.subject,
                number=d.ticket_number,
                details_seq=seq,
                field_seqs={field: seq for field in DETAILS},
                **values,
            )
            .on_conflict_do_nothing(index_elements=[T.c.id])
            .returning(*T.c)
        )
    ).first()
    if fresh is not None:
        return fresh, True
    before = await load(session, event.subject)
    row = await merge(session, event.subject, d.ticket_number, values, seq, details_seq=seq)
    return row, before is None or before.details_seq == 0


async def record_update(session: AsyncSession, event: events.TicketUpdated) -> Row:
    d = event.data
    values = {DETAILS[f]: c.new for f, c in d.changes.items() if f in DETAILS}
    values.setdefault("severity", d.severity)
    values.setdefault("kind", d.kind)
    return await merge(session, event.subject, d.ticket_number, values, event.seq)


async def record_status(
    session: AsyncSession,
    event: events.Event,
    status: str,
    *,
    number: int,
    details: dict[str, Any] | None = None,
) -> Row:
    return await merge(session, event.subject, number, details or {}, event.seq, status=status)


async def merge(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    number: int,
    values: dict[str, Any],
    seq: int,
    *,
    status: str | None = None,
    details_seq: int | None = None,
) -> Row:
    """Applies the fields of an event with ``seq`` where they are newer than what the row has;
    creates a stub row first if the ticket is unknown."""
    row = await load(session, ticket_id)
    if row is None:
        await session.execute(
            insert(T).values(id=ticket_id, number=number).on_conflict_do_nothing()
        )
        row = await load(session, ticket_id)
        assert row is not None
    seqs = dict(row.field_seqs)
    changes: dict[str, Any] = {}
    for column, value in values.items():
        if seq > seqs.get(column, 0):
            changes[column] = value
            seqs[column] = seq
    if changes:
        changes["field_seqs"] = seqs
    if status is not None and seq > row.status_seq:
        changes["status"], changes["status_seq"] = status, seq
    if details_seq is not None and row.details_seq == 0:
        changes["details_seq"] = details_seq
    if row.number is None:
        changes["number"] = number
    if not changes:
        return row
    return (
        await session.execute(
            update(T).where(T.c.id == ticket_id).values(**changes).returning(*T.c)
        )
    ).one()


async def set_queue(
    session: AsyncSession, ticket_id: uuid.UUID, branch_id: uuid.UUID | None, *, queued: bool
) -> None:
    """Puts the ticket in (or takes it out of) a branch queue; ``queued_at`` keeps the moment
    it started waiting while it stays queued."""
    if queued:
        values = {
            "queue_branch_id": branch_id,
            "queued_at": func.coalesce(T.c.queued_at, func.now()),
            "evaluated_at": func.now(),
        }
    else:
        values = {"queue_branch_id": None, "queued_at": None, "evaluated_at": func.now()}
    await session.execute(update(T).where(T.c.id == ticket_id).values(**values))


async def set_tier(session: AsyncSession, ticket_id: uuid.UUID, tier: int) -> Row:
    return (
        await session.execute(
            update(T).where(T.c.id == ticket_id).values(tier=tier).returning(*T.c)
        )
    ).one()


async def touch(session: AsyncSession, ticket_id: uuid.UUID) -> None:
    await session.execute(update(T).where(T.c.id == ticket_id).values(evaluated_at=func.now()))


async def queued(session: AsyncSession, *, limit: int) -> list[uuid.UUID]:
    """Queued tickets, most severe first, then longest waiting."""
    stmt = (
        select(T.c.id)
        .where(T.c.queued_at.is_not(None))
        .order_by(T.c.severity, T.c.queued_at, T.c.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
