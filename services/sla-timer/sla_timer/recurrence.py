"""Recurring schedules: RFC 5545 RRULEs in a time zone. Pure: no I/O.

A rule counts in local wall time from ``dtstart`` (e.g. 09:00 on the first day of every third
month in Asia/Shanghai), so an occurrence keeps its wall time across DST changes. A wall time
that does not exist (a skipped hour) fires at the jump; one that happens twice fires at its
first occurrence (``calendars.to_utc``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from dateutil import rrule

from sla_timer.calendars import CalendarError, to_utc, zone


class InvalidRule(ValueError):
    """An RRULE that dateutil cannot read, or one that is not a plain RRULE."""


def parse(rule: str, dtstart: datetime) -> rrule.rrule:
    """The rule over naive local ``dtstart``; ``RRULE:`` prefix optional."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text or "\n" in text or "DTSTART" in text.upper():
        raise InvalidRule("give one RRULE line (without DTSTART; dtstart is its own field)")
    try:
        parsed = rrule.rrulestr(text, dtstart=dtstart.replace(tzinfo=None))
    except (ValueError, TypeError) as exc:
        raise InvalidRule(f"RRULE {rule!r}: {exc}")
    if not isinstance(parsed, rrule.rrule):
        raise InvalidRule("give one RRULE, not a set")
    return parsed


def local_start(dtstart: datetime, time_zone: str) -> datetime:
    """``dtstart`` as naive wall time of the zone (an aware value is converted first)."""
    try:
        tz = zone(time_zone)
    except CalendarError as exc:
        raise InvalidRule(str(exc))
    if dtstart.tzinfo is not None:
        return dtstart.astimezone(tz).replace(tzinfo=None)
    return dtstart


def occurrences_after(
    rule: str, dtstart: datetime, time_zone: str, after: datetime | None
) -> Iterator[datetime]:
    """UTC occurrences strictly after ``after`` (all of them when None), in order."""
    tz = zone(time_zone)
    parsed = parse(rule, dtstart)
    if after is None:
        wall = parsed.after(dtstart.replace(tzinfo=None), inc=True)
    else:
        wall = parsed.after(after.astimezone(tz).replace(tzinfo=None), inc=False)
    while wall is not None:
        instant = to_utc(tz, wall)
        if after is None or instant > after:
            yield instant
        wall = parsed.after(wall, inc=False)


def next_after(rule: str, dtstart: datetime, time_zone: str, after: datetime | None):
    """The first UTC occurrence strictly after ``after`` (the first of all when None)."""
    return next(iter(occurrences_after(rule, dtstart, time_zone, after)), None)


def upcoming(
    rule: str, dtstart: datetime, time_zone: str, after: datetime, count: int = 5
) -> list[datetime]:
    found = []
    for instant in occurrences_after(rule, dtstart, time_zone, after):
        found.append(instant)
        if len(found) >= count:
            break
    return found


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)
