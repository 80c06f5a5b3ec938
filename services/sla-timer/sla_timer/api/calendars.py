"""/v1/sla/calendars: business calendars, and their arithmetic for anyone to check."""

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from shared import http
from sla_timer import calendars as cal
from sla_timer import catalog, holiday_sources
from sla_timer.api.deps import (
    IdempotencyKey,
    IfMatch,
    ReaderDep,
    SessionDep,
    WriterDep,
    idempotent_create,
)
from sla_timer.models import Calendar
from sla_timer.schemas import (
    CalendarCreate,
    CalendarRead,
    CalendarUpdate,
    CountryImport,
    DueRead,
    ElapsedRead,
    ImportResult,
)

router = APIRouter(prefix="/sla/calendars", tags=["calendars"])
NOT_FOUND = {404: {"description": "No such calendar"}}


def read(row: Calendar) -> CalendarRead:
    hours = catalog.to_calendar(row).describe_hours()
    return CalendarRead.model_validate({**row.model_dump(), "hours": hours})


@router.post("", status_code=201, response_model=CalendarRead, responses={409: {}, 422: {}})
async def create_calendar(
    body: CalendarCreate,
    request: Request,
    session: SessionDep,
    actor: WriterDep,
    idempotency_key: IdempotencyKey = None,
):
    """Create a calendar; the same Idempotency-Key and body replays the first answer."""

    async def create():
        row = await catalog.create_calendar(session, body)
        return read(row), f"/v1/sla/calendars/{row.id}", row.version

    return await idempotent_create(request, session, actor, idempotency_key, create)


@router.get("", response_model=http.Page[CalendarRead])
async def list_calendars(
    session: SessionDep,
    actor: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
):
    """Calendars by key."""
    rows, next_cursor = await catalog.list_calendars(session, limit=limit, cursor=cursor)
    return http.Page[CalendarRead](items=[read(r) for r in rows], next_cursor=next_cursor)


@router.get("/{calendar}", response_model=CalendarRead, responses=NOT_FOUND)
async def get_calendar(calendar: str, response: Response, session: SessionDep, actor: ReaderDep):
    """One calendar, by id or key."""
    row = await catalog.get_calendar(session, calendar)
    response.headers["ETag"] = http.etag(row.version)
    return read(row)


@router.patch("/{calendar}", response_model=CalendarRead, responses={**NOT_FOUND, 412: {}})
async def update_calendar(
    calendar: str,
    body: CalendarUpdate,
    response: Response,
    session: SessionDep,
    actor: WriterDep,
    if_match: IfMatch = None,
):
    """Change a calendar (If-Match); open clocks on it are derived again."""
    row = await catalog.update_calendar(session, calendar, body, if_match=if_match)
    result = read(row)
    await session.commit()
    response.headers["ETag"] = http.etag(row.version)
    return result


@router.delete("/{calendar}", status_code=204, responses={**NOT_FOUND, 409: {}, 412: {}})
async def delete_calendar(
    calendar: str, session: SessionDep, actor: WriterDep, if_match: IfMatch = None
):
    """Delete a calendar no open clock counts on (If-Match)."""
    await catalog.delete_calendar(session, calendar, if_match=if_match)
    await session.commit()
    return Response(status_code=204)


@router.get("/{calendar}/due", response_model=DueRead, responses=NOT_FOUND)
async def get_due(
    calendar: str,
    start: AwareDatetime,
    minutes: Annotated[float, Query(ge=0, le=10_000_000)],
    session: SessionDep,
    actor: ReaderDep,
):
    """The deadline: `minutes` of working time counted from `start`."""
    row = await catalog.get_calendar(session, calendar)
    calendar_ = catalog.to_calendar(row)
    try:
        due = calendar_.add(start, timedelta(minutes=minutes))
    except cal.CalendarError as exc:
        raise catalog.InvalidCalendar(str(exc))
    lines = [
        f"{cal.format_duration(timedelta(minutes=minutes))} of working time on {row.key!r} "
        f"({row.time_zone}: {calendar_.describe_hours()}) from "
        f"{cal.format_local(start, calendar_.tz)}.",
        *calendar_.closed_stretches(start, due),
        f"Due {cal.format_local(due, calendar_.tz)}.",
    ]
    return DueRead(
        calendar=row.key,
        start=start,
        minutes=minutes,
        due_at=due,
        due_local=due.astimezone(calendar_.tz).isoformat(),
        explanation=lines,
    )


@router.get("/{calendar}/elapsed", response_model=ElapsedRead, responses=NOT_FOUND)
async def get_elapsed(
    calendar: str, start: AwareDatetime, end: AwareDatetime, session: SessionDep, actor: ReaderDep
):
    """The working time between two instants."""
    if end < start:
        raise http.Problem("end is before start")
    if end - start > timedelta(days=3660):
        raise http.Problem("at most ten years at a time")
    row = await catalog.get_calendar(session, calendar)
    calendar_ = catalog.to_calendar(row)
    worked = calendar_.elapsed(start, end)
    lines = [
        f"From {cal.format_local(start, calendar_.tz)} to {cal.format_local(end, calendar_.tz)} "
        f"on {row.key!r} ({calendar_.describe_hours()}): {cal.format_duration(worked)} of working "
        "time.",
        *calendar_.closed_stretches(start, end),
    ]
    return ElapsedRead(
        calendar=row.key,
        start=start,
        end=end,
        working_seconds=worked.total_seconds(),
        working_minutes=worked.total_seconds() / 60,
        explanation=lines,
    )


@router.post(
    "/{calendar}/holidays/ics",
    response_model=ImportResult,
    responses={**NOT_FOUND, 412: {}, 422: {}},
    openapi_extra={"requestBody": {"content": {"text/calendar": {"schema": {"type": "string"}}}}},
)
async def import_ics_holidays(
    calendar: str,
    request: Request,
    response: Response,
    session: SessionDep,
    actor: WriterDep,
    years: Annotated[list[int] | None, Query()] = None,
    if_match: IfMatch = None,
):
    """Add the holidays and make-up workdays of an iCalendar (.ics) body (If-Match)."""
    body = await request.body()
    try:
        found, workdays = holiday_sources.from_ics(body, years=years)
    except cal.CalendarError as exc:
        raise catalog.InvalidCalendar(str(exc))
    return await _merge(session, response, calendar, found, workdays, if_match, replace_years=())


@router.post(
    "/{calendar}/holidays/country",
    response_model=ImportResult,
    responses={**NOT_FOUND, 412: {}, 422: {}},
)
async def import_country_holidays(
    calendar: str,
    body: CountryImport,
    response: Response,
    session: SessionDep,
    actor: WriterDep,
    if_match: IfMatch = None,
):
    """Add a country's public holidays (and make-up workdays) from the holidays package."""
    try:
        found, workdays = holiday_sources.from_library(
            body.country.upper(), body.years, subdivision=body.subdivision
        )
    except cal.CalendarError as exc:
        raise catalog.InvalidCalendar(str(exc))
    replace = tuple(body.years) if body.replace else ()
    return await _merge(session, response, calendar, found, workdays, if_match, replace)


async def _merge(session, response, ref, found, workdays, if_match, replace_years):
    row = await catalog.get_calendar(session, ref)

    def kept(items, field):
        return [i for i in items if date.fromisoformat(i[field]).year not in replace_years]

    holidays = kept(row.holidays, "start")
    known = {(h["start"], h.get("end")) for h in holidays}
    added = 0
    for h in found:
        item = {"start": h.start.isoformat(), "end": h.end.isoformat(), "name": h.name}
        if (item["start"], item["end"]) not in known:
            holidays.append(item)
            known.add((item["start"], item["end"]))
            added += 1
    days = kept(row.workdays, "date")
    known_days = {w["date"] for w in days}
    added_days = 0
    for w in workdays:
        if w.day.isoformat() not in known_days:
            days.append({"date": w.day.isoformat(), "name": w.name})
            known_days.add(w.day.isoformat())
            added_days += 1
    holidays.sort(key=lambda h: h["start"])
    days.sort(key=lambda w: w["date"])
    row = await catalog.update_calendar(
        session, ref, {"holidays": holidays, "workdays": days}, if_match=if_match
    )
    result = ImportResult(calendar=read(row), holidays_added=added, workdays_added=added_days)
    await session.commit()
    response.headers["ETag"] = http.etag(row.version)
    return result
