"""Use cases for assignments: routing a ticket, writing and ending assignments (the actions
of engineers and managers that use them are in actions.py).

Every function here runs with the ticket's advisory lock held (``tickets.lock``), so one
ticket is handled by one transaction at a time on any worker; a partial unique index keeps at
most one active primary assignment per ticket all the same. Capacity is kept by the engineer's
``engineer_load`` row: an assignment increments ``open_count`` with an ``UPDATE`` that checks
``open_count < max_open`` on the locked row, so two workers choosing the same engineer at once
can never push them over (DESIGN §9: any number of workers).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from prometheus_client import Counter
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import roster, routing, sql, tickets
from dispatch.emit import emit
from dispatch.models import Assignment
from dispatch.sql import Rec
from shared import events
from shared import logging as aclog
from shared.auth import Actor, Forbidden
from shared.http import Conflict, NotFound, Problem
from shared.ids import new_id

A = Assignment.__table__


# How often to decide again when the engineer chosen filled up meanwhile (or the roster moved).
ATTEMPTS = 8


# The note of a decision whose winner was not the best-ranked engineer, after the count.
SKIPPED_NOTE = " higher-ranked engineer(s) were being assigned at the same moment"

# Set in session.info once the transaction holds an engineer_load row lock.
HOLDS_LOAD_ROWS = "dispatch.holds_load_rows"


class RoutingContention(RuntimeError):
    """Routing would have to wait for an engineer's row while this transaction holds others'
    (a batch of events in one transaction). The consumer then rolls the batch back and handles
    its events one per transaction, where the wait is safe."""


class AssignmentNotFound(NotFound):
    type = "assignment-not-found"
    title = "Assignment not found"


class TicketUnknown(NotFound):
    type = "ticket-not-found"
    title = "Dispatch has not seen this ticket"


class IllegalAction(Conflict):
    type = "illegal-assignment-action"
    title = "Not allowed in the assignment's current state"


class NotYourAssignment(Forbidden):
    type = "not-your-assignment"
    title = "This assignment belongs to another engineer"


class EngineerUnavailable(Conflict):
    type = "engineer-unavailable"
    title = "The engineer cannot take the ticket"


class TicketNotOpen(Conflict):
    type = "ticket-not-open"
    title = "The ticket is not open"


class WrongTier(Problem):
    status = 422
    type = "engineer-wrong-tier"
    title = "The engineer is of another tier than the ticket"


@dataclass
class Cause:
    """What led to a change: the event consumed, or the person acting through the API."""

    event: events.Event | None = None
    actor: Actor | None = None

    def envelope(self) -> dict[str, Any]:
        if self.event is not None:
            return self.event.caused()
        rid = aclog.request_id.get()
        try:
            return {"correlation_id": uuid.UUID(rid)} if rid else {}
        except ValueError:
            return {}

    @property
    def user(self) -> str | None:
        return self.actor.sub if self.actor else None


# ---- reading ------------------------------------------------------------------------------


async def get(session: AsyncSession, assignment_id: uuid.UUID) -> Row:
    row = (await session.execute(select(A).where(A.c.id == assignment_id))).first()
    if row is None:
        raise AssignmentNotFound(f"no assignment {assignment_id}")
    return row


async def active_primary(session: AsyncSession, ticket_id: uuid.UUID) -> Row | None:
    return (
        await session.execute(
            select(A).where(
                A.c.ticket_id == ticket_id, A.c.role == "primary", A.c.ended_at.is_(None)
            )
        )
    ).first()


async def active(session: AsyncSession, ticket_id: uuid.UUID) -> list[Row]:
    return list(
        await session.execute(select(A).where(A.c.ticket_id == ticket_id, A.c.ended_at.is_(None)))
    )


async def previous_engineer(session: AsyncSession, ticket_id: uuid.UUID) -> uuid.UUID | None:
    """Who last worked the ticket through to its resolution (for a reopen)."""
    return (
        await session.execute(
            select(A.c.engineer_id)
            .where(A.c.ticket_id == ticket_id, A.c.role == "primary", A.c.end_reason == "released")
            .order_by(A.c.ended_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def refusals(session: AsyncSession, ticket_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """Engineers who declined or handed back this ticket: routing passes them over."""
    rows = await session.execute(
        select(A.c.engineer_id, A.c.end_reason, A.c.end_detail).where(
            A.c.ticket_id == ticket_id, A.c.end_reason.in_(("declined", "handed_back"))
        )
    )
    return {r.engineer_id: _refusal(r.end_reason, r.end_detail) for r in rows}


def _refusal(end_reason: str, end_detail: str | None) -> str:
    return end_reason.replace("_", " ") + (f": {end_detail}" if end_detail else "")


# ---- routing ------------------------------------------------------------------------------


Loads = tickets.Loads


async def route(
    session: AsyncSession,
    ticket: Rec,
    *,
    trigger: str,
    cause: Cause,
    exclude: dict[uuid.UUID, str] | None = None,
    previous_engineer_id: uuid.UUID | None = None,
    released: Row | Rec | None = None,
    preloaded: tuple[int, list[uuid.UUID], Loads] | None = None,
) -> Rec | None:
    """Routes a ticket that has no active primary assignment: assigns the best engineer, or
    puts the ticket in its branch queue (``ticket.unassigned`` when it starts waiting).
    ``released`` is the assignment that just ended, if one did (decline, hand back).
    ``preloaded``: the roster version, and the loads of these engineers, read in this
    transaction already (a new ticket's first statement reads them): used when they are
    the pool's."""
    ticket_facts = tickets.facts(ticket)
    exclude = dict(exclude or {})
    snapshot = roster.cached(session)
    decision = None
    for _ in range(ATTEMPTS):
        if snapshot is None or (preloaded is not None and preloaded[0] != snapshot.version):
            snapshot = await roster.current(session, preloaded[0] if preloaded else None)
        branches, pool = snapshot.pool(tier=ticket_facts.tier, region=ticket.region)
        previous = snapshot.engineers.get(previous_engineer_id) if previous_engineer_id else None
        ids = [e.id for e in pool] + ([previous.id] if previous and previous not in pool else [])
        if preloaded is not None and preloaded[1] == ids:
            loads = preloaded[2]
        else:
            version, loads = await loads_of(session, ids)
            if version != snapshot.version:
                # The roster changed since this process cached it: decide on the new one.
                snapshot = await roster.current(session, version)
                preloaded = None
                continue
        preloaded = None
        decision = _decide(
            snapshot, ticket_facts, branches, pool, previous, loads, exclude, datetime.now(UTC)
        )
        if decision.outcome == "queued":
            break
        row = await _take_and_assign(
            session, snapshot, ticket, decision, trigger=trigger, released=released, cause=cause
        )
        if row is not None:
            return row
        if decision.rule == "previous_engineer":
            previous_engineer_id = None  # they filled up meanwhile: route among the others
    if decision is None:
        raise RuntimeError("the roster kept changing while deciding")
    if decision.outcome == "assigned":
        decision.outcome, decision.rule, decision.ranked = "queued", None, []
        decision.notes.append("every eligible engineer filled up while deciding")
    await _queue(session, ticket, decision, trigger=trigger, cause=cause, released=released)
    return None


# ---- a run of new tickets, decided together --------------------------------------------------


RUNS_ROUTED = Counter(
    "aftercare_dispatch_batch_runs_total",
    "Runs of new tickets in a consumer batch, by how they were routed: planned (decided and "
    "written together) or contended (a planned engineer was taken meanwhile: one by one)",
    ["outcome"],
)


@dataclass
class Planned:
    """A new ticket's decision made with the rest of its consumer batch, and the assignment
    written for it (None when the decision is to queue it)."""

    decision: routing.Decision
    row: Rec | None = None


def plan_new(
    snapshot: roster.Roster, new: list[Rec], loads: Loads, now: datetime
) -> list[routing.Decision]:
    """Decides a run of new tickets in order, as :func:`route` would decide them one after the
    other: each planned assignment counts in the loads the next tickets see (``loads`` is
    updated in place)."""
    decisions = []
    for ticket in new:
        ticket_facts = tickets.facts(ticket)
        branches, pool = snapshot.pool(tier=ticket_facts.tier, region=ticket.region)
        decision = _decide(snapshot, ticket_facts, branches, pool, None, loads, {}, now)
        if decision.outcome == "assigned":
            winner = decision.ranked[0]
            load = loads.get(winner)
            loads[winner] = ((load[0] if load else 0) + 1, now)
        decisions.append(decision)
    return decisions


# A run's planned assignments, all or nothing, in one statement: the load rows of every
# planned winner ($1, each taking $2 units), locked only when no other transaction holds them
# and they have room for all their units (rechecked on the newest version, as in _TAKE); then,
# only when every one of them was locked, their loads, the decisions and the assignments. When
# one is missing nothing is written and the rows that were locked stay locked (the caller
# then routes the run one ticket at a time, as route() does).
_ASSIGN_PLANNED = """
    WITH want AS (
        SELECT * FROM unnest($1::uuid[], $2::int[]) AS w(engineer_id, n)
    ),
    locked AS (
        SELECT l.engineer_id
        FROM engineer_load AS l
        JOIN want AS w ON w.engineer_id = l.engineer_id
        JOIN engineer AS e ON e.id = l.engineer_id
        WHERE e.active AND l.open_count + w.n <= e.max_open
        FOR UPDATE OF l SKIP LOCKED
    ),
    go AS (
        SELECT count(*) = cardinality($1::uuid[]) AS ok FROM locked
    ),
    t AS (
        UPDATE engineer_load AS l
        SET open_count = l.open_count + w.n, last_assigned_at = clock_timestamp()
        FROM want AS w, go
        WHERE go.ok AND l.engineer_id = w.engineer_id
    ),
    u AS (
        SELECT *
        FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::int[], $7::text[], $8::uuid[],
                    $9::text[])
             AS u(id, ticket_id, engineer_id, tier, rule, decision_id, reason)
    ),
    d AS (
        INSERT INTO routing_decision (id, ticket_id, trigger, outcome, tier, engineer_id, reason)
        SELECT u.decision_id, u.ticket_id, 'created', 'assigned', u.tier, u.engineer_id,
               u.reason::jsonb
        FROM u, go
        WHERE go.ok
    )
    INSERT INTO assignment (id, ticket_id, engineer_id, tier, role, status, by, rule,
                            decision_id, assigned_by, previous_engineer_id)
    SELECT u.id, u.ticket_id, u.engineer_id, u.tier, 'primary', 'assigned', 'rule', u.rule,
           u.decision_id, NULL, NULL
    FROM u, go
    WHERE go.ok
    RETURNING *
"""


async def assign_planned(
    session: AsyncSession,
    new: list[Rec],
    decisions: list[routing.Decision],
) -> dict[uuid.UUID, Planned] | None:
    """Writes the planned assignments of a run of new tickets (:func:`plan_new`) in one
    statement. None when one planned engineer was being assigned by another transaction or
    filled up meanwhile: nothing is written then, and the run is routed one ticket at a time."""
    planned = {t.id: Planned(d) for t, d in zip(new, decisions, strict=True)}
    assigned = [(t, d) for t, d in zip(new, decisions, strict=True) if d.outcome == "assigned"]
    if not assigned:
        RUNS_ROUTED.labels(outcome="planned").inc()
        return planned
    counts: dict[uuid.UUID, int] = {}
    for _, d in assigned:
        counts[d.ranked[0]] = counts.get(d.ranked[0], 0) + 1
    conn = await sql.generic_plans(session)
    records = await conn.fetch(
        _ASSIGN_PLANNED,
        list(counts),
        list(counts.values()),
        [new_id() for _ in assigned],
        [t.id for t, _ in assigned],
        [d.ranked[0] for _, d in assigned],
        [d.tier for _, d in assigned],
        [d.rule for _, d in assigned],
        [new_id() for _ in assigned],
        [sql.dumps(d.stored_reason()) for _, d in assigned],
    )
    # The statement may hold load rows even when it wrote nothing.
    session.info[HOLDS_LOAD_ROWS] = True
    if len(records) != len(assigned):
        RUNS_ROUTED.labels(outcome="contended").inc()
        return None
    RUNS_ROUTED.labels(outcome="planned").inc()
    for record in records:
        planned[record["ticket_id"]].row = Rec.of(record)
    return planned


async def finish_planned(
    session: AsyncSession, snapshot: roster.Roster, ticket: Rec, planned: Planned, *, cause: Cause
) -> Rec | None:
    """What :func:`route` does after its decision, for a ticket of a run written by
    :func:`assign_planned`: ``ticket.assigned``, or the queue and ``ticket.unassigned``."""
    if planned.row is None:
        await _queue(
            session, ticket, planned.decision, trigger="created", cause=cause, released=None
        )
        return None
    await _assigned(session, snapshot, ticket, planned.row, cause=cause)
    return planned.row


def _decide(
    snapshot: roster.Roster,
    ticket_facts: routing.TicketFacts,
    branches: list[routing.Branch],
    pool: list[roster.EngineerInfo],
    previous: roster.EngineerInfo | None,
    loads: Loads,
    exclude: dict[uuid.UUID, str],
    now: datetime,
) -> routing.Decision:
    candidates = [_candidate(snapshot, e, loads, now) for e in pool]
    prev_candidate = _candidate(snapshot, previous, loads, now) if previous else None
    return routing.choose_engineer(
        ticket_facts, branches, candidates, previous_engineer=prev_candidate, exclude=exclude
    )


# What routing needs of the assignments of many tickets at once: active primaries, the
# primaries that ended released (the previous engineer) and the refusals.
_HISTORIES = """
    SELECT ticket_id, engineer_id, role, ended_at, end_reason, end_detail
    FROM assignment
    WHERE ticket_id = ANY($1::uuid[])
      AND ((role = 'primary' AND (ended_at IS NULL OR end_reason = 'released'))
           OR end_reason IN ('declined', 'handed_back'))
"""


async def left_waiting(session: AsyncSession, waiting: list[Rec]) -> set[uuid.UUID]:
    """Of these queued tickets, the ones routing would leave waiting in the queue they are in,
    as things stand: no engineer they may go to is on duty with room. A dry run with one
    roster snapshot and the loads read once, so that a re-evaluation pass re-routes under the
    ticket's lock only the tickets it might assign. Empty when the roster changed meanwhile."""
    routable = [t for t in waiting if tickets.routable(t)]
    if not routable:
        return set()
    conn = await sql.driver(session)
    active: set[uuid.UUID] = set()
    previous: dict[uuid.UUID, tuple[datetime, uuid.UUID]] = {}
    refused: dict[uuid.UUID, dict[uuid.UUID, str]] = {}
    for r in await conn.fetch(_HISTORIES, [t.id for t in routable]):
        if r["end_reason"] in ("declined", "handed_back"):
            refused.setdefault(r["ticket_id"], {})[r["engineer_id"]] = _refusal(
                r["end_reason"], r["end_detail"]
            )
        elif r["ended_at"] is None:
            active.add(r["ticket_id"])
        elif r["ticket_id"] not in previous or r["ended_at"] > previous[r["ticket_id"]][0]:
            previous[r["ticket_id"]] = (r["ended_at"], r["engineer_id"])
    snapshot = await roster.current(session)
    plans = []
    ids: set[uuid.UUID] = set()
    for t in routable:
        if t.id in active:
            continue  # an assignment the queue does not know of: _one puts that right
        facts = tickets.facts(t)
        branches, pool = snapshot.pool(tier=facts.tier, region=t.region)
        before = snapshot.engineers.get(previous[t.id][1]) if t.id in previous else None
        plans.append((t, facts, branches, pool, before))
        ids.update(e.id for e in pool)
        if before is not None:
            ids.add(before.id)
    version, loads = await loads_of(session, sorted(ids))
    if version != snapshot.version:
        return set()
    now = datetime.now(UTC)
    result = set()
    for t, facts, branches, pool, before in plans:
        decision = _decide(
            snapshot, facts, branches, pool, before, loads, refused.get(t.id, {}), now
        )
        queue = decision.queue_branch.id if decision.queue_branch else None
        if decision.outcome == "queued" and queue == t.queue_branch_id:
            result.add(t.id)
    return result


# The engineers' loads, and the roster version that says whether the cached roster is current.
_LOADS = """
    SELECT v.version, l.engineer_id, l.open_count, l.last_assigned_at
    FROM roster_state AS v
    LEFT JOIN engineer_load AS l ON l.engineer_id = ANY($1::uuid[])
    WHERE v.id = 1
"""


async def loads_of(session: AsyncSession, ids: list[uuid.UUID]) -> tuple[int, Loads]:
    """The roster version, and the loads (open count, last assignment) of these engineers."""
    conn = await sql.driver(session)
    rows = await conn.fetch(_LOADS, ids)
    return rows[0]["version"], {
        r["engineer_id"]: (r["open_count"], r["last_assigned_at"])
        for r in rows
        if r["engineer_id"] is not None
    }


def _candidate(
    snapshot: roster.Roster, info: roster.EngineerInfo, loads: Loads, now: datetime
) -> routing.Candidate:
    load = loads.get(info.id)
    return routing.Candidate(
        engineer_id=info.id,
        name=info.name,
        branch_id=info.branch_id,
        tier=info.tier,
        skills=info.skills,
        languages=info.languages,
        active=info.active,
        max_open=info.max_open,
        open_count=load[0] if load else 0,
        last_assigned_at=load[1] if load else None,
        duty=snapshot.duty(info.id, now),
    )


# One unit of capacity of the best-ranked engineer ($1, in rank order) who has room and whose
# load row no other transaction holds at this moment (the row is locked only when it has room,
# rechecked on its newest version, so the update below always succeeds on it), then the
# decision (with the winner, and how many better-ranked engineers were passed over) and the
# assignment: all in one statement, which writes nothing when no such engineer is free.
_TAKE = """
    UPDATE engineer_load AS l
    SET open_count = l.open_count + 1, last_assigned_at = clock_timestamp()
    FROM engineer AS e
    WHERE e.id = l.engineer_id AND e.active AND l.open_count < e.max_open
      AND l.engineer_id = (
          SELECT c.engineer_id
          FROM engineer_load AS c JOIN engineer AS ce ON ce.id = c.engineer_id
          WHERE c.engineer_id = ANY($1::uuid[]) AND ce.active AND c.open_count < ce.max_open
          ORDER BY array_position($1::uuid[], c.engineer_id)
          LIMIT 1
          FOR UPDATE OF c SKIP LOCKED
      )
    RETURNING l.engineer_id, array_position($1::uuid[], l.engineer_id) - 1 AS skipped
"""

# The reason comes as the text of its JSON object without "winner" and "notes" and without the
# closing brace ($10), and its notes as a JSON array ($11): the statement appends the winner,
# and the notes with one more when better-ranked engineers were passed over ($12 the note's
# text after the count), so the reason is parsed once and no jsonb is rewritten.
_TAKE_ASSIGN = f"""
    WITH t AS ({_TAKE}),
    d AS (
        INSERT INTO routing_decision (id, ticket_id, trigger, outcome, tier, engineer_id, reason)
        SELECT $8, $3, $9, 'assigned', $4, t.engineer_id,
               CAST($10::text || ', "winner": ' || to_json(t.engineer_id::text)::text
                    || ', "notes": '
                    || CASE WHEN t.skipped > 0
                            THEN left($11::text, -1)
                                 || CASE WHEN $11::text = '[]' THEN '' ELSE ', ' END
                                 || to_json(t.skipped || $12::text)::text || ']'
                            ELSE $11::text END
                    || '}}' AS jsonb)
        FROM t
        RETURNING id
    )
    INSERT INTO assignment (id, ticket_id, engineer_id, tier, role, status, by, rule,
                            decision_id, assigned_by, previous_engineer_id)
    SELECT $2, $3, t.engineer_id, $4, 'primary', 'assigned', $5, $6, (SELECT id FROM d), NULL, $7
    FROM t
    RETURNING *
"""

_TAKE_ONE = """
    UPDATE engineer_load AS l
    SET open_count = l.open_count + 1, last_assigned_at = clock_timestamp()
    FROM engineer AS e
    WHERE l.engineer_id = $1 AND e.id = l.engineer_id AND e.active
      AND l.open_count < e.max_open
    RETURNING l.engineer_id
"""

_TAKE_WAITING = text(
    """
    UPDATE engineer_load AS l
    SET open_count = l.open_count + 1, last_assigned_at = clock_timestamp()
    FROM engineer AS e
    WHERE l.engineer_id = :id AND e.id = l.engineer_id AND e.active
      AND l.open_count < e.max_open
    RETURNING l.engineer_id
    """
)


async def take_capacity_of(session: AsyncSession, engineer_id: uuid.UUID) -> bool:
    """A manager's explicit choice: one unit of this engineer's capacity, waiting for their
    row if another transaction holds it. False when they are inactive or full."""
    got = (await session.execute(_TAKE_WAITING, {"id": engineer_id})).scalar_one_or_none()
    return got is not None


async def _take_and_assign(
    session: AsyncSession,
    snapshot: roster.Roster,
    ticket: Rec,
    decision: routing.Decision,
    *,
    trigger: str,
    released: Row | Rec | None,
    cause: Cause,
) -> Rec | None:
    """Assigns the decision's best-ranked engineer who still has room: the best one whose load
    row no other transaction holds at this moment, else (all are being assigned) the best
    one, waiting for them. None when the one waited for filled up (decide again)."""
    ranked = decision.ranked
    if not ranked:
        return None
    # Planned once: its estimate varies with the length of ``ranked``, which kept PostgreSQL
    # planning it for every decision (see shared.db.generic_plans); its plan does not.
    conn = await sql.generic_plans(session)
    previous_engineer_id = released.engineer_id if released else None
    reason = decision.stored_reason()
    notes = reason.pop("notes")
    del reason["winner"]
    record = await conn.fetchrow(
        _TAKE_ASSIGN,
        ranked,
        new_id(),
        ticket.id,
        decision.tier,
        "rule",
        decision.rule,
        previous_engineer_id,
        new_id(),
        trigger,
        sql.dumps(reason)[:-1],
        sql.dumps(notes),
        SKIPPED_NOTE,
    )
    if record is not None:
        session.info[HOLDS_LOAD_ROWS] = True
        row = sql.Rec.of(record)
        await _assigned(session, snapshot, ticket, row, cause=cause)
        return row
    # Every ranked engineer is being assigned by another transaction right now, or filled up.
    # The statement locked nothing, so waiting is safe unless the transaction holds others.
    taken = await _take_capacity(conn, ranked, holding=session.info.get(HOLDS_LOAD_ROWS, False))
    if taken is None:
        return None
    session.info[HOLDS_LOAD_ROWS] = True
    winner, skipped = taken
    if skipped:
        decision.notes.append(f"{skipped}{SKIPPED_NOTE}")
    return await record_assignment(
        session,
        snapshot,
        ticket,
        winner,
        tier=decision.tier,
        by="rule",
        rule=decision.rule,
        decision=(trigger, decision.stored_reason(winner=winner)),
        previous_engineer_id=previous_engineer_id,
        cause=cause,
    )


async def _take_capacity(
    conn: asyncpg.Connection, ranked: list[uuid.UUID], *, holding: bool = False
) -> tuple[uuid.UUID, int] | None:
    """Takes one unit of capacity from the best-ranked engineer who still has room: the best
    one whose load row no other transaction holds at this moment, else (all are being
    assigned) the best one, waiting for it. Returns the engineer and how many better-ranked
    ones were passed over, or None when the one waited for filled up (decide again)."""
    if not ranked:
        return None
    got = await conn.fetchrow(_TAKE, ranked)
    if got is not None:
        return got["engineer_id"], got["skipped"]
    # _TAKE locks a row only when it updates it, so this transaction holds no row of these
    # engineers now; holding no other engineer's either, the wait cannot close a cycle.
    if holding:
        # This transaction already holds rows of engineers it assigned earlier (the consumer
        # handles a batch of events in one transaction): waiting now could deadlock.
        raise RoutingContention("the engineers are being assigned by another transaction")
    got = await conn.fetchval(_TAKE_ONE, ranked[0])
    return (got, 0) if got is not None else None


_DECISION = """
    INSERT INTO routing_decision (id, ticket_id, trigger, outcome, tier, engineer_id, reason)
    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
"""


async def _record_decision(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    trigger: str,
    outcome: str,
    tier: int,
    engineer_id: uuid.UUID | None,
    reason: dict[str, Any],
) -> uuid.UUID:
    decision_id = new_id()
    conn = await sql.driver(session)
    await conn.execute(
        _DECISION, decision_id, ticket_id, trigger, outcome, tier, engineer_id, sql.dumps(reason)
    )
    return decision_id


# The decision (when routing made one) and the assignment, in one round trip.
_ASSIGN = """
    WITH d AS (
        INSERT INTO routing_decision (id, ticket_id, trigger, outcome, tier, engineer_id, reason)
        SELECT $9, $2, $10, 'assigned', $4, $3, $11::jsonb
        WHERE $9::uuid IS NOT NULL
        RETURNING id
    )
    INSERT INTO assignment (id, ticket_id, engineer_id, tier, role, status, by, rule,
                            decision_id, assigned_by, previous_engineer_id)
    SELECT $1, $2, $3, $4, 'primary', 'assigned', $5, $6, (SELECT id FROM d), $7, $8
    RETURNING *
"""


async def record_assignment(
    session: AsyncSession,
    snapshot: roster.Roster,
    ticket: Rec,
    engineer_id: uuid.UUID,
    *,
    tier: int,
    by: str,
    rule: str | None,
    decision: tuple[str, dict[str, Any]] | None,
    previous_engineer_id: uuid.UUID | None,
    cause: Cause,
) -> Rec:
    """Writes the routing decision (if any) and the assignment (capacity already taken), takes
    the ticket out of its queue and emits ``ticket.assigned``."""
    conn = await sql.driver(session)
    trigger, reason = decision if decision is not None else (None, None)
    row = sql.Rec.of(
        await conn.fetchrow(
            _ASSIGN,
            new_id(),
            ticket.id,
            engineer_id,
            tier,
            by,
            rule,
            cause.user if by == "manual" else None,
            previous_engineer_id,
            new_id() if decision is not None else None,
            trigger,
            sql.dumps(reason) if reason is not None else None,
        )
    )
    await _assigned(session, snapshot, ticket, row, cause=cause)
    return row


async def _assigned(
    session: AsyncSession, snapshot: roster.Roster, ticket: Rec, row: Rec, *, cause: Cause
) -> None:
    """After an assignment is written: the ticket leaves its queue, ``ticket.assigned``."""
    engineer_id = row.engineer_id
    info = snapshot.engineers[engineer_id]
    branch = snapshot.branches.get(info.branch_id)
    if ticket.queued_at is not None or ticket.queue_branch_id is not None:
        await tickets.set_queue(session, ticket.id, None, queued=False)
    await emit(
        session,
        events.TicketAssigned(
            subject=ticket.id,
            **cause.envelope(),
            data=events.TicketAssignedData(
                ticket_id=ticket.id,
                ticket_number=ticket.number,
                assignment_id=row.id,
                engineer_id=engineer_id,
                engineer_user_id=info.user_id,
                engineer_name=info.name,
                engineer_phone=info.phone,
                engineer_email=info.email,
                branch_id=info.branch_id,
                branch_name=branch.name if branch else None,
                tier=row.tier,
                by=row.by,
                rule=row.rule,
                previous_engineer_id=row.previous_engineer_id,
                assigned_by=row.assigned_by,
                assigned_at=row.assigned_at,
            ),
        ),
    )


async def _queue(
    session: AsyncSession,
    ticket: Row,
    decision: routing.Decision,
    *,
    trigger: str,
    cause: Cause,
    released: Row | None,
) -> None:
    branch = decision.queue_branch
    if ticket.queued_at is not None:
        # Already waiting: a re-evaluation that found nobody changes nothing but the clock.
        if ticket.queue_branch_id != (branch.id if branch else None):
            await tickets.set_queue(session, ticket.id, branch.id if branch else None, queued=True)
        else:
            await tickets.touch(session, ticket.id)
        return
    await _record_decision(
        session, ticket.id, trigger, "queued", decision.tier, None, decision.stored_reason()
    )
    await tickets.set_queue(session, ticket.id, branch.id if branch else None, queued=True)
    reason = "engineer_released" if released is not None else "no_engineer_available"
    if trigger == "reassign":
        reason = "manual"
    await emit(
        session,
        events.TicketUnassigned(
            subject=ticket.id,
            **cause.envelope(),
            data=events.TicketUnassignedData(
                ticket_id=ticket.id,
                ticket_number=ticket.number,
                reason=reason,
                detail="; ".join([decision.summary(), *decision.notes]),
                previous_engineer_id=released.engineer_id if released else None,
                branch_id=branch.id if branch else None,
                branch_name=branch.name if branch else None,
                tier=decision.tier,
                unassigned_by=cause.user if reason == "manual" else None,
                unassigned_at=datetime.now(UTC),
            ),
        ),
    )


# ---- ending -------------------------------------------------------------------------------


async def end(
    session: AsyncSession, assignment: Row, *, status: str, detail: str | None = None
) -> Row:
    """Ends an active assignment and gives the engineer their capacity back; the NOTIFY wakes
    the queue re-evaluation at commit, since someone may now take a waiting ticket."""
    row = (
        await session.execute(
            update(A)
            .where(A.c.id == assignment.id, A.c.ended_at.is_(None))
            .values(
                status=status,
                ended_at=func.clock_timestamp(),
                end_reason=status,
                end_detail=detail,
                version=A.c.version + 1,
            )
            .returning(*A.c)
        )
    ).first()
    if row is None:
        return assignment
    await session.execute(
        text(
            "UPDATE engineer_load SET open_count = open_count - 1, "
            "last_released_at = clock_timestamp() WHERE engineer_id = :id"
        ),
        {"id": assignment.engineer_id},
    )
    await session.execute(text("SELECT pg_notify('aftercare_dispatch_requeue', 'capacity')"))
    return row


async def release_all(session: AsyncSession, ticket_id: uuid.UUID, *, detail: str) -> int:
    """Ends every active assignment of a ticket that is done (resolved, closed, merged ...)."""
    ended = 0
    # In engineer order, so two transactions releasing the same engineers never wait on each
    # other in opposite orders.
    for row in sorted(await active(session, ticket_id), key=lambda r: r.engineer_id):
        await end(session, row, status="released", detail=detail)
        ended += 1
    return ended
