"""The roster as routing reads it: branches, engineers' static facts and duty schedules.

Routing runs for every ticket, the roster changes a few times a day. So each worker process
keeps one snapshot per database engine and reloads it only when ``roster_state.version`` has
moved (a statement trigger bumps it on any change to branches, engineers, shifts, exceptions
and on-call). Engineers' loads are *not* part of the snapshot: they change with every
assignment and are always read fresh, and the capacity check happens in the locked update.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from dispatch import duty, routing

# Exceptions and on-call slots that ended longer ago than this are left out of the snapshot.
HISTORY = timedelta(days=1)

# The longest a computed duty is reused (it is reused only while nothing can change it).
DUTY_CACHE_LIMIT = timedelta(minutes=1)

# Regions whose routing pool a snapshot keeps (tickets name a few hundred at most).
POOLS_KEPT = 4096


@dataclass(frozen=True)
class EngineerInfo:
    id: uuid.UUID
    user_id: str
    name: str
    phone: str | None
    email: str | None
    branch_id: uuid.UUID
    tier: int
    skills: frozenset[str]
    languages: frozenset[str]
    max_open: int
    active: bool


@dataclass
class Roster:
    version: int
    loaded_since: datetime
    branches: dict[uuid.UUID, routing.Branch] = field(default_factory=dict)
    time_zones: dict[uuid.UUID, str] = field(default_factory=dict)
    engineers: dict[uuid.UUID, EngineerInfo] = field(default_factory=dict)
    schedules: dict[uuid.UUID, duty.Schedule] = field(default_factory=dict)
    by_branch: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)

    duties: dict[uuid.UUID, tuple[datetime, datetime, duty.Duty]] = field(default_factory=dict)
    pools: dict[tuple[int, str | None], tuple[list[routing.Branch], list[EngineerInfo]]] = field(
        default_factory=dict
    )

    def schedule(self, engineer_id: uuid.UUID) -> duty.Schedule:
        return self.schedules.get(engineer_id, EMPTY)

    def duty(self, engineer_id: uuid.UUID, at: datetime) -> duty.Duty:
        """The engineer's duty at ``at``, computed again only when ``at`` leaves the interval
        over which it cannot change (``duty.unchanged_until``: up to the next shift start or
        end, exception or on-call boundary, a minute at most): in a burst the same engineers
        are candidates for many tickets each second."""
        known = self.duties.get(engineer_id)
        if known is not None and known[0] <= at < known[1]:
            return known[2]
        schedule = self.schedule(engineer_id)
        state = duty.duty_at(schedule, at)
        until = duty.unchanged_until(schedule, at, limit=DUTY_CACHE_LIMIT)
        self.duties[engineer_id] = (at, until, state)
        return state

    def engineers_of(self, branch_ids: list[uuid.UUID], tier: int) -> list[EngineerInfo]:
        found = []
        for branch_id in branch_ids:
            for engineer_id in self.by_branch.get(branch_id, ()):
                info = self.engineers[engineer_id]
                if info.tier == tier:
                    found.append(info)
        return found

    def covering(self, *, tier: int, region: str | None) -> list[routing.Branch]:
        return routing.covering_branches(self.branches.values(), tier=tier, region=region)

    def pool(
        self, *, tier: int, region: str | None
    ) -> tuple[list[routing.Branch], list[EngineerInfo]]:
        """The branches covering ``region`` at ``tier`` and their engineers of that tier,
        worked out once per region for this snapshot (callers must not change the lists)."""
        key = (tier, region)
        found = self.pools.get(key)
        if found is None:
            if len(self.pools) >= POOLS_KEPT:
                self.pools.clear()
            branches = self.covering(tier=tier, region=region)
            found = self.pools[key] = (branches, self.engineers_of([b.id for b in branches], tier))
        return found


EMPTY = duty.Schedule()


class RosterCache:
    """One engine's snapshot; concurrent readers share one reload."""

    def __init__(self) -> None:
        self.roster: Roster | None = None
        self._lock = asyncio.Lock()

    async def current(self, session: AsyncSession, version: int | None = None) -> Roster:
        """The snapshot of ``version`` (read from the database when not given)."""
        if version is None:
            version = (
                await session.execute(text("SELECT version FROM roster_state WHERE id = 1"))
            ).scalar_one()
        roster = self.roster
        if roster is not None and roster.version == version:
            return roster
        async with self._lock:
            roster = self.roster
            if roster is None or roster.version != version:
                roster = await load(session, version=version)
                self.roster = roster
        return roster


_caches: weakref.WeakKeyDictionary[AsyncEngine, RosterCache] = weakref.WeakKeyDictionary()


def _cache(session: AsyncSession) -> RosterCache:
    engine = session.bind
    cache = _caches.get(engine)  # type: ignore[arg-type]
    if cache is None:
        cache = _caches.setdefault(engine, RosterCache())  # type: ignore[arg-type]
    return cache


async def current(session: AsyncSession, version: int | None = None) -> Roster:
    """The roster snapshot for the session's database, reloaded if it changed (pass the
    ``version`` when the caller has just read it)."""
    return await _cache(session).current(session, version)


def cached(session: AsyncSession) -> Roster | None:
    """The last snapshot loaded for the session's database, unchecked (may be stale)."""
    return _cache(session).roster


async def load(session: AsyncSession, *, version: int = 0, since: datetime | None = None) -> Roster:
    """A fresh snapshot; exceptions and on-call slots ending before ``since`` (default: a day
    ago) are left out."""
    now = (await session.execute(text("SELECT now()"))).scalar_one()
    since = since if since is not None else now - HISTORY
    roster = Roster(version=version, loaded_since=since)
    by_branch: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    shifts: dict[uuid.UUID, list[duty.WeeklyShift]] = defaultdict(list)
    own: dict[uuid.UUID, list[duty.DutyException]] = defaultdict(list)
    closures: dict[uuid.UUID, list[duty.DutyException]] = defaultdict(list)
    slots: dict[uuid.UUID, list[duty.OnCallSlot]] = defaultdict(list)

    for b in await session.execute(
        text("SELECT id, name, tier, regions, time_zone, active FROM branch")
    ):
        roster.branches[b.id] = routing.Branch(b.id, b.name, b.tier, tuple(b.regions), b.active)
        roster.time_zones[b.id] = b.time_zone
    for e in await session.execute(
        text(
            "SELECT id, user_id, name, phone, email, branch_id, tier, skills, languages, "
            "max_open, active FROM engineer ORDER BY id"
        )
    ):
        roster.engineers[e.id] = EngineerInfo(
            id=e.id,
            user_id=e.user_id,
            name=e.name,
            phone=e.phone,
            email=e.email,
            branch_id=e.branch_id,
            tier=e.tier,
            skills=frozenset(routing.normalise(s) for s in e.skills),
            languages=frozenset(e.languages),
            max_open=e.max_open,
            active=e.active,
        )
        by_branch[e.branch_id].append(e.id)
    for s in await session.execute(
        text(
            "SELECT engineer_id, weekdays, starts, ends, time_zone, valid_from, valid_until "
            "FROM shift"
        )
    ):
        shifts[s.engineer_id].append(
            duty.WeeklyShift(
                frozenset(s.weekdays), s.starts, s.ends, s.time_zone, s.valid_from, s.valid_until
            )
        )
    for x in await session.execute(
        text(
            "SELECT kind, engineer_id, branch_id, starts_at, ends_at, reason "
            "FROM shift_exception WHERE ends_at > :since"
        ),
        {"since": since},
    ):
        exc = duty.DutyException(x.kind, x.starts_at, x.ends_at, x.reason)
        if x.engineer_id is not None:
            own[x.engineer_id].append(exc)
        else:
            closures[x.branch_id].append(exc)
    for o in await session.execute(
        text("SELECT engineer_id, starts_at, ends_at FROM oncall WHERE ends_at > :since"),
        {"since": since},
    ):
        slots[o.engineer_id].append(duty.OnCallSlot(o.starts_at, o.ends_at))

    for engineer_id, info in roster.engineers.items():
        roster.schedules[engineer_id] = duty.Schedule(
            shifts=tuple(shifts.get(engineer_id, ())),
            exceptions=(*own.get(engineer_id, ()), *closures.get(info.branch_id, ())),
            on_call=tuple(slots.get(engineer_id, ())),
        )
    roster.by_branch = dict(by_branch)
    return roster
