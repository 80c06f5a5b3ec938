"""Use cases for recurring schedules (e.g. a contract's quarterly inspection).

``next_occurrence_at`` is the next occurrence not yet fired. ``fire_due`` locks due schedules
with ``FOR UPDATE SKIP LOCKED`` and, for each occurrence up to now, records it in
``schedule_occurrence`` (primary key: schedule and instant) and writes ``schedule.due`` to the
outbox in the same transaction, so each occurrence is announced once, however many replicas
run. Occurrences missed while the service was down are fired on return, oldest first.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events, outbox
from shared.auth import Actor
from shared.http import (
    InvalidCursor,
    NotFound,
    Problem,
    check_if_match,
    decode_cursor,
    encode_cursor,
)
from sla_timer import metrics, recurrence
from sla_timer.models import Schedule, ScheduleOccurrence
from sla_timer.schemas import ScheduleCreate, ScheduleUpdate

CATCH_UP_LIMIT = 100


class ScheduleNotFound(NotFound):
    type = "schedule-not-found"
    title = "Schedule not found"


class InvalidSchedule(Problem):
    status = 422
    type = "invalid-schedule"
    title = "The schedule's rule cannot be used"


def _next(row: Schedule, after: datetime | None) -> datetime | None:
    try:
        return recurrence.next_after(row.rrule, row.dtstart, row.time_zone, after)
    except recurrence.InvalidRule as exc:
        raise InvalidSchedule(str(exc))


async def create(session: AsyncSession, body: ScheduleCreate, *, actor: Actor) -> Schedule:
    try:
        dtstart = recurrence.local_start(body.dtstart, body.time_zone)
        recurrence.parse(body.rrule, dtstart)
    except recurrence.InvalidRule as exc:
        raise InvalidSchedule(str(exc))
    row = Schedule(**body.model_dump(exclude={"dtstart"}), dtstart=dtstart, created_by=actor.sub)
    row.next_occurrence_at = _next(row, datetime.now(UTC)) if row.active else None
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def get(session: AsyncSession, schedule_id: uuid.UUID, *, lock: bool = False) -> Schedule:
    query = select(Schedule).where(Schedule.id == schedule_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise ScheduleNotFound(f"no schedule {schedule_id}")
    return row


async def update(
    session: AsyncSession, schedule_id: uuid.UUID, body: ScheduleUpdate, *, if_match: str | None
) -> Schedule:
    row = await get(session, schedule_id, lock=True)
    check_if_match(if_match, row.version)
    values = body.model_dump(exclude_unset=True)
    zone_name = values.get("time_zone", row.time_zone)
    try:
        if "dtstart" in values:
            values["dtstart"] = recurrence.local_start(values["dtstart"], zone_name)
        for name, value in values.items():
            setattr(row, name, value)
        recurrence.parse(row.rrule, row.dtstart)
        recurrence.local_start(row.dtstart, row.time_zone)
    except recurrence.InvalidRule as exc:
        raise InvalidSchedule(str(exc))
    # Occurrences already fired stay fired; the rule counts on from now.
    after = max(datetime.now(UTC), row.last_occurrence_at or datetime.min.replace(tzinfo=UTC))
    row.next_occurrence_at = _next(row, after) if row.active else None
    row.version += 1
    row.updated_at = func.now()
    await session.flush()
    await session.refresh(row)
    return row


async def delete(session: AsyncSession, schedule_id: uuid.UUID, *, if_match: str | None) -> None:
    row = await get(session, schedule_id, lock=True)
    check_if_match(if_match, row.version)
    await session.execute(
        text("DELETE FROM schedule_occurrence WHERE schedule_id = :id"), {"id": row.id}
    )
    await session.delete(row)
    await session.flush()


async def page(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str | None,
    purpose: str | None = None,
    organization_id: uuid.UUID | None = None,
    contract_id: uuid.UUID | None = None,
) -> tuple[list[Schedule], str | None]:
    query = select(Schedule).order_by(Schedule.id).limit(limit + 1)
    if cursor:
        values = decode_cursor(cursor)
        try:
            (after,) = values
            query = query.where(Schedule.id > uuid.UUID(str(after)))
        except ValueError:
            raise InvalidCursor("the cursor is not one this API returned")
    if purpose:
        query = query.where(Schedule.purpose == purpose)
    if organization_id:
        query = query.where(Schedule.organization_id == organization_id)
    if contract_id:
        query = query.where(Schedule.contract_id == contract_id)
    rows = list((await session.execute(query)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor([str(rows[-1].id)]) if more and rows else None


def upcoming(row: Schedule, count: int = 5) -> list[datetime]:
    if not row.active or row.next_occurrence_at is None:
        return []
    first = row.next_occurrence_at
    rest = recurrence.upcoming(row.rrule, row.dtstart, row.time_zone, first, count - 1)
    return [first, *rest]


async def fire_due(session: AsyncSession, *, now: datetime | None = None, limit: int = 50) -> int:
    """Fires every due occurrence of up to ``limit`` schedules; the caller commits."""
    now = now or datetime.now(UTC)
    rows = (
        await session.execute(
            select(Schedule)
            .where(Schedule.active, Schedule.next_occurrence_at <= now)
            .order_by(Schedule.next_occurrence_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    fired = 0
    for row in list(rows):
        occurrence = row.next_occurrence_at
        for _ in range(CATCH_UP_LIMIT):
            if occurrence is None or occurrence > now:
                break
            event = events.ScheduleDue(
                subject=row.id,
                data=events.ScheduleDueData(
                    schedule_id=row.id,
                    purpose=row.purpose,
                    occurrence_at=occurrence,
                    organization_id=row.organization_id,
                    contract_id=row.contract_id,
                    payload=row.payload,
                ),
            )
            inserted = await session.execute(
                insert(ScheduleOccurrence)
                .values(schedule_id=row.id, occurrence_at=occurrence, event_id=event.id)
                .on_conflict_do_nothing()
                .returning(ScheduleOccurrence.event_id)
            )
            if inserted.first() is not None:
                await outbox.add(session, event)
                metrics.FIRED.labels(what="schedule").inc()
                metrics.FIRE_LAG.labels(what="schedule").observe(
                    (datetime.now(UTC) - occurrence).total_seconds()
                )
                fired += 1
            row.last_occurrence_at = occurrence
            occurrence = _next(row, occurrence)
        row.next_occurrence_at = occurrence
    await session.flush()
    return fired
