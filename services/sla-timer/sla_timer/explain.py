"""Plain-language accounts of a clock: how its deadline was computed. Pure: no I/O.

Every sentence names its inputs (policy row, calendar and its hours, pauses, changes, closed
days skipped), so a person can redo the arithmetic with ``/v1/sla/calendars/{key}/due``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sla_timer.calendars import Calendar, format_duration, format_local

LABELS = {
    "response": "First response",
    "on_site": "On-site arrival",
    "resolution": "Resolution",
    "progress": "Progress report",
    "observation": "Observation period",
}


@dataclass(frozen=True)
class Clock:
    """What the explanation reads of a stored timer."""

    kind: str
    target: timedelta
    target_reason: str
    calendar_key: str
    calendar_name: str
    policy_key: str
    state: str
    outcome: str | None
    started_at: datetime
    due_at: datetime | None
    stopped_at: datetime | None
    stop_reason: str | None
    breach_at: datetime | None
    segments: Sequence[tuple[datetime, datetime | None]]
    pauses: Sequence[tuple[datetime, datetime | None]]
    notes: Sequence[str]


def used(calendar: Calendar, spans: Sequence[tuple[datetime, datetime | None]], now: datetime):
    total = timedelta(0)
    for a, b in spans:
        end = now if b is None else min(b, now)
        total += calendar.elapsed(a, end)
    return total


def explain(clock: Clock, calendar: Calendar, now: datetime) -> list[str]:
    tz = calendar.tz
    wall = clock.kind == "observation"
    lines = []
    counted = "wall-clock time" if wall else "working time"
    lines.append(
        f"{LABELS.get(clock.kind, clock.kind)}: {format_duration(clock.target)} of {counted}"
        + (f", from the {clock.target_reason}." if clock.target_reason else ".")
    )
    if not wall:
        lines.append(
            f"Counted on calendar {clock.calendar_key!r} ({clock.calendar_name}, "
            f"{calendar.zone_name}): {calendar.describe_hours()}; holidays are skipped and "
            "make-up workdays count."
        )
    lines.append(f"Started {format_local(clock.started_at, tz)}.")
    for a, b in clock.pauses:
        spent = calendar.elapsed(a, now if b is None else min(b, now))
        until = "still waiting" if b is None else f"until {format_local(b, tz)}"
        lines.append(
            f"Paused from {format_local(a, tz)} {until}, waiting on the customer: "
            f"{format_duration(spent)} of working time not counted."
        )
    lines.extend(f"{note[0].upper()}{note[1:]}; the time already used still counts." for note in
                 clock.notes)  # fmt: skip
    spent = used(calendar, clock.segments, now)
    if clock.due_at is not None and not wall:
        end = clock.due_at if clock.stopped_at is None else max(clock.due_at, clock.stopped_at)
        skipped = calendar.closed_stretches(clock.started_at, end)
        if skipped:
            lines.append("Closed time skipped: " + "; ".join(skipped) + ".")
    if clock.state == "running":
        if clock.due_at is not None:
            left = clock.target - spent
            verb = "is due" if clock.due_at > now else "was due"
            lines.append(
                f"It {verb} {format_local(clock.due_at, tz)}; {format_duration(spent)} used, "
                f"{format_duration(max(left, timedelta(0)))} left."
            )
    elif clock.state == "paused":
        left = clock.target - spent
        lines.append(
            f"The clock is paused with {format_duration(spent)} used and "
            f"{format_duration(max(left, timedelta(0)))} left; the deadline moves until it resumes."
        )
    elif clock.stopped_at is not None:
        why = f" because {clock.stop_reason}" if clock.stop_reason else ""
        lines.append(f"Stopped {format_local(clock.stopped_at, tz)}{why}.")
    if clock.outcome == "met" and clock.due_at is not None and clock.stopped_at is not None:
        margin = (
            calendar.elapsed(clock.stopped_at, clock.due_at)
            if not wall
            else (clock.due_at - clock.stopped_at)
        )
        lines.append(
            f"Met, {format_duration(margin)} of {counted} before the deadline "
            f"{format_local(clock.due_at, tz)}."
        )
    elif clock.outcome == "breached" and clock.breach_at is not None:
        lines.append(f"Breached: the deadline passed unmet at {format_local(clock.breach_at, tz)}.")
    elif clock.outcome == "elapsed" and clock.due_at is not None:
        lines.append(f"Elapsed {format_local(clock.due_at, tz)} with no recurrence.")
    return lines
