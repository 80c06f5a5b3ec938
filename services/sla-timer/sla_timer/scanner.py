"""The worker loops: the timer scanner and housekeeping (schedules, rebuilds, gauges).

The timer scanner is the hot path and talks to PostgreSQL through asyncpg directly (DESIGN
§3). One transaction locks a batch of due timers (``next_fire_at <= now()``, ordered, ``FOR
UPDATE SKIP LOCKED``, so any number of replicas share the work and none fires a point twice),
writes their events to the outbox and moves each timer's ``fire_plan`` on, all or nothing. A
point that came due while the service was down fires on return with its true time (the
breach event carries ``breached_at`` = the deadline, not the moment of firing). When a breach
fires in the same pass as warnings of the same timer, the warnings are recorded as skipped:
a "deadline near" after the deadline helps nobody.

Between scans it sleeps until the next due point, at least ``scan_min_sleep_seconds`` (so
points close together are fired in batches) and at most ``scan_max_sleep_seconds``; a handler
that creates a point due within a second wakes it with ``NOTIFY aftercare_sla_scan``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI
from sqlalchemy import delete, select, text

from shared import events, outbox
from sla_timer import metrics, schedules, timers
from sla_timer.models import RebuildRequest
from sla_timer.settings import Settings

log = logging.getLogger("aftercare.sla.scanner")

_SELECT_DUE = """
SELECT id, ticket_id, ticket_number, kind, ticket_kind, severity, organization_id, policy_key,
       target_seconds, started_at, fire_plan::text AS fire_plan, correlation_id
FROM {schema}.timer
WHERE next_fire_at <= now()
ORDER BY next_fire_at
LIMIT $1
FOR UPDATE SKIP LOCKED
"""

_UPDATE = """
UPDATE {schema}.timer AS t SET
    fire_plan = u.plan::jsonb,
    next_fire_at = u.next,
    fired = t.fired || u.fired::jsonb,
    breach_emitted_at = coalesce(t.breach_emitted_at, u.breach_emitted),
    breach_at = coalesce(t.breach_at, u.breach_at),
    outcome = coalesce(u.outcome, t.outcome),
    last_fired_at = clock_timestamp()
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[],
            $6::text[], $7::timestamptz[])
     AS u(id, plan, next, fired, breach_emitted, outcome, breach_at)
WHERE t.id = u.id
"""


@dataclass
class Fired:
    what: str
    kind: str
    severity: int
    lag_from: datetime


class TimerScanner:
    """Fires due points of timers. Run one per worker process; any number may run at once."""

    def __init__(
        self,
        *,
        dsn: str,
        schema: str = "sla",
        batch_size: int = 500,
        min_sleep: float = 0.02,
        max_sleep: float = 1.0,
        server_settings: dict[str, str] | None = None,
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.batch_size = batch_size
        self.min_sleep = min_sleep
        self.max_sleep = max_sleep
        self.server_settings = {
            "application_name": f"aftercare-scanner-{schema}",
            "timezone": "UTC",
            **(server_settings or {}),
        }
        self._wake = asyncio.Event()
        self.ready = asyncio.Event()  # set once connected and listening
        self._select = _SELECT_DUE.format(schema=schema)
        self._update = _UPDATE.format(schema=schema)
        self.fired_total = 0

    async def run(self) -> None:
        """Forever: scan while there is work, then sleep until the next due point."""
        backoff = 0.5
        while True:
            listen = work = None
            try:
                listen = await asyncpg.connect(self.dsn, server_settings=self.server_settings)
                work = await asyncpg.connect(self.dsn, server_settings=self.server_settings)
                await listen.add_listener(timers.SCAN_CHANNEL, self._on_notify)
                backoff = 0.5
                self.ready.set()
                while True:
                    self._wake.clear()
                    if await self.scan_once(work) >= self.batch_size:
                        continue
                    pause = await self._until_next(work)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), pause)
                    if listen.is_closed() or work.is_closed():
                        raise ConnectionError("database connection closed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("timer scanner paused: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.ready.clear()
                for conn in (listen, work):
                    if conn is not None and not conn.is_closed():
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(conn.close(), 2)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _until_next(self, conn: asyncpg.Connection) -> float:
        seconds = await conn.fetchval(
            f"SELECT extract(epoch FROM min(next_fire_at) - clock_timestamp()) "
            f"FROM {self.schema}.timer WHERE next_fire_at IS NOT NULL"
        )
        if seconds is None:
            return self.max_sleep
        return min(self.max_sleep, max(self.min_sleep, float(seconds)))

    async def scan_once(self, conn: asyncpg.Connection) -> int:
        """One batch in one transaction; returns the number of timers it locked."""
        started = time.perf_counter()
        fired: list[Fired] = []
        async with conn.transaction():
            rows = await conn.fetch(self._select, self.batch_size)
            if not rows:
                return 0
            now = await conn.fetchval("SELECT now()")
            outbox_events: list[events.Event] = []
            updates: list[list[Any]] = [[] for _ in range(7)]
            for row in rows:
                self._fire_row(row, now, outbox_events, updates, fired)
            leased = await outbox.add_many(conn, self.schema, outbox_events)
            await conn.execute(self._update, *updates)
        outbox.hand_over(leased)
        finished = datetime.now(UTC)
        metrics.SCAN_SECONDS.observe(time.perf_counter() - started)
        for item in fired:
            metrics.FIRED.labels(what=item.what).inc()
            if item.what == "skipped":
                continue
            metrics.FIRE_LAG.labels(what=item.what).observe(
                (finished - item.lag_from).total_seconds()
            )
            if item.what == "breach":
                metrics.BREACHES.labels(kind=item.kind, severity=str(item.severity)).inc()
        self.fired_total += sum(1 for f in fired if f.what != "skipped")
        return len(rows)

    def _fire_row(
        self,
        row: asyncpg.Record,
        now: datetime,
        outbox_events: list[events.Event],
        updates: list[list[Any]],
        fired: list[Fired],
    ) -> None:
        plan = orjson.loads(row["fire_plan"])
        due = [p for p in plan if datetime.fromisoformat(p["at"]) <= now]
        left = [p for p in plan if datetime.fromisoformat(p["at"]) > now]
        breach_now = any(p["what"] == "breach" for p in due)
        stamp = now.isoformat()
        records: list[dict[str, Any]] = []
        breach_emitted = breach_at = outcome = None
        for point in due:
            at = datetime.fromisoformat(point["at"])
            if point["what"] == "warning" and breach_now:
                records.append({**point, "fired_at": stamp, "skipped": True})
                fired.append(Fired("skipped", row["kind"], row["severity"], at))
                continue
            event = _event(row, point, at)
            outbox_events.append(event)
            records.append({**point, "fired_at": stamp, "event_id": str(event.id)})
            fired.append(Fired(point["what"], row["kind"], row["severity"], at))
            if point["what"] == "breach":
                breach_emitted, breach_at, outcome = now, at, "breached"
            elif point["what"] == "elapsed":
                outcome = "elapsed"
        updates[0].append(row["id"])
        updates[1].append(orjson.dumps(left).decode())
        updates[2].append(datetime.fromisoformat(left[0]["at"]) if left else None)
        updates[3].append(orjson.dumps(records).decode())
        updates[4].append(breach_emitted)
        updates[5].append(outcome)
        updates[6].append(breach_at)


def _event(row: asyncpg.Record, point: dict[str, Any], at: datetime) -> events.Event:
    ticket_id: uuid.UUID = row["ticket_id"]
    envelope = {"subject": ticket_id, "correlation_id": row["correlation_id"]}
    if point["what"] == "elapsed":
        return events.SlaObservationElapsed(
            **envelope,
            data=events.SlaObservationElapsedData(
                timer_id=row["id"],
                ticket_id=ticket_id,
                ticket_number=row["ticket_number"],
                started_at=row["started_at"],
                elapsed_at=at,
            ),
        )
    common = {
        "timer_id": row["id"],
        "timer_kind": row["kind"],
        "ticket_id": ticket_id,
        "ticket_number": row["ticket_number"],
        "due_at": datetime.fromisoformat(point.get("due_at") or point["at"]),
        "target_seconds": row["target_seconds"],
        "severity": row["severity"],
        "kind": row["ticket_kind"],
        "organization_id": row["organization_id"],
        "policy_key": row["policy_key"],
    }
    if point["what"] == "warning":
        return events.SlaWarning(
            **envelope, data=events.SlaWarningData(**common, threshold=point["threshold"])
        )
    return events.SlaBreached(**envelope, data=events.SlaBreachedData(**common, breached_at=at))


# ---- the loops create_service_app runs (AFTERCARE_ROLE worker or all) -------------------------


async def scan_timers(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    scanner = TimerScanner(
        dsn=settings.libpq_database_url(),
        schema=settings.db_schema,
        batch_size=settings.scan_batch_size,
        min_sleep=settings.scan_min_sleep_seconds,
        max_sleep=settings.scan_max_sleep_seconds,
    )
    app.state.timer_scanner = scanner
    await scanner.run()


async def housekeeping(app: FastAPI) -> None:
    """Fires schedules, drains rebuild requests, refreshes the active-timer gauge."""
    settings: Settings = app.state.settings
    last_gauge = 0.0
    while True:
        try:
            async with app.state.sessionmaker() as session:
                await schedules.fire_due(session)
                await session.commit()
            while await drain_rebuilds(app, settings):
                pass
            if time.monotonic() - last_gauge >= settings.gauge_seconds:
                await refresh_gauge(app)
                last_gauge = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("sla housekeeping failed, retrying: %s: %s", type(exc).__name__, exc)
        await asyncio.sleep(settings.housekeeping_seconds)


async def drain_rebuilds(app: FastAPI, settings: Settings, limit: int = 50) -> int:
    """Derives again the clocks of up to ``limit`` queued tickets; returns how many."""
    async with app.state.sessionmaker() as session:
        ids = list(
            (
                await session.execute(
                    select(RebuildRequest.ticket_id)
                    .order_by(RebuildRequest.requested_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
        )
        for ticket_id in ids:
            await timers.lock_ticket(session, ticket_id)
            await timers.rebuild(session, ticket_id, settings)
        if ids:
            await session.execute(delete(RebuildRequest).where(RebuildRequest.ticket_id.in_(ids)))
        await session.commit()
    return len(ids)


async def refresh_gauge(app: FastAPI) -> None:
    async with app.state.sessionmaker() as session:
        counts = dict(
            (
                await session.execute(
                    text(
                        "SELECT kind, count(*) FROM timer "
                        "WHERE state IN ('running', 'paused') GROUP BY kind"
                    )
                )
            ).all()
        )
    for kind in ("response", "on_site", "resolution", "progress", "observation"):
        metrics.ACTIVE_TIMERS.labels(kind=kind).set(counts.get(kind, 0))
