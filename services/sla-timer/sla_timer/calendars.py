"""Business-time arithmetic. Pure: no I/O.

A calendar is an IANA time zone, weekly working intervals (several per day, e.g. 08:30-12:00 and
13:00-17:00), holidays (whole local dates, closed) and make-up workdays (a date, usually a
weekend day, worked with the calendar's workday hours, as Chinese holiday schedules require).

Rules:

* Business hours exclude holidays; make-up workdays count, with ``workday_hours``.
* Intervals are wall-clock times on a local date. An interval ``[a, b)`` runs from the first
  instant the clock shows ``a`` to the last instant before it shows ``b``: in a repeated hour
  (DST overlap) the repeated time is worked and counted; a boundary inside a skipped hour (DST
  gap) moves to the instant of the jump. ``24:00`` is the next date's first midnight.
* ``add(start, budget)`` is the instant at which ``budget`` of working time counted from
  ``start`` is used up. For a positive budget it is never inside closed time: it lies inside an
  open interval or is exactly the closing instant of one (12:00, 17:00), never the next opening.
* ``elapsed(start, end)`` is the working time in ``[start, end)``;
  ``elapsed(start, add(start, b)) == b`` exactly (microseconds; no rounding anywhere).
* Instants are timezone-aware; results are in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 1440
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# No real calendar is closed this long; a longer search means it has no working time at all.
MAX_SEARCH_DAYS = 3 * 366
_CACHE_LIMIT = 20_000
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")

Interval = tuple[int, int]  # minutes after local midnight, 0 <= start < end <= 1440
Span = tuple[datetime, datetime]  # UTC instants, start < end


class CalendarError(ValueError):
    """A calendar definition that cannot be used (bad zone, interval or overlap)."""


class NoWorkingTime(CalendarError):
    """The calendar has no working time within the search horizon."""


@dataclass(frozen=True)
class Holiday:
    """Closed from ``start`` to ``end`` inclusive (local dates)."""

    start: date
    end: date
    name: str = ""

    def dates(self) -> Iterator[date]:
        day = self.start
        while day <= self.end:
            yield day
            day += timedelta(days=1)


@dataclass(frozen=True)
class Workday:
    """A make-up working day: open with the calendar's workday hours whatever its weekday."""

    day: date
    name: str = ""


def parse_hhmm(value: str) -> int:
    """``"08:30"`` → 510 minutes; ``"24:00"`` is allowed as an end."""
    match = _HHMM.match(value)
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise CalendarError(f"{value!r} is not a time HH:MM between 00:00 and 24:00")
    return int(match.group(1)) * 60 + int(match.group(2))


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_intervals(pairs: Iterable[Sequence[str]]) -> tuple[Interval, ...]:
    """``[["08:30", "12:00"], ["13:00", "17:00"]]`` → sorted, validated, adjacent ones merged."""
    intervals = []
    for pair in pairs:
        if len(pair) != 2:
            raise CalendarError(f"an interval is [start, end], got {list(pair)!r}")
        start, end = parse_hhmm(pair[0]), parse_hhmm(pair[1])
        if start >= end:
            raise CalendarError(f"interval {pair[0]}-{pair[1]} ends before it starts")
        intervals.append((start, end))
    return normalise(intervals)


def normalise(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if not 0 <= start < end <= MINUTES_PER_DAY:
            raise CalendarError(f"interval {start}-{end} is outside one day")
        if merged and start < merged[-1][1]:
            raise CalendarError(
                f"intervals {format_hhmm(merged[-1][0])}-{format_hhmm(merged[-1][1])} and "
                f"{format_hhmm(start)}-{format_hhmm(end)} overlap"
            )
        if merged and start == merged[-1][1]:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return tuple((a, b) for a, b in merged)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"{name!r} is not an IANA time zone")


def to_utc(tz: ZoneInfo, wall: datetime, *, latest: bool = False) -> datetime:
    """The instant a naive local wall time denotes in ``tz``.

    Ambiguous (repeated hour): the first occurrence, or the last with ``latest``. Nonexistent
    (skipped hour): the instant of the jump, the first instant whose clock is past ``wall``.
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return first
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return max(first, second) if latest else min(first, second)
    # A gap: the offset changes somewhere in (lo, hi]; find the second it does.
    lo, hi = sorted((first, second))
    after = hi.astimezone(tz).utcoffset()
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(tz).utcoffset() == after:
            hi_s = mid
        else:
            lo_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise CalendarError("instants must carry a time zone")
    return value.astimezone(UTC)


class Calendar:
    """Working time in one zone. Immutable after construction; caches each date's open spans."""

    def __init__(
        self,
        zone_name: str,
        weekly: Mapping[int, Iterable[Interval]],
        *,
        holidays: Iterable[Holiday] = (),
        workdays: Iterable[Workday] = (),
        workday_hours: Iterable[Interval] | None = None,
        name: str = "",
    ) -> None:
        self.zone_name = zone_name
        self.tz = zone(zone_name)
        self.name = name
        self.weekly: tuple[tuple[Interval, ...], ...] = tuple(
            normalise(weekly.get(i, ())) for i in range(7)
        )
        if workday_hours is None:
            workday_hours = next((h for h in self.weekly if h), ())
        self.workday_hours = normalise(workday_hours)
        self.holidays: dict[date, str] = {}
        for holiday in holidays:
            if holiday.end < holiday.start:
                raise CalendarError(f"holiday {holiday.name!r} ends before it starts")
            for day in holiday.dates():
                self.holidays.setdefault(day, holiday.name)
        self.workdays: dict[date, str] = {w.day: w.name for w in workdays}
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise CalendarError(f"{both[0].isoformat()} is both a holiday and a make-up workday")
        self.always_open = (
            all(h == ((0, MINUTES_PER_DAY),) for h in self.weekly) and not self.holidays
        )
        self._spans: dict[date, tuple[Span, ...]] = {}

    @classmethod
    def twenty_four_seven(cls, zone_name: str = "UTC", name: str = "24x7") -> Calendar:
        return cls(zone_name, {i: ((0, MINUTES_PER_DAY),) for i in range(7)}, name=name)

    # ---- one local date ------------------------------------------------------------------

    def hours_on(self, day: date) -> tuple[Interval, ...]:
        """The working intervals of a local date: none on a holiday, the workday hours on a
        make-up workday, else its weekday's."""
        if day in self.holidays:
            return ()
        if day in self.workdays:
            return self.workday_hours
        return self.weekly[day.weekday()]

    def spans_on(self, day: date) -> tuple[Span, ...]:
        """The open UTC spans of a local date, disjoint, sorted, within that date."""
        spans = self._spans.get(day)
        if spans is None:
            if len(self._spans) > _CACHE_LIMIT:
                self._spans.clear()
            spans = self._spans[day] = self._compute_spans(day)
        return spans

    def _compute_spans(self, day: date) -> tuple[Span, ...]:
        hours = self.hours_on(day)
        if not hours:
            return ()
        day_start = self._boundary(day, 0, latest=False)
        day_end = self._boundary(day, MINUTES_PER_DAY, latest=False)
        spans: list[list[datetime]] = []
        for a, b in hours:
            start = max(self._boundary(day, a, latest=False), day_start)
            end = min(self._boundary(day, b, latest=True), day_end)
            if start >= end:
                continue  # wholly inside a skipped hour
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        return tuple((a, b) for a, b in spans)

    def _boundary(self, day: date, minute: int, *, latest: bool) -> datetime:
        if minute == MINUTES_PER_DAY:
            day, minute, latest = day + timedelta(days=1), 0, False
        wall = datetime.combine(day, time(minute // 60, minute % 60))
        return to_utc(self.tz, wall, latest=latest)

    def local_date(self, instant: datetime) -> date:
        return _utc(instant).astimezone(self.tz).date()

    def _spans_from(self, start: datetime) -> Iterator[Span]:
        # Start a day early: a repeated late hour can put an instant of date d-1 after d's
        # first midnight in UTC order only in theory, but the extra day costs nothing.
        day = self.local_date(start) - timedelta(days=1)
        for _ in range(MAX_SEARCH_DAYS):
            for span in self.spans_on(day):
                if span[1] > start:
                    yield span
            day += timedelta(days=1)
        raise NoWorkingTime(
            f"calendar {self.name or self.zone_name!r} has no working time "
            f"within {MAX_SEARCH_DAYS} days"
        )

    # ---- arithmetic ----------------------------------------------------------------------

    def is_open(self, instant: datetime) -> bool:
        instant = _utc(instant)
        if self.always_open:
            return True
        day = self.local_date(instant)
        for d in (day - timedelta(days=1), day, day + timedelta(days=1)):
            if any(a <= instant < b for a, b in self.spans_on(d)):
                return True
        return False

    def add(self, start: datetime, budget: timedelta) -> datetime:
        """The instant when ``budget`` of working time from ``start`` is used up."""
        start = _utc(start)
        if budget < timedelta(0):
            raise CalendarError("a budget of working time cannot be negative")
        if self.always_open or not budget:
            return start + budget
        remaining = budget
        for a, b in self._spans_from(start):
            begin = max(a, start)
            available = b - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable")  # _spans_from raises first

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """The working time in ``[start, end)``; zero when ``end <= start``."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return timedelta(0)
        if self.always_open:
            return end - start
        total = timedelta(0)
        day = self.local_date(start) - timedelta(days=1)
        last = self.local_date(end) + timedelta(days=1)
        while day <= last:
            for a, b in self.spans_on(day):
                lo, hi = max(a, start), min(b, end)
                if lo < hi:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def next_open(self, instant: datetime) -> datetime:
        """``instant`` if open, else the next opening."""
        instant = _utc(instant)
        if self.always_open:
            return instant
        a, _ = next(self._spans_from(instant))
        return max(a, instant)

    # ---- words -----------------------------------------------------------------------------

    def describe_hours(self) -> str:
        """``Mon-Fri 08:30-12:00, 13:00-17:00``, weekdays with equal hours grouped."""
        if self.always_open:
            return "every day, around the clock"
        groups: list[tuple[int, int, tuple[Interval, ...]]] = []
        for i, hours in enumerate(self.weekly):
            if groups and groups[-1][2] == hours and groups[-1][1] == i - 1:
                groups[-1] = (groups[-1][0], i, hours)
            else:
                groups.append((i, i, hours))
        parts = []
        for first, last, hours in groups:
            if not hours:
                continue
            days = (
                WEEKDAY_NAMES[first]
                if first == last
                else (f"{WEEKDAY_NAMES[first]}-{WEEKDAY_NAMES[last]}")
            )
            parts.append(f"{days} {format_intervals(hours)}")
        return "; ".join(parts) or "never open"

    def closed_stretches(self, start: datetime, end: datetime, limit: int = 12) -> list[str]:
        """Holidays and whole closed days between two instants, as short phrases, e.g.
        ``"Sun 15 Feb-Mon 23 Feb 2026: Spring Festival"``; make-up workdays are named too."""
        out: list[str] = []
        day, last = self.local_date(start), self.local_date(end)
        run: tuple[date, date, str] | None = None
        while day <= last and len(out) < limit:
            reason = None
            if day in self.holidays:
                reason = self.holidays[day] or "holiday"
            elif not self.hours_on(day):
                reason = "closed"
            if reason and run and run[2] == reason and run[1] == day - timedelta(days=1):
                run = (run[0], day, reason)
            else:
                if run:
                    out.append(_stretch(run))
                run = (day, day, reason) if reason else None
            if day in self.workdays:
                label = self.workdays[day] or "make-up workday"
                out.append(f"{_day(day)}: worked as a make-up workday ({label})")
            day += timedelta(days=1)
        if run and len(out) < limit:
            out.append(_stretch(run))
        return out


def format_intervals(hours: Iterable[Interval]) -> str:
    return ", ".join(f"{format_hhmm(a)}-{format_hhmm(b)}" for a, b in hours)


def _day(day: date) -> str:
    return f"{WEEKDAY_NAMES[day.weekday()]} {day.day} {day:%b %Y}"


def _stretch(run: tuple[date, date, str]) -> str:
    first, last, reason = run
    when = _day(first) if first == last else f"{_day(first)}-{_day(last)}"
    return f"{when}: {reason}"


def format_duration(value: timedelta) -> str:
    """``1 h 30 min``; seconds only when there are some."""
    total = int(value.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours:
        parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    if seconds or not parts:
        parts.append(f"{seconds} s")
    return sign + " ".join(parts)


def format_local(instant: datetime, tz: ZoneInfo) -> str:
    """``Fri 13 Feb 2026 16:00 CST``"""
    local = _utc(instant).astimezone(tz)
    return f"{WEEKDAY_NAMES[local.weekday()]} {local.day} {local:%b %Y %H:%M %Z}"
