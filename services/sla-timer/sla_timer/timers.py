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

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events
from shared.auth import Actor
from shared.http import NotFound
from sla_timer import calendars as cal
from sla_timer import catalog, deadlines, explain, policies
from sla_timer.models import Calendar, Policy, Ticket, TicketFact, Timer
from sla_timer.settings import Settings

SCAN_CHANNEL = "aftercare_sla_scan"
_calendar_cache: dict[tuple[uuid.UUID, int], cal.Calendar] = {}


class TicketNotFound(NotFound):
    type = "ticket-not-found"
    title = "Ticket not found"


async def lock_ticket(session: AsyncSession, ticket_id: uuid.UUID) -> None:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7401))"), {"k": str(ticket_id)}
    )


async def open_ticket(session: AsyncSession, event: events.TicketCreated, settings: Settings):
    """Records the projection of a new ticket and starts its clocks."""
    d = event.data
    await lock_ticket(session, event.subject)
    await session.execute(
        insert(Ticket)
        .values(
            id=event.subject,
            organization_id=d.organization_id,
            kind=d.kind,
            severity=d.severity,
            channel=d.channel,
            coverage=d.coverage,
            policy_key=d.policy_key,
            calendar_id=d.calendar_id,
            opened_at=d.created_at,
            ticket_number=d.ticket_number,
            on_site_required=d.on_site_required,
            reported_at=d.reported_at,
            correlation_id=event.correlation_id or event.id,
        )
        .on_conflict_do_nothing(index_elements=[Ticket.id])
    )
    await rebuild(session, event.subject, settings)


async def record(session: AsyncSession, event: events.Event, settings: Settings) -> None:
    """Keeps a consumed event as a fact of its ticket and derives the clocks again."""
    await lock_ticket(session, event.subject)
    await session.execute(
        insert(TicketFact)
        .values(
            event_id=event.id,
            ticket_id=event.subject,
            source=event.source,
            seq=event.seq,
            type=event.type,
            at=deadlines.fact_time(event),
            data=event.data.model_dump(mode="json"),
        )
        .on_conflict_do_nothing(index_elements=[TicketFact.event_id])
    )
    await rebuild(session, event.subject, settings)


# ---- deriving ---------------------------------------------------------------------------------


async def load_calendar(
    session: AsyncSession, key: str | None, fallback: str
) -> tuple[Calendar, cal.Calendar, str | None]:
    """The calendar row and its pure form; a note when ``key`` was unknown."""
    note = None
    row = None
    if key:
        row = (
            await session.execute(select(Calendar).where(Calendar.key == key))
        ).scalar_one_or_none()
        if row is None:
            note = f"calendar {key!r} is unknown; counted on the default {fallback!r} instead"
    if row is None:
        row = (
            await session.execute(select(Calendar).where(Calendar.key == fallback))
        ).scalar_one_or_none()
    if row is None:
        raise RuntimeError(f"the default calendar {fallback!r} does not exist")
    cached = _calendar_cache.get((row.id, row.version))
    if cached is None:
        if len(_calendar_cache) > 256:
            _calendar_cache.clear()
        cached = _calendar_cache[(row.id, row.version)] = catalog.to_calendar(row)
    return row, cached, note


def current_calendar(ticket: Ticket, facts: list[deadlines.Fact]) -> tuple[str | None, str]:
    """The calendar key and coverage after the latest ``ticket.updated`` that changed them (a
    new contract); clocks count on the ticket's current calendar."""
    key, coverage = ticket.calendar_id, ticket.coverage
    for fact in sorted((f for f in facts if f.source == "intake"), key=lambda f: f.seq):
        changes = fact.data.get("changes") or {}
        if isinstance(changes.get("calendar_id"), dict):
            key = changes["calendar_id"].get("new")
        if isinstance(changes.get("coverage"), dict) and changes["coverage"].get("new"):
            coverage = changes["coverage"]["new"]
    return key, coverage


async def rebuild(
    session: AsyncSession, ticket_id: uuid.UUID, settings: Settings, *, now: datetime | None = None
) -> list[Timer]:
    """Derives the ticket's clocks from its facts and stores them, keeping what was fired."""
    ticket = (
        await session.execute(select(Ticket).where(Ticket.id == ticket_id))
    ).scalar_one_or_none()
    if ticket is None:
        return []  # facts wait for ticket.created
    facts = [
        deadlines.Fact(f.source, f.seq, f.type, f.at, f.data)
        for f in (
            await session.execute(select(TicketFact).where(TicketFact.ticket_id == ticket_id))
        ).scalars()
    ]
    calendar_key, coverage = current_calendar(ticket, facts)
    fallback = (
        settings.default_calendar_business
        if coverage == "business_hours"
        else settings.default_calendar_24x7
    )
    calendar_row, calendar, calendar_note = await load_calendar(session, calendar_key, fallback)
    wanted = {ticket.policy_key, settings.default_policy}
    for fact in facts:
        change = (fact.data.get("changes") or {}).get("policy_key")
        if isinstance(change, dict):
            wanted.add(change.get("new"))
    rows = (
        await session.execute(select(Policy).where(Policy.key.in_([k for k in wanted if k])))
    ).scalars()
    known = {row.key: catalog.to_policy(row) for row in rows}
    default = known.get(settings.default_policy) or policies.Policy(
        key=settings.default_policy, name="missing default", rows=()
    )
    policy_notes: dict[str | None, str] = {}

    def policy_for(key: str | None) -> policies.Policy:
        if key and key in known:
            return known[key]
        if key:
            policy_notes[key] = f"policy {key!r} is unknown; the default {default.key!r} applies"
        return default

    def targets_for(attrs: deadlines.Attributes) -> policies.Targets:
        return policies.targets(
            policy_for(attrs.policy_key),
            kind=attrs.kind,
            severity=attrs.severity,
            channel=attrs.channel,
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
    plans = deadlines.plan(opening, facts, targets_for=targets_for, calendar=calendar)
    notes = [n for n in (calendar_note, *policy_notes.values()) if n]

    existing = {
        (t.kind, t.round): t
        for t in (
            await session.execute(
                select(Timer).where(Timer.ticket_id == ticket_id).with_for_update()
            )
        ).scalars()
    }
    now = now or datetime.now(UTC)
    soonest: datetime | None = None
    stored = []
    for made in plans:
        timer = existing.pop((made.kind, made.round), None)
        values = _values(made, timer, ticket, calendar_row.key, policy_for, notes)
        if timer is None:
            timer = Timer(ticket_id=ticket.id, kind=made.kind, round=made.round, **values)
            session.add(timer)
        else:
            for name, value in values.items():
                setattr(timer, name, value)
        stored.append(timer)
        if timer.next_fire_at is not None and (soonest is None or timer.next_fire_at < soonest):
            soonest = timer.next_fire_at
    for timer in existing.values():
        if timer.state in ("running", "paused"):
            timer.state = "cancelled"
            timer.stopped_at = now
            timer.stop_reason = "the ticket no longer has this commitment"
            timer.fire_plan = [p for p in timer.fire_plan if p["what"] == "breach"]
            timer.next_fire_at = _first(timer.fire_plan)
    await session.flush()
    if soonest is not None and soonest <= now + timedelta(seconds=1):
        await session.execute(text(f"SELECT pg_notify('{SCAN_CHANNEL}', '')"))
    return stored


def _values(
    made: deadlines.Plan,
    timer: Timer | None,
    ticket: Ticket,
    calendar_key: str,
    policy_for,
    notes: list[str],
) -> dict[str, Any]:
    fired = list(timer.fired) if timer else []
    breach_emitted = timer.breach_emitted_at if timer else None
    done = {p.get("threshold") if p["what"] == "warning" else p["what"] for p in fired}
    plan_points = fire_points(made, done, breach_emitted is not None)
    outcome = _outcome(made, timer, breach_emitted)
    breach_at = made.breach_at
    if breach_at is None and outcome == "breached" and timer is not None:
        breach_at = timer.breach_at
    attrs = made.attributes
    return {
        "ticket_number": ticket.ticket_number or 1,
        "organization_id": ticket.organization_id,
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
        "correlation_id": ticket.correlation_id,
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


def _outcome(made: deadlines.Plan, timer: Timer | None, breach_emitted: datetime | None):
    if made.kind == "observation":
        fired = timer is not None and any(p["what"] == "elapsed" for p in timer.fired)
        return "elapsed" if made.reached or (made.state == "running" and fired) else None
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
    return value.astimezone(UTC).isoformat() if value is not None else None


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
    calendar_key, coverage = current_calendar(ticket, facts)
    fallback = (
        settings.default_calendar_business
        if coverage == "business_hours"
        else settings.default_calendar_24x7
    )
    calendar_row, calendar, _ = await load_calendar(session, calendar_key, fallback)
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
