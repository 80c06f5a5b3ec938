"""Use cases for the reference data: calendars and policies. They write rows; routes commit.

A calendar or policy is addressed by its id or its key (the key is what contracts carry in
``ticket.created``). Changing one asks the worker to derive again the clocks of every open
ticket that uses it (``rebuild_request``), so deadlines follow the new hours or targets and keep
the working time already used.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.http import (
    Conflict,
    NotFound,
    Problem,
    check_if_match,
    keyset_page,
)
from sla_timer import calendars as cal
from sla_timer import policies
from sla_timer.models import Calendar, Policy
from sla_timer.schemas import (
    CalendarCreate,
    CalendarUpdate,
    PolicyCreate,
    PolicyRow,
    PolicyUpdate,
)


class CalendarNotFound(NotFound):
    type = "calendar-not-found"
    title = "Calendar not found"


class PolicyNotFound(NotFound):
    type = "policy-not-found"
    title = "Policy not found"


class InvalidCalendar(Problem):
    status = 422
    type = "invalid-calendar"
    title = "The calendar cannot be used"


class InvalidPolicy(Problem):
    status = 422
    type = "invalid-policy"
    title = "The policy cannot be used"


class KeyTaken(Conflict):
    type = "key-taken"
    title = "The key is already used"


# ---- calendars ---------------------------------------------------------------------------------


def to_calendar(row: Calendar) -> cal.Calendar:
    """The pure calendar of a row."""
    weekly = {
        cal.WEEKDAYS.index(day): cal.parse_intervals(pairs)
        for day, pairs in (row.weekly_hours or {}).items()
    }
    return cal.Calendar(
        row.time_zone,
        weekly,
        holidays=[
            cal.Holiday(
                date.fromisoformat(h["start"]),
                date.fromisoformat(h.get("end") or h["start"]),
                h.get("name", ""),
            )
            for h in row.holidays
        ],
        workdays=[
            cal.Workday(date.fromisoformat(w["date"]), w.get("name", "")) for w in row.workdays
        ],
        workday_hours=cal.parse_intervals(row.workday_hours) if row.workday_hours else None,
        name=row.key,
    )


def _calendar_values(body: CalendarCreate | CalendarUpdate) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=isinstance(body, CalendarUpdate), mode="json")
    for holiday in values.get("holidays") or []:
        holiday["end"] = holiday.get("end") or holiday["start"]
    return values


def _check_calendar(row: Calendar) -> cal.Calendar:
    try:
        return to_calendar(row)
    except cal.CalendarError as exc:
        raise InvalidCalendar(str(exc))


async def get_calendar(session: AsyncSession, ref: str, *, lock: bool = False) -> Calendar:
    query = select(Calendar).where(_ref(Calendar, ref))
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise CalendarNotFound(f"no calendar {ref!r}")
    return row


async def create_calendar(session: AsyncSession, body: CalendarCreate) -> Calendar:
    row = Calendar(**_calendar_values(body))
    _check_calendar(row)
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise KeyTaken(f"a calendar with key {body.key!r} exists")
    return row


async def update_calendar(
    session: AsyncSession, ref: str, body: CalendarUpdate | dict[str, Any], *, if_match: str | None
) -> Calendar:
    row = await get_calendar(session, ref, lock=True)
    check_if_match(if_match, row.version)
    values = body if isinstance(body, dict) else _calendar_values(body)
    for name, value in values.items():
        setattr(row, name, value)
    _check_calendar(row)
    row.version += 1
    row.updated_at = func.now()
    await session.flush()
    await session.refresh(row)
    await request_rebuilds(session, calendar_key=row.key, reason=f"calendar {row.key} changed")
    return row


async def delete_calendar(session: AsyncSession, ref: str, *, if_match: str | None) -> None:
    row = await get_calendar(session, ref, lock=True)
    check_if_match(if_match, row.version)
    in_use = await session.scalar(
        text(
            "SELECT count(*) FROM timer WHERE calendar_key = :k AND state IN ('running', 'paused')"
        ),
        {"k": row.key},
    )
    if in_use:
        raise Conflict(f"calendar {row.key!r} counts {in_use} open timers; it cannot be deleted")
    await session.delete(row)
    await session.flush()


async def list_calendars(
    session: AsyncSession, *, limit: int, cursor: str | None
) -> tuple[list[Calendar], str | None]:
    return await _page(session, Calendar, limit=limit, cursor=cursor)


# ---- policies ----------------------------------------------------------------------------------


def to_policy(row: Policy) -> policies.Policy:
    return policies.Policy(
        key=row.key,
        name=row.name,
        rows=tuple(policies.Row(**PolicyRow(**r).model_dump()) for r in row.rows),
        channel_overrides=row.channel_overrides or {},
        complaint_response=row.complaint_response_minutes,
        default_response=row.default_response_minutes,
        observation=row.observation_minutes,
        warning_thresholds=tuple(row.warning_thresholds or ()),
    )


def _check_policy(row: Policy) -> None:
    try:
        policies.validate(to_policy(row))
    except ValueError as exc:
        raise InvalidPolicy(str(exc))


async def get_policy(session: AsyncSession, ref: str, *, lock: bool = False) -> Policy:
    query = select(Policy).where(_ref(Policy, ref))
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise PolicyNotFound(f"no policy {ref!r}")
    return row


async def create_policy(session: AsyncSession, body: PolicyCreate) -> Policy:
    row = Policy(**body.model_dump(mode="json"))
    _check_policy(row)
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise KeyTaken(f"a policy with key {body.key!r} exists")
    return row


async def update_policy(
    session: AsyncSession, ref: str, body: PolicyUpdate, *, if_match: str | None
) -> Policy:
    row = await get_policy(session, ref, lock=True)
    check_if_match(if_match, row.version)
    for name, value in body.model_dump(exclude_unset=True, mode="json").items():
        setattr(row, name, value)
    _check_policy(row)
    row.version += 1
    row.updated_at = func.now()
    await session.flush()
    await session.refresh(row)
    await request_rebuilds(session, policy_key=row.key, reason=f"policy {row.key} changed")
    return row


async def delete_policy(session: AsyncSession, ref: str, *, if_match: str | None) -> None:
    row = await get_policy(session, ref, lock=True)
    check_if_match(if_match, row.version)
    in_use = await session.scalar(
        text("SELECT count(*) FROM timer WHERE policy_key = :k AND state IN ('running', 'paused')"),
        {"k": row.key},
    )
    if in_use:
        raise Conflict(f"policy {row.key!r} governs {in_use} open timers; it cannot be deleted")
    await session.delete(row)
    await session.flush()


async def list_policies(
    session: AsyncSession, *, limit: int, cursor: str | None
) -> tuple[list[Policy], str | None]:
    return await _page(session, Policy, limit=limit, cursor=cursor)


# ---- shared helpers ----------------------------------------------------------------------------


async def request_rebuilds(
    session: AsyncSession,
    *,
    calendar_key: str | None = None,
    policy_key: str | None = None,
    reason: str,
) -> None:
    """Queues every ticket with an open clock on this calendar or policy for the worker.

    Tickets that fell back to a default (no key, or an unknown one) carry the default's key on
    their timers, so they follow a change of the default too.
    """
    column, key = ("calendar_key", calendar_key) if calendar_key else ("policy_key", policy_key)
    await session.execute(
        text(
            f"""
            INSERT INTO rebuild_request (ticket_id, reason)
            SELECT DISTINCT ticket_id, :reason FROM timer
            WHERE {column} = :key AND state IN ('running', 'paused')
            ON CONFLICT (ticket_id) DO UPDATE SET requested_at = now(), reason = EXCLUDED.reason
            """
        ),
        {"key": key, "reason": reason},
    )
    await session.execute(text("SELECT pg_notify('aftercare_sla_scan', '')"))


def _ref(model: type[Calendar] | type[Policy], ref: str):
    try:
        return model.id == uuid.UUID(ref)
    except ValueError:
        return model.key == ref


async def _page(session: AsyncSession, model, *, limit: int, cursor: str | None):
    return await keyset_page(
        session, select(model), model.key, limit=limit, cursor=cursor, parse=_key
    )


def _key(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("a key is a string")
    return value
