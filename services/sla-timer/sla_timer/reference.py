"""Calendars and policies as the clocks use them, cached in-process per row version.

Every consumed event derives its ticket's clocks again, and turning a stored calendar or policy
into its pure form (parsing hours and holidays, validating policy rows) costs more than the
deadline arithmetic itself. So the pure forms are cached, keyed by the row's id, ``version``
and ``xmin`` (the transaction that wrote the row version).

Invalidation: each lookup first reads id, version and xmin of the rows it may need, in the
caller's transaction (``lookup``, or the handlers' one read of a ticket's state), and uses a
cached entry only when all three match the row the database holds now. Any committed change of
a row gives it a new xmin, whoever made it (the API, which also bumps ``version``, a migration,
or an UPDATE by hand); a key deleted and created again gets a new id. So there is no staleness
window (no TTL): the first event after a change sees the new hours or targets, exactly as when
the rows were read in full on every event. A cached entry is immutable and shared by all
tickets on that row version.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

import asyncpg

from sla_timer import calendars as cal
from sla_timer import catalog, policies
from sla_timer.sql import Rec

MAX_ENTRIES = 512

_VERSIONS = """
SELECT false AS is_policy, id, key, version, xmin::text::bigint AS xmin
FROM calendar WHERE key = ANY($1::text[])
UNION ALL
SELECT true, id, key, version, xmin::text::bigint
FROM policy WHERE key = ANY($2::text[])
"""

_CALENDARS = """
SELECT id, key, name, time_zone, weekly_hours, workday_hours, holidays, workdays, version,
       xmin::text::bigint AS xmin
FROM calendar WHERE id = ANY($1::uuid[])
"""

_POLICIES = """
SELECT id, key, name, rows, channel_overrides, complaint_response_minutes,
       default_response_minutes, observation_minutes, warning_thresholds, version,
       xmin::text::bigint AS xmin
FROM policy WHERE id = ANY($1::uuid[])
"""

_CALENDAR_JSON = ("weekly_hours", "workday_hours", "holidays", "workdays")
_POLICY_JSON = ("rows", "channel_overrides", "warning_thresholds")

Version = tuple[uuid.UUID, int, int]  # (id, version, xmin)
Stamp = tuple[bool, uuid.UUID, int, int]  # (is policy, id, version, xmin)


@dataclass(frozen=True)
class CalendarEntry:
    id: uuid.UUID
    key: str
    name: str
    calendar: cal.Calendar


@dataclass(frozen=True)
class PolicyEntry:
    id: uuid.UUID
    key: str
    policy: policies.Policy
    _targets: dict[tuple[str, int, str], policies.Targets] = field(
        default_factory=dict, compare=False, repr=False
    )

    def targets(self, *, kind: str, severity: int, channel: str) -> policies.Targets:
        """``policies.targets`` for this policy, computed once per kind, severity and channel
        (the result is read, never changed, by the clocks)."""
        wanted = (kind, severity, channel)
        found = self._targets.get(wanted)
        if found is None:
            found = self._targets[wanted] = policies.targets(
                self.policy, kind=kind, severity=severity, channel=channel
            )
        return found


_cache: dict[Stamp, CalendarEntry | PolicyEntry] = {}


def clear() -> None:
    _cache.clear()


async def lookup(
    conn: asyncpg.Connection, calendar_keys: Collection[str], policy_keys: Collection[str]
) -> tuple[dict[str, CalendarEntry], dict[str, PolicyEntry]]:
    """The calendars and policies that exist among these keys, by key, as the database holds
    them now."""
    calendars: list[Version] = []
    policies_: list[Version] = []
    for row in await conn.fetch(_VERSIONS, list(calendar_keys), list(policy_keys)):
        (policies_ if row["is_policy"] else calendars).append(
            (row["id"], row["version"], row["xmin"])
        )
    return await resolve(conn, calendars, policies_)


async def resolve(
    conn: asyncpg.Connection, calendars: Iterable[Version], policies_: Iterable[Version]
) -> tuple[dict[str, CalendarEntry], dict[str, PolicyEntry]]:
    """The entries of these row versions ((id, version, xmin), read in the caller's
    transaction), by key; rows not cached at that version are read in full."""
    found_calendars: dict[str, CalendarEntry] = {}
    found_policies: dict[str, PolicyEntry] = {}
    missing: dict[bool, list[uuid.UUID]] = {False: [], True: []}
    for is_policy, versions in ((False, calendars), (True, policies_)):
        for id_, version, xmin in versions:
            entry = _cache.get((is_policy, id_, version, xmin))
            if entry is None:
                missing[is_policy].append(id_)
            elif isinstance(entry, PolicyEntry):
                found_policies[entry.key] = entry
            else:
                found_calendars[entry.key] = entry
    if (missing[False] or missing[True]) and len(_cache) > MAX_ENTRIES:
        _cache.clear()
    if missing[False]:
        # Read in full with their stamp: a row changed since its version was read is cached
        # under its new stamp, and the newer committed version is the one used.
        for record in await conn.fetch(_CALENDARS, missing[False]):
            row = Rec.of(record, _CALENDAR_JSON)
            entry = CalendarEntry(row.id, row.key, row.name, catalog.to_calendar(row))  # type: ignore[arg-type]
            _cache[(False, row.id, row.version, row.xmin)] = entry
            found_calendars[entry.key] = entry
    if missing[True]:
        for record in await conn.fetch(_POLICIES, missing[True]):
            row = Rec.of(record, _POLICY_JSON)
            policy_entry = PolicyEntry(row.id, row.key, catalog.to_policy(row))  # type: ignore[arg-type]
            _cache[(True, row.id, row.version, row.xmin)] = policy_entry
            found_policies[policy_entry.key] = policy_entry
    return found_calendars, found_policies
