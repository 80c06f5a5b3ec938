"""Holidays and make-up workdays from outside sources. Pure: parses what it is given.

* iCalendar (RFC 5545): every VEVENT is a holiday covering its dates (an all-day DTEND is
  exclusive), unless it marks a working day: ``X-AFTERCARE-KIND:workday``, a ``WORKDAY``
  category, or a summary naming one (``补班``, ``上班``, ``make-up``, ``workday``), as Chinese
  holiday feeds publish them. Recurring events (RRULE) are expanded within the requested years.
* The ``holidays`` library: a country's (and subdivision's) public holidays for some years, and
  for countries that move weekend days (China) its make-up workdays.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import holidays as holidays_lib
import icalendar
from dateutil import rrule

from sla_timer.calendars import CalendarError, Holiday, Workday

WORKDAY_WORDS = ("补班", "上班", "make-up", "makeup", "workday", "working day")


def from_ics(
    data: bytes | str, *, years: Iterable[int] | None = None
) -> tuple[list[Holiday], list[Workday]]:
    """Holidays and workdays of an ``.ics`` file. ``years`` bounds recurring events (default:
    the year of each event's start and the next)."""
    try:
        cal = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise CalendarError(f"not an iCalendar file: {exc}")
    wanted = sorted(set(years)) if years else None
    holidays: list[Holiday] = []
    workdays: list[Workday] = []
    for event in cal.walk("VEVENT"):
        if event.get("DTSTART") is None:
            continue
        name = str(event.get("SUMMARY", "")).strip()
        first, last = _dates(event)
        length = last - first
        starts = [first]
        if event.get("RRULE") is not None:
            span = wanted or [first.year, first.year + 1]
            starts = _expand(event, first, date(span[0], 1, 1), date(span[-1], 12, 31))
        for start in starts:
            if wanted and start.year not in wanted and (start + length).year not in wanted:
                continue
            if _is_workday(event, name):
                day = start
                while day <= start + length:
                    workdays.append(Workday(day, name))
                    day += timedelta(days=1)
            else:
                holidays.append(Holiday(start, start + length, name))
    return holidays, workdays


def _dates(event: icalendar.Event) -> tuple[date, date]:
    start = event.decoded("DTSTART")
    end = event.decoded("DTEND") if event.get("DTEND") is not None else None
    if isinstance(start, datetime):
        # A timed event closes the dates it touches.
        if isinstance(end, datetime) and end > start:
            return start.date(), (end - timedelta(microseconds=1)).date()
        return start.date(), start.date()
    if end is None:
        duration = event.decoded("DURATION") if event.get("DURATION") is not None else None
        end = start + duration if duration else start + timedelta(days=1)
    if isinstance(end, datetime):
        end = end.date()
    return start, max(start, end - timedelta(days=1))


def _expand(event: icalendar.Event, first: date, lo: date, hi: date) -> list[date]:
    rule = event.get("RRULE").to_ical().decode()
    try:
        occurrences = rrule.rrulestr(rule, dtstart=datetime.combine(first, datetime.min.time()))
    except (ValueError, TypeError) as exc:
        raise CalendarError(f"RRULE {rule!r}: {exc}")
    found = occurrences.between(
        datetime.combine(lo, datetime.min.time()),
        datetime.combine(hi, datetime.min.time()),
        inc=True,
    )
    return [d.date() for d in found[:1000]]


def _is_workday(event: icalendar.Event, name: str) -> bool:
    kind = str(event.get("X-AFTERCARE-KIND", "")).strip().lower()
    if kind:
        return kind == "workday"
    categories = event.get("CATEGORIES")
    if categories is not None:
        items = categories if isinstance(categories, list) else [categories]
        for item in items:
            if any(str(c).strip().upper() == "WORKDAY" for c in item.cats):
                return True
    lowered = name.lower()
    return any(word in lowered for word in WORKDAY_WORDS)


def from_library(
    country: str, years: Iterable[int], *, subdivision: str | None = None
) -> tuple[list[Holiday], list[Workday]]:
    """A country's public holidays for ``years`` from the ``holidays`` package, and its
    make-up workdays where the package knows them."""
    years = sorted(set(years))
    try:
        table = holidays_lib.country_holidays(country, subdiv=subdivision, years=years)
    except NotImplementedError:
        raise CalendarError(f"the holidays package knows no country {country!r}")
    except ValueError as exc:
        raise CalendarError(str(exc))
    found = [Holiday(day, day, name) for day, name in sorted(table.items())]
    weekend_workdays = getattr(table, "weekend_workdays", set()) or set()
    workdays = [
        Workday(day, "make-up workday") for day in sorted(weekend_workdays) if day.year in years
    ]
    return found, workdays
