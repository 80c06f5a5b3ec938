"""Warranty of a device (DOMAIN.md, "How a request is handled" 7).

A device that is down for more than a month extends its warranty by three times the downtime.
Downtime is a fault ticket on the device, from when it was reported until it was resolved (or
until now while it is still open). Each qualifying period extends the warranty on its own; the
result lists every extension with its reason so the customer can follow the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

QUALIFYING_DOWNTIME = timedelta(days=30)
EXTENSION_FACTOR = 3


@dataclass(frozen=True)
class Downtime:
    ticket_number: int
    down_from: datetime
    down_until: datetime | None  # None: still down


@dataclass(frozen=True)
class Extension:
    ticket_number: int
    downtime: timedelta
    extension: timedelta
    reason: str


@dataclass(frozen=True)
class Warranty:
    base_end: date | None
    effective_end: date | None
    extensions: tuple[Extension, ...]

    def covers(self, day: date) -> bool:
        return self.effective_end is not None and day <= self.effective_end


def effective(base_end: date | None, downtimes: list[Downtime], *, now: datetime) -> Warranty:
    """The warranty end after every downtime longer than a month extended it threefold."""
    extensions = []
    for d in sorted(downtimes, key=lambda d: d.down_from):
        until = d.down_until or now
        down = until - d.down_from
        if down <= QUALIFYING_DOWNTIME:
            continue
        extra = down * EXTENSION_FACTOR
        extensions.append(
            Extension(
                ticket_number=d.ticket_number,
                downtime=down,
                extension=extra,
                reason=(
                    f"ticket #{d.ticket_number}: down {_days(down)} "
                    f"({d.down_from.date()} to {'now' if d.down_until is None else until.date()}),"
                    f" more than 30 days, so the warranty grows by 3 x {_days(down)}"
                    f" = {_days(extra)}"
                ),
            )
        )
    if base_end is None:
        return Warranty(None, None, tuple(extensions))
    total = sum((e.extension for e in extensions), timedelta())
    return Warranty(base_end, base_end + timedelta(days=_ceil_days(total)), tuple(extensions))


def _ceil_days(span: timedelta) -> int:
    return -(-int(span.total_seconds()) // 86400)


def _days(span: timedelta) -> str:
    days = span.total_seconds() / 86400
    return f"{days:.1f} days"
