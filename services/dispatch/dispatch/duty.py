"""Who is on duty when: weekly shifts in a time zone, dated exceptions, and on-call slots.

Rules, strongest first:

1. **Leave** (an exception of one engineer) takes them off everything, on-call included.
2. **Extra duty** (an exception of one engineer: a swapped or added duty) puts them on shift.
3. **Closure** (an exception of a whole branch: a public holiday, a site closure) cancels the
   branch's weekly shifts, but not its on-call rota, which exists for nights and holidays.
4. **Weekly shifts**: days of the week and local hours in the shift's IANA time zone, so a
   shift follows daylight-saving changes. A shift whose end is not after its start runs past
   midnight into the next day (22:00-06:00); equal start and end mean 24 hours. A shift
   belongs to the day it starts on, and ``valid_from`` / ``valid_until`` bound that day.

On-call (a slot of the branch's rota) is reported separately from being on shift: routing
uses on-call engineers only for 7x24 contracts, and only when nobody on shift can take it.
All instants are timezone-aware; intervals are half-open ``[starts_at, ends_at)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

ExceptionKind = Literal["leave", "extra_duty", "closure"]

WEEKDAY_NAMES = ("", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class WeeklyShift:
    weekdays: frozenset[int]  # ISO: 1 = Monday … 7 = Sunday
    starts: time
    ends: time
    time_zone: str = "Asia/Shanghai"
    valid_from: date | None = None
    valid_until: date | None = None

    @property
    def overnight(self) -> bool:
        return self.ends <= self.starts

    def describe(self) -> str:
        days = ",".join(WEEKDAY_NAMES[d] for d in sorted(self.weekdays))
        return f"{days} {self.starts:%H:%M}-{self.ends:%H:%M} {self.time_zone}"

    def _valid_on(self, day: date) -> bool:
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_until is None or day <= self.valid_until

    def _starts_on(self, day: date) -> bool:
        return day.isoweekday() in self.weekdays and self._valid_on(day)

    def covers(self, at: datetime) -> bool:
        local = at.astimezone(zone(self.time_zone))
        day, clock = local.date(), local.time().replace(tzinfo=None)
        if not self.overnight:
            return self._starts_on(day) and self.starts <= clock < self.ends
        if clock >= self.starts and self._starts_on(day):
            return True
        return clock < self.ends and self._starts_on(day - timedelta(days=1))

    def next_start(self, after: datetime, *, days: int = 8) -> datetime | None:
        """The first start strictly after ``after`` within ``days`` days, or None."""
        tz = zone(self.time_zone)
        first = after.astimezone(tz).date()
        for offset in range(days + 1):
            day = first + timedelta(days=offset)
            if self._starts_on(day):
                start = datetime.combine(day, self.starts, tzinfo=tz)
                if start > after:
                    return start
        return None


@dataclass(frozen=True)
class DutyException:
    kind: ExceptionKind
    starts_at: datetime
    ends_at: datetime
    reason: str | None = None

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True)
class OnCallSlot:
    starts_at: datetime
    ends_at: datetime

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True)
class Schedule:
    """Everything that decides one engineer's duty; ``exceptions`` holds both the engineer's
    own (leave, extra duty) and their branch's (closure)."""

    shifts: tuple[WeeklyShift, ...] = ()
    exceptions: tuple[DutyException, ...] = ()
    on_call: tuple[OnCallSlot, ...] = ()


@dataclass(frozen=True)
class Duty:
    on_shift: bool
    on_call: bool
    why: str

    @property
    def available(self) -> bool:
        return self.on_shift or self.on_call


def duty_at(schedule: Schedule, at: datetime) -> Duty:
    """Whether the engineer is on shift and whether on call at ``at``, and why, in words."""
    active = [e for e in schedule.exceptions if e.covers(at)]
    leave = next((e for e in active if e.kind == "leave"), None)
    if leave is not None:
        return Duty(False, False, f"on leave until {_ts(leave.ends_at)}{_because(leave)}")
    on_call_slot = next((s for s in schedule.on_call if s.covers(at)), None)
    extra = next((e for e in active if e.kind == "extra_duty"), None)
    if extra is not None:
        return Duty(True, on_call_slot is not None, f"extra duty{_because(extra)}")
    shift = next((s for s in schedule.shifts if s.covers(at)), None)
    closure = next((e for e in active if e.kind == "closure"), None)
    if shift is not None and closure is None:
        return Duty(True, on_call_slot is not None, f"shift {shift.describe()}")
    if on_call_slot is not None:
        return Duty(False, True, f"on call until {_ts(on_call_slot.ends_at)}")
    if shift is not None and closure is not None:
        return Duty(False, False, f"branch closed until {_ts(closure.ends_at)}{_because(closure)}")
    return Duty(False, False, "off shift")


def unchanged_until(schedule: Schedule, at: datetime, *, limit: timedelta) -> datetime:
    """An instant up to which ``duty_at(schedule, t)`` is the same as at ``at`` for every ``t``
    in ``[at, result)``: no later than ``at + limit``, nor than the first instant after ``at``
    at which a shift's local clock reaches its start or end, or an exception or on-call slot
    starts or ends (the only instants at which the answer, words included, can change)."""
    best = at + limit

    def consider(moment: datetime) -> None:
        nonlocal best
        if at < moment < best:
            best = moment

    for shift in schedule.shifts:
        tz = zone(shift.time_zone)
        day = at.astimezone(tz).date()
        for offset in (0, 1):
            for clock in (shift.starts, shift.ends):
                consider(datetime.combine(day + timedelta(days=offset), clock, tzinfo=tz))
    for exc in schedule.exceptions:
        consider(exc.starts_at)
        consider(exc.ends_at)
    for slot in schedule.on_call:
        consider(slot.starts_at)
        consider(slot.ends_at)
    return best


def next_duty_start(schedules: Iterable[Schedule], after: datetime) -> datetime | None:
    """The earliest instant after ``after`` at which someone may come on duty: a shift or
    on-call slot starts, extra duty starts, or leave or a closure ends. Used to wake the queue
    re-evaluation; an instant at which nothing actually changes only costs a wasted pass."""
    best: datetime | None = None

    def consider(moment: datetime | None) -> None:
        nonlocal best
        if moment is not None and moment > after and (best is None or moment < best):
            best = moment

    for schedule in schedules:
        for shift in schedule.shifts:
            consider(shift.next_start(after))
        for slot in schedule.on_call:
            consider(slot.starts_at)
        for exc in schedule.exceptions:
            consider(exc.starts_at if exc.kind == "extra_duty" else exc.ends_at)
    return best


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _because(exc: DutyException) -> str:
    return f" ({exc.reason})" if exc.reason else ""
