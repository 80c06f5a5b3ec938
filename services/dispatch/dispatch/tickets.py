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
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import routing, sql
from dispatch.sql import Rec
from shared import events

# An engineer's open assignments and the time of their last one, by engineer.
Loads = dict[uuid.UUID, tuple[int, datetime | None]]

OPEN = frozenset({"new", "assigned", "in_progress", "pending_customer", "reopened"})
DONE = frozenset({"resolved", "closed", "merged", "cancelled"})
# Resolved tickets may come back (reopen); these never do.
FINAL = frozenset({"closed", "merged", "cancelled"})
# The tier of a ticket when dispatch first records it (the column's default).
NEW_TIER = 1

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
    conn = await sql.driver(session)
    await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(ticket_id))


async def try_lock(session: AsyncSession, ticket_id: uuid.UUID) -> bool:
    conn = await sql.driver(session)
    return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", lock_key(ticket_id)))


async def load(session: AsyncSession, ticket_id: uuid.UUID) -> Rec | None:
    conn = await sql.driver(session)
    return sql.rec(await conn.fetchrow("SELECT * FROM ticket WHERE id = $1", ticket_id))


def facts(ticket: Rec) -> routing.TicketFacts:
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


def routing_tier(ticket: Rec) -> int:
    """At tier 3 the vendor works the case and a headquarters engineer stays responsible."""
    return min(ticket.tier, 2)


def routable(ticket: Rec) -> bool:
    return ticket.details_seq > 0 and ticket.status in OPEN


_COLUMNS = ("number", *DETAILS.values())
_INSERT_CREATED = f"""
    INSERT INTO ticket (id, details_seq, field_seqs, {", ".join(_COLUMNS)})
    VALUES ($1, $2, $3::jsonb, {", ".join(f"${i}" for i in range(4, 4 + len(_COLUMNS)))})
    ON CONFLICT (id) DO NOTHING
    RETURNING *
"""


async def record_created(session: AsyncSession, event: events.TicketCreated) -> tuple[Rec, bool]:
    """The merged row, and whether this made it routable for the first time (true unless
    the same ticket's creation was already recorded)."""
    d = event.data
    values = {column: getattr(d, field) for field, column in DETAILS.items()}
    seq = max(event.seq, 1)
    conn = await sql.driver(session)
    fresh = await conn.fetchrow(
        _INSERT_CREATED,
        event.subject,
        seq,
        sql.dumps({column: seq for column in DETAILS.values()}),
        d.ticket_number,
        *values.values(),
    )
    if fresh is not None:
        return sql.Rec.of(fresh), True
    before = await load(session, event.subject)
    row = await merge(session, event.subject, d.ticket_number, values, seq, details_seq=seq)
    return row, before is None or before.details_seq == 0


def _loads_of(ids: str) -> str:
    """The loads of the engineers whose ids are parameter ``ids``, as three arrays in one row
    (``load_ids``, ``load_open``, ``load_last``), to read alongside a ticket's insert."""
    return f"""
        SELECT array_agg(l.engineer_id) AS load_ids, array_agg(l.open_count) AS load_open,
               array_agg(l.last_assigned_at) AS load_last
        FROM engineer_load AS l
        WHERE l.engineer_id = ANY({ids}::uuid[])
    """


# The fast path of a new ticket, in one round trip: the ticket's lock, the insert of its row
# (nothing when the ticket is known already), and for routing it the roster version and the
# loads of the engineers it will most likely choose from (``$N`` below).
_LOCK_CREATE_LOADS = f"""
    WITH lk AS (SELECT pg_advisory_xact_lock($1)),
    ins AS (
        INSERT INTO ticket (id, details_seq, field_seqs, {", ".join(_COLUMNS)})
        SELECT $2, $3, $4::jsonb, {", ".join(f"${i}" for i in range(5, 5 + len(_COLUMNS)))}
        FROM lk
        ON CONFLICT (id) DO NOTHING
        RETURNING *
    )
    SELECT ins.*, v.version AS roster_version, ld.load_ids, ld.load_open, ld.load_last
    FROM ins CROSS JOIN roster_state AS v
    CROSS JOIN LATERAL ({_loads_of(f"${5 + len(_COLUMNS)}")}) AS ld
    WHERE v.id = 1
"""


# The fast path of a run of new tickets in a consumer batch: every ticket's lock (in key
# order, as any other transaction locking several of them would take them), then the insert of
# those not seen before, from one JSON array of rows ($1), and for routing them the roster
# version and the loads of the engineers they will most likely choose from ($3), carried by
# the first row: one round trip.
_LOCK_CREATE_MANY = f"""
    WITH lk AS (
        SELECT count(pg_advisory_xact_lock(k)) AS n
        FROM (SELECT DISTINCT k FROM unnest($2::bigint[]) AS k ORDER BY k) AS keys
    ),
    ins AS (
        INSERT INTO ticket (id, details_seq, field_seqs, {", ".join(_COLUMNS)})
        SELECT r.id, r.details_seq, r.field_seqs, {", ".join(f"r.{c}" for c in _COLUMNS)}
        FROM lk CROSS JOIN LATERAL jsonb_populate_recordset(NULL::ticket, $1::text::jsonb) AS r
        WHERE lk.n > 0
        ON CONFLICT (id) DO NOTHING
        RETURNING *
    ),
    numbered AS (
        SELECT ins.*, row_number() OVER () AS row_no FROM ins
    )
    SELECT numbered.*, v.version AS roster_version, ld.load_ids, ld.load_open, ld.load_last
    FROM numbered CROSS JOIN roster_state AS v
    LEFT JOIN LATERAL ({_loads_of("$3")}) AS ld ON numbered.row_no = 1
    WHERE v.id = 1
"""


async def lock_and_create_many(
    session: AsyncSession, created: list[events.TicketCreated], engineer_ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, Rec], int | None, Loads]:
    """:func:`lock` for every ticket of ``created`` and the insert of those not seen before, in
    one statement: the inserted rows by ticket id, and the roster version and the loads of
    ``engineer_ids`` read alongside (None and nothing when no ticket was inserted). A ticket
    missing from the answer was known already (its lock is held all the same):
    :func:`record_created` merges it."""
    rows = []
    for event in created:
        seq = max(event.seq, 1)
        row = {column: getattr(event.data, field) for field, column in DETAILS.items()}
        row.update(
            id=event.subject,
            number=event.data.ticket_number,
            details_seq=seq,
            field_seqs={column: seq for column in DETAILS.values()},
        )
        rows.append(row)
    conn = await sql.driver(session)
    inserted = await conn.fetch(
        _LOCK_CREATE_MANY,
        sql.dumps(rows),
        [lock_key(e.subject) for e in created],
        engineer_ids,
    )
    version, loads = None, {}
    out = {}
    for record in inserted:
        values = dict(record)
        del values["row_no"]
        version = values.pop("roster_version")
        loads.update(
            _loads(values.pop("load_ids"), values.pop("load_open"), values.pop("load_last"))
        )
        out[values["id"]] = Rec.of(values)
    return out, version, loads


def _loads(ids: list | None, opens: list | None, lasts: list | None) -> Loads:
    return dict(zip(ids or [], zip(opens or [], lasts or [], strict=True), strict=True))


async def lock_and_create(
    session: AsyncSession, event: events.TicketCreated, engineer_ids: list[uuid.UUID]
) -> tuple[Rec, int, Loads] | None:
    """``lock`` and the insert of a ticket not seen before, in one statement, with the roster
    version and the loads (open count, last assignment) of ``engineer_ids`` read alongside.
    None when the ticket is known already (a redelivery, or a stub left by a later event):
    the lock is held all the same, and :func:`record_created` merges it."""
    d = event.data
    seq = max(event.seq, 1)
    conn = await sql.driver(session)
    row = await conn.fetchrow(
        _LOCK_CREATE_LOADS,
        lock_key(event.subject),
        event.subject,
        seq,
        sql.dumps({column: seq for column in DETAILS.values()}),
        d.ticket_number,
        *(getattr(d, field) for field in DETAILS),
        engineer_ids,
    )
    if row is None:
        return None
    values = dict(row)
    version = values.pop("roster_version")
    loads = _loads(values.pop("load_ids"), values.pop("load_open"), values.pop("load_last"))
    return Rec.of(values), version, loads


def _coerce(column: str, value: Any) -> Any:
    """A ``ticket.updated`` value (plain JSON) as the column's type."""
    if value is None:
        return None
    if column == "organization_id":
        return uuid.UUID(str(value))
    if column == "reported_at":
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if column == "severity":
        return int(value)
    if column == "on_site_required":
        return bool(value)
    return value if isinstance(value, str) else str(value)


async def record_update(session: AsyncSession, event: events.TicketUpdated) -> Rec:
    d = event.data
    values = {DETAILS[f]: _coerce(DETAILS[f], c.new) for f, c in d.changes.items() if f in DETAILS}
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
) -> Rec:
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
) -> Rec:
    """Applies the fields of an event with ``seq`` where they are newer than what the row has;
    creates a stub row first if the ticket is unknown."""
    conn = await sql.driver(session)
    row = await load(session, ticket_id)
    if row is None:
        await conn.execute(
            "INSERT INTO ticket (id, number, on_site_required) VALUES ($1, $2, false) "
            "ON CONFLICT DO NOTHING",
            ticket_id,
            number,
        )
        row = await load(session, ticket_id)
        assert row is not None
    seqs = dict(row.field_seqs)
    changes: dict[str, Any] = {}
    for column, value in values.items():
        if column not in _COLUMNS:
            raise ValueError(f"not a ticket detail: {column}")
        if seq > seqs.get(column, 0):
            changes[column] = value
            seqs[column] = seq
    if changes:
        changes["field_seqs"] = sql.dumps(seqs)
    if status is not None and seq > row.status_seq:
        changes["status"], changes["status_seq"] = status, seq
    if details_seq is not None and row.details_seq == 0:
        changes["details_seq"] = details_seq
    if row.number is None:
        changes["number"] = number
    if not changes:
        return row
    assignments = ", ".join(
        f"{name} = ${i}{'::jsonb' if name == 'field_seqs' else ''}"
        for i, name in enumerate(changes, start=2)
    )
    return sql.Rec.of(
        await conn.fetchrow(
            f"UPDATE ticket SET {assignments} WHERE id = $1 RETURNING *",
            ticket_id,
            *changes.values(),
        )
    )


async def set_queue(
    session: AsyncSession, ticket_id: uuid.UUID, branch_id: uuid.UUID | None, *, queued: bool
) -> None:
    """Puts the ticket in (or takes it out of) a branch queue; ``queued_at`` keeps the moment
    it started waiting while it stays queued."""
    conn = await sql.driver(session)
    if queued:
        await conn.execute(
            "UPDATE ticket SET queue_branch_id = $2, queued_at = coalesce(queued_at, now()), "
            "evaluated_at = now() WHERE id = $1",
            ticket_id,
            branch_id,
        )
    else:
        await conn.execute(
            "UPDATE ticket SET queue_branch_id = NULL, queued_at = NULL, evaluated_at = now() "
            "WHERE id = $1",
            ticket_id,
        )


async def set_tier(session: AsyncSession, ticket_id: uuid.UUID, tier: int) -> Rec:
    conn = await sql.driver(session)
    return sql.Rec.of(
        await conn.fetchrow(
            "UPDATE ticket SET tier = $2 WHERE id = $1 RETURNING *", ticket_id, tier
        )
    )


async def touch(session: AsyncSession, ticket_id: uuid.UUID) -> None:
    conn = await sql.driver(session)
    await conn.execute("UPDATE ticket SET evaluated_at = now() WHERE id = $1", ticket_id)


async def touch_many(session: AsyncSession, ticket_ids: list[uuid.UUID]) -> None:
    conn = await sql.driver(session)
    await conn.execute(
        "UPDATE ticket SET evaluated_at = now() WHERE id = ANY($1::uuid[])", ticket_ids
    )


async def queued(session: AsyncSession, *, limit: int) -> list[Rec]:
    """Queued tickets, most severe first, then longest waiting."""
    conn = await sql.driver(session)
    rows = await conn.fetch(
        "SELECT * FROM ticket WHERE queued_at IS NOT NULL "
        "ORDER BY severity, queued_at, id LIMIT $1",
        limit,
    )
    return [Rec.of(r) for r in rows]
