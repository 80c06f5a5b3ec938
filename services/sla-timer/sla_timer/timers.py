"""Use cases for a ticket's clocks: record what happened, derive the clocks again, read them.

Every consumed event is kept as a fact (``ticket_fact``) and the ticket's clocks are derived
from the whole set by ``deadlines.plan`` (pure), so the result does not depend on the order or
number of deliveries. Work on one ticket is serialised with a transaction-scoped advisory lock,
so two replicas handling two events of the same ticket cannot each miss the other's fact. What
the scanner has already fired (warnings, breach, observation end) is kept across derivations:
each fires once per clock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.auth import Actor
from shared.http import NotFound
from shared.ids import new_id
from sla_timer import calendars as cal
from sla_timer import deadlines, explain, policies, reference, sql
from sla_timer.models import Ticket, TicketFact, Timer
from sla_timer.settings import Settings

SCAN_CHANNEL = "aftercare_sla_scan"


class TicketNotFound(NotFound):
    type = "ticket-not-found"
    title = "Ticket not found"


_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 7401))"

# The lock is taken in the statement that writes the ticket or the fact (its row comes from the
# locked CTE, so it is written once the lock is held); the reads that follow are statements of
# their own, so their snapshot includes whatever another transaction on the ticket committed.
_OPEN = """
WITH locked AS (SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 7401)))
INSERT INTO ticket (id, organization_id, kind, severity, channel, coverage, policy_key,
                    calendar_id, opened_at, ticket_number, on_site_required, reported_at,
                    correlation_id)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM locked
ON CONFLICT (id) DO NOTHING
RETURNING id
"""

_RECORD = """
WITH locked AS (SELECT pg_advisory_xact_lock(hashtextextended($2::uuid::text, 7401)))
INSERT INTO ticket_fact (event_id, ticket_id, source, seq, type, at, data)
SELECT $1, $2, $3, $4, $5, $6, $7::jsonb FROM locked
ON CONFLICT (event_id) DO NOTHING
"""

# Everything a derivation reads, in one statement: the ticket, its facts, its clocks (locked:
# the scanner skips them, and a clock the scanner holds is read once it has committed, so what
# it fired is kept), and the row versions of every calendar and policy the ticket may count on
# (its own keys, the defaults, and any key a ticket.updated named; the caller picks among them).
# No row when the ticket is unknown yet. $4 false skips the clocks of a ticket written just now.
_STATE = """
SELECT t.id, t.organization_id, t.kind, t.severity, t.channel, t.coverage, t.policy_key,
       t.calendar_id, t.opened_at, t.ticket_number, t.on_site_required, t.reported_at,
       t.correlation_id,
       ARRAY(SELECT ROW(f.source, f.seq, f.type, f.at, f.data::text)
             FROM ticket_fact f WHERE f.ticket_id = t.id) AS facts,
       ARRAY(SELECT ROW(m.id, m.kind, m.round, m.state, m.fire_plan::text, m.fired::text,
                        m.breach_emitted_at, m.breach_at)
             FROM timer m WHERE m.ticket_id = t.id AND $4 FOR UPDATE) AS timers,
       ARRAY(SELECT ROW(c.id, c.version, c.xmin::text::bigint)
             FROM calendar c
             WHERE c.key = t.calendar_id OR c.key = ANY($2::text[])
                OR c.key IN (SELECT f.data #>> '{changes,calendar_id,new}'
                             FROM ticket_fact f WHERE f.ticket_id = t.id)) AS calendars,
       ARRAY(SELECT ROW(p.id, p.version, p.xmin::text::bigint)
             FROM policy p
             WHERE p.key = t.policy_key OR p.key = ANY($3::text[])
                OR p.key IN (SELECT f.data #>> '{changes,policy_key,new}'
                             FROM ticket_fact f WHERE f.ticket_id = t.id)) AS policies
FROM ticket t WHERE t.id = $1
"""

_FIELDS = (
    ("id", "uuid"), ("kind", "text"), ("round", "int"), ("ticket_kind", "text"),
    ("severity", "int"), ("channel", "text"), ("policy_key", "text"), ("calendar_key", "text"),
    ("state", "text"), ("target_seconds", "bigint"), ("target_reason", "text"),
    ("target_set_at", "timestamptz"), ("started_at", "timestamptz"),
    ("stopped_at", "timestamptz"), ("stop_reason", "text"), ("due_at", "timestamptz"),
    ("breach_at", "timestamptz"), ("outcome", "text"), ("segments", "jsonb"),
    ("pauses", "jsonb"), ("notes", "jsonb"), ("fire_plan", "jsonb"),
    ("next_fire_at", "timestamptz"), ("updated_at", "timestamptz"),
)  # fmt: skip
_KEEP = frozenset({"id", "kind", "round"})

# One statement stores every clock of the ticket, passed as one JSON array: new ones inserted,
# the others updated in place (their id, creation time and what the scanner fired stay).
_STORE = f"""
INSERT INTO timer (ticket_id, ticket_number, organization_id, correlation_id,
                   {", ".join(name for name, _ in _FIELDS)})
SELECT $1, $2, $3, $4, {", ".join(f"u.{name}" for name, _ in _FIELDS)}
FROM jsonb_to_recordset($5::jsonb) AS u({", ".join(f"{n} {t}" for n, t in _FIELDS)})
ON CONFLICT (ticket_id, kind, round) DO UPDATE SET
    ticket_number = EXCLUDED.ticket_number,
    organization_id = EXCLUDED.organization_id,
    correlation_id = EXCLUDED.correlation_id,
    {", ".join(f"{n} = EXCLUDED.{n}" for n, _ in _FIELDS if n not in _KEEP)}
"""

_CANCEL = """
UPDATE timer AS t SET state = 'cancelled', stopped_at = $2, stop_reason = $3,
    fire_plan = u.plan::jsonb, next_fire_at = u.next
FROM unnest($1::uuid[], $4::text[], $5::timestamptz[]) AS u(id, plan, next)
WHERE t.id = u.id
"""


async def lock_ticket(session: AsyncSession, ticket_id: uuid.UUID) -> None:
    await (await sql.driver(session)).execute(_LOCK, ticket_id)


async def open_ticket(session: AsyncSession, event: events.TicketCreated, settings: Settings):
    """Records the projection of a new ticket and starts its clocks."""
    d = event.data
    conn = await sql.driver(session)
    inserted = await conn.fetchval(
        _OPEN,
        event.subject,
        d.organization_id,
        d.kind,
        d.severity,
        d.channel,
        d.coverage,
        d.policy_key,
        d.calendar_id,
        d.created_at,
        d.ticket_number,
        d.on_site_required,
        d.reported_at,
        event.correlation_id or event.id,
    )
    # A ticket row written just now has no clocks yet: clocks are only stored by a derivation
    # that read the ticket row under this lock, and ticket rows are never deleted.
    await _rebuild(conn, event.subject, settings, fresh=inserted is not None)


async def record(session: AsyncSession, event: events.Event, settings: Settings) -> None:
    """Keeps a consumed event as a fact of its ticket and derives the clocks again."""
    conn = await sql.driver(session)
    await conn.execute(
        _RECORD,
        event.id,
        event.subject,
        event.source,
        event.seq,
        event.type,
        deadlines.fact_time(event),
        event.data.model_dump_json(),
    )
    await _rebuild(conn, event.subject, settings)


# ---- deriving ---------------------------------------------------------------------------------


async def load_calendar(
    conn: asyncpg.Connection, key: str | None, fallback: str
) -> tuple[reference.CalendarEntry, str | None]:
    """The calendar (cached per row version); a note when ``key`` was unknown."""
    calendars, _ = await reference.lookup(conn, {k for k in (key, fallback) if k}, ())
    return _pick_calendar(calendars, key, fallback)


def _pick_calendar(
    calendars: dict[str, reference.CalendarEntry], key: str | None, fallback: str
) -> tuple[reference.CalendarEntry, str | None]:
    note = None
    entry = calendars.get(key) if key else None
    if key and entry is None:
        note = f"calendar {key!r} is unknown; counted on the default {fallback!r} instead"
    if entry is None:
        entry = calendars.get(fallback)
    if entry is None:
        raise RuntimeError(f"the default calendar {fallback!r} does not exist")
    return entry, note


def current_calendar(
    key: str | None, coverage: str, facts: list[deadlines.Fact]
) -> tuple[str | None, str]:
    """The calendar key and coverage after the latest ``ticket.updated`` that changed them (a
    new contract), starting from the ticket's own; clocks count on the ticket's current
    calendar."""
    for fact in sorted((f for f in facts if f.source == "intake"), key=lambda f: f.seq):
        changes = fact.data.get("changes") or {}
        if isinstance(changes.get("calendar_id"), dict):
            key = changes["calendar_id"].get("new")
        if isinstance(changes.get("coverage"), dict) and changes["coverage"].get("new"):
            coverage = changes["coverage"]["new"]
    return key, coverage


def _fallback(coverage: str, settings: Settings) -> str:
    if coverage == "business_hours":
        return settings.default_calendar_business
    return settings.default_calendar_24x7


async def rebuild(
    session: AsyncSession, ticket_id: uuid.UUID, settings: Settings, *, now: datetime | None = None
) -> list[tuple[str, int]]:
    """Derives the ticket's clocks from its facts and stores them, keeping what was fired;
    returns the (kind, round) of the clocks stored. The caller holds the ticket's lock."""
    return await _rebuild(await sql.driver(session), ticket_id, settings, now=now)


async def _rebuild(
    conn: asyncpg.Connection,
    ticket_id: uuid.UUID,
    settings: Settings,
    *,
    fresh: bool = False,
    now: datetime | None = None,
) -> list[tuple[str, int]]:
    state = await conn.fetchrow(
        _STATE,
        ticket_id,
        [settings.default_calendar_24x7, settings.default_calendar_business],
        [settings.default_policy],
        not fresh,
    )
    if state is None:
        return []  # facts wait for ticket.created
    ticket = sql.Rec(state)
    facts = [deadlines.Fact(s, q, t, at, orjson.loads(data)) for s, q, t, at, data in ticket.facts]
    calendar_key, coverage = current_calendar(ticket.calendar_id, ticket.coverage, facts)
    fallback = _fallback(coverage, settings)
    calendars, known = await reference.resolve(conn, ticket.calendars, ticket.policies)
    calendar_entry, calendar_note = _pick_calendar(calendars, calendar_key, fallback)
    default = known.get(settings.default_policy) or reference.PolicyEntry(
        None,  # type: ignore[arg-type]
        settings.default_policy,
        policies.Policy(key=settings.default_policy, name="missing default", rows=()),
    )
    policy_notes: dict[str | None, str] = {}

    def policy_for(key: str | None) -> reference.PolicyEntry:
        if key and key in known:
            return known[key]
        if key:
            policy_notes[key] = f"policy {key!r} is unknown; the default {default.key!r} applies"
        return default

    def targets_for(attrs: deadlines.Attributes) -> policies.Targets:
        return policy_for(attrs.policy_key).targets(
            kind=attrs.kind, severity=attrs.severity, channel=attrs.channel
        )

    opening = deadlines.Opening(
        ticket_id=ticket.id,
        ticket_number=ticket.ticket_number or 1,
        organization_id=ticket.organization_id,
        kind=ticket.kind,
        severity=ticket.severity,
        channel=ticket.channel,
        policy_key=ticket.policy_key,
        calendar_key=ticket.calendar_id,
        coverage=ticket.coverage,
        on_site_required=ticket.on_site_required,
        started_at=ticket.reported_at or ticket.opened_at,
    )
    calendar = calendar_entry.calendar
    plans = deadlines.plan(opening, facts, targets_for=targets_for, calendar=calendar)
    notes = [n for n in (calendar_note, *policy_notes.values()) if n]

    existing: dict[tuple[str, int], dict[str, Any]] = {}
    for id_, kind, round_, state_, fire_plan, fired, breach_emitted_at, breach_at in ticket.timers:
        existing[(kind, round_)] = {
            "id": id_,
            "state": state_,
            "fire_plan": orjson.loads(fire_plan),
            "fired": orjson.loads(fired),
            "breach_emitted_at": breach_emitted_at,
            "breach_at": breach_at,
        }
    now = now or datetime.now(UTC)
    soonest: datetime | None = None
    rows = []
    stored = []
    for made in plans:
        timer = existing.pop((made.kind, made.round), None)
        values = _values(made, timer, calendar_entry.key, policy_for, notes)
        values["id"] = timer["id"] if timer else new_id()
        values["kind"], values["round"] = made.kind, made.round
        rows.append(values)
        stored.append((made.kind, made.round))
        fire_at = values["next_fire_at"]
        if fire_at is not None and (soonest is None or fire_at < soonest):
            soonest = fire_at
    if rows:
        await conn.execute(
            _STORE,
            ticket.id,
            ticket.ticket_number or 1,
            ticket.organization_id,
            ticket.correlation_id,
            orjson.dumps(rows, default=str).decode(),  # default: asyncpg's own UUID type
        )
    cancelled = [t for t in existing.values() if t["state"] in ("running", "paused")]
    if cancelled:
        plans_left = [[p for p in t["fire_plan"] if p["what"] == "breach"] for t in cancelled]
        await conn.execute(
            _CANCEL,
            [t["id"] for t in cancelled],
            now,
            "the ticket no longer has this commitment",
            [sql.dumps(p) for p in plans_left],
            [_first(p) for p in plans_left],
        )
    if soonest is not None and soonest <= now + timedelta(seconds=1):
        await conn.execute(f"SELECT pg_notify('{SCAN_CHANNEL}', '')")
    return stored


def _values(
    made: deadlines.Plan,
    timer: dict[str, Any] | None,
    calendar_key: str,
    policy_for,
    notes: list[str],
) -> dict[str, Any]:
    fired = timer["fired"] if timer else []
    breach_emitted = timer["breach_emitted_at"] if timer else None
    done = {p.get("threshold") if p["what"] == "warning" else p["what"] for p in fired}
    plan_points = fire_points(made, done, breach_emitted is not None)
    outcome = _outcome(made, fired, breach_emitted)
    breach_at = made.breach_at
    if breach_at is None and outcome == "breached" and timer is not None:
        breach_at = timer["breach_at"]
    attrs = made.attributes
    return {
        "ticket_kind": attrs.kind,
        "severity": attrs.severity,
        "channel": attrs.channel,
        "policy_key": policy_for(attrs.policy_key).key,
        "calendar_key": "24x7-wall" if made.kind == "observation" else calendar_key,
        "state": made.state,
        "target_seconds": int(made.target.total_seconds()),
        "target_reason": made.target_reason,
        "target_set_at": made.target_set_at,
        "started_at": made.started_at,
        "stopped_at": made.stopped_at,
        "stop_reason": made.stop_reason,
        "due_at": made.due_at,
        "breach_at": breach_at,
        "outcome": outcome,
        "segments": [_span(s) for s in made.segments],
        "pauses": [_span(s) for s in made.pauses],
        "notes": notes + made.notes,
        "fire_plan": plan_points,
        "next_fire_at": _first(plan_points),
        "updated_at": datetime.now(UTC),
    }


def fire_points(made: deadlines.Plan, done: set, breach_emitted: bool) -> list[dict[str, Any]]:
    """What the scanner still has to fire for this clock, in time order."""
    points: list[dict[str, Any]] = []
    due = _iso(made.due_at)
    if made.kind == "observation":
        if made.state == "running" and "elapsed" not in done and made.due_at is not None:
            points.append({"what": "elapsed", "at": due, "due_at": due})
        return points
    if made.state == "running":
        for threshold, at in made.warnings:
            if threshold not in done:
                points.append(
                    {"what": "warning", "threshold": threshold, "at": _iso(at), "due_at": due}
                )
    if not breach_emitted and "breach" not in done:
        if made.reached:
            points.append({"what": "breach", "at": _iso(made.breach_at), "due_at": due})
        elif made.state == "running" and made.due_at is not None:
            at = max(made.due_at, made.target_set_at)
            points.append({"what": "breach", "at": _iso(at), "due_at": due})
    points.sort(key=lambda p: (p["at"], p["what"] != "warning"))
    return points


def _outcome(made: deadlines.Plan, fired: list[dict[str, Any]], breach_emitted: datetime | None):
    if made.kind == "observation":
        elapsed = any(p["what"] == "elapsed" for p in fired)
        return "elapsed" if made.reached or (made.state == "running" and elapsed) else None
    if made.reached:
        return "breached"
    if made.state == "stopped":
        return "met"
    if (
        made.state in ("running", "paused")
        and breach_emitted is not None
        and (made.due_at is None or made.due_at <= breach_emitted)
    ):
        return "breached"
    return None


def _first(points: list[dict[str, Any]]) -> datetime | None:
    return datetime.fromisoformat(points[0]["at"]) if points else None


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo is UTC else value.astimezone(UTC)).isoformat()


def _span(span: tuple[datetime, datetime | None]) -> list[str | None]:
    return [_iso(span[0]), _iso(span[1])]


def _unspan(pair: list[str | None]) -> tuple[datetime, datetime | None]:
    return datetime.fromisoformat(pair[0]), datetime.fromisoformat(pair[1]) if pair[1] else None


# ---- reading ----------------------------------------------------------------------------------


async def read_ticket(
    session: AsyncSession, ticket_id: uuid.UUID, *, actor: Actor, settings: Settings
) -> dict[str, Any]:
    """Every clock of a ticket with its arithmetic, as of now."""
    ticket = (
        await session.execute(select(Ticket).where(Ticket.id == ticket_id))
    ).scalar_one_or_none()
    if ticket is None or not actor.may_see_org(ticket.organization_id):
        raise TicketNotFound(f"sla-timer knows no ticket {ticket_id}")
    now = datetime.now(UTC)
    timers = list(
        (
            await session.execute(
                select(Timer)
                .where(Timer.ticket_id == ticket_id)
                .order_by(Timer.started_at, Timer.kind)
            )
        ).scalars()
    )
    facts = [
        deadlines.Fact(f.source, f.seq, f.type, f.at, f.data)
        for f in (
            await session.execute(select(TicketFact).where(TicketFact.ticket_id == ticket_id))
        ).scalars()
    ]
    calendar_key, coverage = current_calendar(ticket.calendar_id, ticket.coverage, facts)
    calendar_row, _ = await load_calendar(
        await sql.driver(session), calendar_key, _fallback(coverage, settings)
    )
    calendar = calendar_row.calendar
    items = []
    for timer in timers:
        clock_cal = deadlines.WALL_CLOCK if timer.kind == "observation" else calendar
        clock = explain.Clock(
            kind=timer.kind,
            target=timedelta(seconds=timer.target_seconds),
            target_reason=timer.target_reason,
            calendar_key=timer.calendar_key,
            calendar_name=calendar_row.name,
            policy_key=timer.policy_key,
            state=timer.state,
            outcome=timer.outcome,
            started_at=timer.started_at,
            due_at=timer.due_at,
            stopped_at=timer.stopped_at,
            stop_reason=timer.stop_reason,
            breach_at=timer.breach_at,
            segments=[_unspan(s) for s in timer.segments],
            pauses=[_unspan(s) for s in timer.pauses],
            notes=timer.notes,
        )
        spent = explain.used(clock_cal, clock.segments, now)
        paused = explain.used(clock_cal, clock.pauses, now)
        remaining = None
        if timer.state in ("running", "paused"):
            remaining = (clock.target - spent).total_seconds()
        items.append(
            {
                "id": timer.id,
                "kind": timer.kind,
                "round": timer.round,
                "state": timer.state,
                "outcome": timer.outcome,
                "target_seconds": timer.target_seconds,
                "target_minutes": timer.target_seconds / 60,
                "calendar": timer.calendar_key,
                "policy": timer.policy_key,
                "started_at": timer.started_at,
                "due_at": timer.due_at,
                "stopped_at": timer.stopped_at,
                "breached_at": timer.breach_at if timer.outcome == "breached" else None,
                "working_seconds_used": spent.total_seconds(),
                "working_seconds_paused": paused.total_seconds(),
                "remaining_seconds": remaining,
                "fired": timer.fired,
                "explanation": explain.explain(clock, clock_cal, now),
            }
        )
    latest = max(timers, key=lambda t: t.updated_at, default=None)
    policy = latest.policy_key if latest else (ticket.policy_key or settings.default_policy)
    summary = " ".join(
        f"{explain.LABELS[i['kind']]}: {i['state']}"
        + (f", {i['outcome']}" if i["outcome"] else "")
        + (f", due {cal.format_local(i['due_at'], calendar.tz)}" if i["due_at"] else "")
        + "."
        for i in items
    )
    return {
        "ticket_id": ticket.id,
        "ticket_number": ticket.ticket_number,
        "organization_id": ticket.organization_id,
        "kind": latest.ticket_kind if latest else ticket.kind,
        "severity": latest.severity if latest else ticket.severity,
        "channel": latest.channel if latest else ticket.channel,
        "policy": policy,
        "calendar": calendar_row.key,
        "as_of": now,
        "timers": items,
        "explanation": summary or "No clock runs for this ticket.",
    }
