"""Transactional outbox (DESIGN §4).

``add(session, event)`` writes the event in the caller's transaction, next to the state change
it describes; nothing talks to RabbitMQ there. The :class:`Relay` publishes committed rows with
publisher confirms and marks only the confirmed ones sent. It wakes on LISTEN/NOTIFY (a row
trigger on the outbox) and polls as a fallback; replicas share rows with
``FOR UPDATE SKIP LOCKED``. A broker outage delays events, never loses them; a crash between
publish and mark publishes again, which consumers' inboxes absorb.

**Hand-over.** In a process that runs a relay for the outbox being written (``AFTERCARE_ROLE``
``worker`` or ``all``), a row is written with a lease (``relay_after``, ``HANDOFF_LEASE_SECONDS``
ahead) and no NOTIFY; once the transaction commits, its rows' positions go straight to that
relay, which reads them by position, publishes them and marks them sent, with no transaction
and no wake-up of the other replicas. The lease keeps every other relay's batches off those
rows; if the hand-over never happens (the process died after its commit) or fails (the broker
went away), the lease runs out and any relay's poll publishes them as before. Rows written
elsewhere (an API-only process, a shell) have no lease and NOTIFY as they always did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from shared import metrics
from shared.db import Connected, driver, dumps, loads, on_commit
from shared.events import Event
from shared.logging import current_traceparent

log = logging.getLogger("aftercare.outbox")


def outbox_tables(metadata: MetaData, schema: str) -> tuple[Table, Table]:
    """The outbox and its per-subject sequence counter, for a service's migration and metadata."""
    outbox = Table(
        "outbox",
        metadata,
        Column("position", BigInteger, Identity(always=True), primary_key=True),
        Column("id", Uuid, nullable=False, unique=True),
        Column("type", Text, nullable=False),
        Column("subject", Uuid, nullable=False),
        Column("seq", BigInteger, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("last_error", Text),
        # Until then only the relay of the process that wrote the row publishes it (hand-over).
        Column("relay_after", DateTime(timezone=True)),
        Index(
            "ix_outbox_unpublished",
            "position",
            postgresql_where=text("published_at IS NULL"),
        ),
        Index("ix_outbox_published_at", "published_at"),
        schema=schema,
    )
    seq = Table(
        "outbox_seq",
        metadata,
        Column("subject", Uuid, primary_key=True),
        Column("seq", BigInteger, nullable=False),
        schema=schema,
    )
    return outbox, seq


def notify_channel(schema: str) -> str:
    return f"aftercare_outbox_{schema}"


def create_trigger_sql(schema: str) -> list[str]:
    """DDL for the statement trigger that wakes relays; a migration runs it with ``op.execute``."""
    return [
        f"""
        CREATE OR REPLACE FUNCTION {schema}.outbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{notify_channel(schema)}', '');
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE TRIGGER outbox_notify AFTER INSERT ON {schema}.outbox
        FOR EACH STATEMENT EXECUTE FUNCTION {schema}.outbox_notify()
        """,
    ]


def drop_trigger_sql(schema: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS outbox_notify ON {schema}.outbox",
        f"DROP FUNCTION IF EXISTS {schema}.outbox_notify()",
    ]


def add_handoff_sql(schema: str) -> list[str]:
    """DDL of the hand-over: the lease column, and a NOTIFY only for rows written without one
    (NOTIFY folds repeats within a transaction, so a row trigger still sends one)."""
    return [
        f"ALTER TABLE {schema}.outbox ADD COLUMN relay_after timestamp with time zone",
        f"DROP TRIGGER IF EXISTS outbox_notify ON {schema}.outbox",
        f"""
        CREATE TRIGGER outbox_notify AFTER INSERT ON {schema}.outbox
        FOR EACH ROW WHEN (NEW.relay_after IS NULL) EXECUTE FUNCTION {schema}.outbox_notify()
        """,
    ]


def drop_handoff_sql(schema: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS outbox_notify ON {schema}.outbox",
        f"""
        CREATE TRIGGER outbox_notify AFTER INSERT ON {schema}.outbox
        FOR EACH STATEMENT EXECUTE FUNCTION {schema}.outbox_notify()
        """,
        f"ALTER TABLE {schema}.outbox DROP COLUMN relay_after",
    ]


# How long a handed-over row is left to its process's relay before any relay may take it.
HANDOFF_LEASE_SECONDS = 30.0

# This process's running relays, by "<database>.<schema>" of the outbox each publishes.
_local: dict[str, Relay] = {}

# The lease, for a row written where this process runs the relay of that outbox: the key the
# statement computes for the outbox it writes is compared with the running relays' keys.
_LEASE = """CASE WHEN current_database() || '.' || {schema} = ANY(${keys}::text[])
                 THEN clock_timestamp() + make_interval(secs => ${secs}) END"""
_LEASED_TO = """CASE WHEN relay_after IS NOT NULL
                      THEN current_database() || '.' || {schema} END AS relay"""


_ADD = f"""
WITH s AS (
    INSERT INTO outbox_seq AS q (subject, seq) VALUES ($3, 1)
    ON CONFLICT (subject) DO UPDATE SET seq = q.seq + 1
    RETURNING q.seq
)
INSERT INTO outbox (id, type, subject, seq, payload, headers, relay_after)
SELECT $1, $2, $3, s.seq,
       jsonb_set(CAST($4::text AS jsonb), '{{seq}}', to_jsonb(s.seq)),
       CAST($5::text AS jsonb),
       {_LEASE.format(schema="current_schema()", keys=6, secs=7)}
FROM s
RETURNING seq, position, {_LEASED_TO.format(schema="current_schema()")}
"""


async def add(session: AsyncSession | Connected, event: Event) -> Event:
    """Writes ``event`` to the outbox in the session's transaction and returns it with its ``seq``;
    the row goes to this process's relay when the transaction commits (hand-over).

    The session's search_path is the service's schema (``shared.db.make_engine``).
    """
    headers: dict[str, Any] = {}
    if traceparent := current_traceparent():
        headers["traceparent"] = traceparent
    conn = await driver(session)
    row = await conn.fetchrow(
        _ADD,
        event.id,
        event.type,
        event.subject,
        event.model_dump_json(),
        dumps(headers),
        list(_local),
        HANDOFF_LEASE_SECONDS,
    )
    if row["relay"] is not None:
        hand_over_on_commit(session, Leased(row["relay"], [row["position"]]))
    return event.model_copy(update={"seq": row["seq"]})


@dataclass
class Leased:
    """Outbox rows written with a lease for this process's relay of that outbox (``relay``,
    "<database>.<schema>"): to be handed to it once their transaction has committed."""

    relay: str
    positions: list[int]


def hand_over(leased: Leased | None) -> None:
    """Gives committed leased rows to this process's relay of their outbox. Without one (it
    stopped meanwhile) they wait for their lease to run out, then any relay publishes them."""
    if leased is not None and (relay := _local.get(leased.relay)) is not None:
        relay.hand_over(leased.positions)


def hand_over_on_commit(session: AsyncSession | Connected, leased: Leased | None) -> None:
    """:func:`hand_over` once the session's transaction commits (nothing if it rolls back)."""
    if leased is not None:
        on_commit(session, _Handover(), key=_HANDOVER).add(leased)


_HANDOVER = "shared.outbox.hand_over"


class _Handover:
    """A transaction's leased rows, handed over together at its commit."""

    def __init__(self) -> None:
        self.rows: dict[str, list[int]] = {}

    def add(self, leased: Leased) -> None:
        self.rows.setdefault(leased.relay, []).extend(leased.positions)

    def __call__(self) -> None:
        for relay, positions in self.rows.items():
            hand_over(Leased(relay, positions))


_ADD_MANY = """
WITH ev AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[])
        WITH ORDINALITY AS e(id, type, subject, payload, ord)
),
counts AS (SELECT subject, count(*) AS n FROM ev GROUP BY subject),
s AS (
    INSERT INTO {schema}.outbox_seq AS q (subject, seq)
    SELECT subject, n FROM counts
    ON CONFLICT (subject) DO UPDATE SET seq = q.seq + EXCLUDED.seq
    RETURNING q.subject, q.seq
),
numbered AS (
    SELECT ev.id, ev.type, ev.subject, ev.payload, ev.ord,
           s.seq - counts.n + row_number() OVER (PARTITION BY ev.subject ORDER BY ev.ord) AS seq
    FROM ev JOIN counts USING (subject) JOIN s USING (subject)
)
INSERT INTO {schema}.outbox (id, type, subject, seq, payload, headers, relay_after)
SELECT id, type, subject, seq, jsonb_set(payload::jsonb, '{{seq}}', to_jsonb(seq)), '{{}}'::jsonb,
       {lease}
FROM numbered ORDER BY ord
RETURNING position, {leased_to}
"""


async def add_many(conn: asyncpg.Connection, schema: str, batch: list[Event]) -> Leased | None:
    """Writes many events in one statement on an asyncpg connection, in its transaction, and
    returns the rows to hand over (:func:`hand_over`, or :func:`hand_over_on_commit`) once
    that transaction has committed.

    For batch jobs (the SLA scanner) that work on asyncpg directly. Each subject's counter moves
    by the number of events it gets, and its events are numbered gap-free within that range in
    list order, continuing the counter as ``add`` does.
    """
    if not batch:
        return None
    literal = f"'{schema}'"
    rows = await conn.fetch(
        _ADD_MANY.format(
            schema=schema,
            lease=_LEASE.format(schema=literal, keys=5, secs=6),
            leased_to=_LEASED_TO.format(schema=literal),
        ),
        [e.id for e in batch],
        [e.type for e in batch],
        [e.subject for e in batch],
        [e.model_dump_json() for e in batch],
        list(_local),
        HANDOFF_LEASE_SECONDS,
    )
    relay = rows[0]["relay"]
    return Leased(relay, [r["position"] for r in rows]) if relay is not None else None


class Relay:
    """Publishes committed outbox rows. Run one per worker process; any number may run at once."""

    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        broker: Any,
        batch_size: int = 200,
        poll_seconds: float = 1.0,
        linger_seconds: float = 0.0,
        retention_hours: float = 72.0,
        server_settings: dict[str, str] | None = None,
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.broker = broker
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.linger_seconds = linger_seconds
        self.retention_hours = retention_hours
        self.server_settings = {
            "application_name": f"aftercare-relay-{schema}",
            # The relay's commits (rows marked sent, old rows deleted) need not wait for the
            # WAL flush: if a crash loses a mark, those rows are published again and the
            # consumers' inboxes absorb the repeat.
            "synchronous_commit": "off",
            # Every statement of the relay finds its rows by an index (position, the partial
            # index of unpublished rows, published_at). The outbox swings from empty to
            # millions of rows faster than its statistics follow, and a plan made while it
            # was small, a sequential scan, stays cached on this long-lived connection until
            # the next ANALYZE: measured 2.6 to 3 ms a statement at 20,000 rows, against
            # 0.1 ms by index, half of PostgreSQL's time under bench/ticket_flow.
            "enable_seqscan": "off",
            **(server_settings or {}),
        }
        self.statements = _statements(schema)
        self._wake = asyncio.Event()
        self._drain_due = True  # a NOTIFY came, or the poll interval passed
        self._handed: list[int] = []  # positions handed over, not yet published
        self.key: str | None = None  # "<database>.<schema>" while running
        self._last_cleanup = 0.0
        self._last_observed = 0.0

    # Handed-over positions kept while the broker is away; beyond this their leases cover them.
    MAX_HANDED = 100_000

    def hand_over(self, positions: list[int]) -> None:
        """Committed rows of this process's transactions, leased to this relay: published on
        its next wake-up, without waiting for a NOTIFY or locking a batch."""
        if len(self._handed) < self.MAX_HANDED:
            self._handed.extend(positions)
        self._wake.set()

    async def run(self) -> None:
        """Forever: wait for a NOTIFY or the poll interval, then drain. Survives outages."""
        backoff = 0.5
        while True:
            listen = work = None
            try:
                listen = await asyncpg.connect(self.dsn, server_settings=self.server_settings)
                work = await asyncpg.connect(self.dsn, server_settings=self.server_settings)
                await listen.add_listener(notify_channel(self.schema), self._on_notify)
                self.key = f"{await work.fetchval('SELECT current_database()')}.{self.schema}"
                _local[self.key] = self
                backoff = 0.5
                self._drain_due = True
                self._wake.set()
                while True:
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                    except TimeoutError:
                        self._drain_due = True
                    if self.linger_seconds:
                        # Under load a commit comes every few milliseconds: gathering a few
                        # more rows makes one batch of what would be several.
                        await asyncio.sleep(self.linger_seconds)
                    self._wake.clear()
                    if listen.is_closed() or work.is_closed():
                        raise ConnectionError("database connection closed")
                    await self._observe(work)
                    if not self.broker.is_connected:
                        continue  # the outbox keeps the events until the broker is back
                    try:
                        if self._handed:
                            handed, self._handed = self._handed, []
                            await self.publish_handed(work, handed)
                        if self._drain_due:
                            self._drain_due = False
                            await self.drain(work)
                    except PublishFailed as exc:
                        log.warning("outbox relay: %s", exc)
                        await asyncio.sleep(1.0)
                        self._drain_due = True
                        self._wake.set()
                        continue
                    await self._cleanup(work)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay paused: %s", _describe(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                if self.key is not None and _local.get(self.key) is self:
                    del _local[self.key]
                for conn in (listen, work):
                    if conn is not None and not conn.is_closed():
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(conn.close(), 2)

    def _on_notify(self, *_: Any) -> None:
        self._drain_due = True
        self._wake.set()

    async def drain(self, conn: asyncpg.Connection) -> int:
        """Publishes batches until the outbox has nothing left that this relay can lock."""
        total = 0
        while True:
            published, locked = await self.publish_batch(conn)
            total += published
            if locked < self.batch_size or published < locked:
                return total

    async def publish_batch(self, conn: asyncpg.Connection) -> tuple[int, int]:
        """One batch in one transaction; returns (published, locked). Rows another relay holds
        (locked, or leased to it by hand-over) are left to it."""
        async with conn.transaction():
            rows = await conn.fetch(self.statements["batch"], self.batch_size)
            if not rows:
                return 0, 0
            return await self._publish(conn, rows), len(rows)

    async def publish_handed(self, conn: asyncpg.Connection, positions: list[int]) -> int:
        """Publishes rows handed over by this process's transactions, by position, each read
        and each mark a statement of its own (no transaction: their leases keep other relays
        off them). A position not found was rolled back (a savepoint's); a row published
        already is read and skipped."""
        published = 0
        for start in range(0, len(positions), self.batch_size):
            found = await conn.fetch(
                self.statements["handed"], positions[start : start + self.batch_size]
            )
            rows = [row for row in found if row["pending"]]
            if rows:
                published += await self._publish(conn, rows)
        return published

    async def _publish(self, conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> int:
        """Publishes rows and marks the confirmed ones sent; a failed one gets its attempt and
        error recorded and its lease lifted, so the next batch retries it."""
        results = await asyncio.gather(
            *(
                self.broker.publish(
                    row["type"],
                    row["payload"].encode(),
                    message_id=str(row["id"]),
                    headers=loads(row["headers"]),
                )
                for row in rows
            ),
            return_exceptions=True,
        )
        sent = [row["position"] for row, res in zip(rows, results, strict=True) if res is None]
        failed = [
            (row["position"], _describe(res))
            for row, res in zip(rows, results, strict=True)
            if isinstance(res, BaseException)
        ]
        if sent:
            await conn.execute(self.statements["mark"], sent)
        if failed:
            await conn.executemany(self.statements["failed"], failed)
        for row, res in zip(rows, results, strict=True):
            if res is None:
                metrics.EVENTS_PUBLISHED.labels(type=row["type"]).inc()
            else:
                metrics.PUBLISH_FAILURES.labels(type=row["type"]).inc()
        if failed:
            raise PublishFailed(
                f"{len(failed)} of {len(rows)} events not confirmed: {failed[0][1]}"
            )
        return len(sent)

    async def _observe(self, conn: asyncpg.Connection) -> None:
        # The gauges are scraped every few seconds: refreshing them once per poll interval,
        # not on every wake-up (one per committed transaction under load), is enough.
        now = time.monotonic()
        if now - self._last_observed < self.poll_seconds:
            return
        self._last_observed = now
        row = await conn.fetchrow(self.statements["observe"])
        metrics.OUTBOX_BACKLOG.set(row["backlog"])
        metrics.OUTBOX_OLDEST_AGE.set(float(row["age"]))

    async def _cleanup(self, conn: asyncpg.Connection) -> None:
        now = time.monotonic()
        if now - self._last_cleanup < 600:
            return
        self._last_cleanup = now
        await conn.execute(self.statements["cleanup"], self.retention_hours * 3600)


def _statements(schema: str) -> dict[str, str]:
    """The relay's statements on ``schema``'s outbox, by name."""
    # What _publish reads of a row, for a batch or for rows handed over.
    columns = "position, id, type, payload::text AS payload, headers::text AS headers"
    return {
        "batch": f"""
            SELECT {columns} FROM {schema}.outbox
            WHERE published_at IS NULL AND (relay_after IS NULL OR relay_after < now())
            ORDER BY position
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        """,
        # By position alone, so the rows are found by probing the primary key. With
        # "AND published_at IS NULL" the planner, trusting statistics that say few rows are
        # unpublished, took the published_at index for it, whose NULL entries still include
        # every row published since the last vacuum: 2 ms a read under load.
        "handed": f"""
            SELECT {columns}, published_at IS NULL AS pending FROM {schema}.outbox
            WHERE position = ANY($1::bigint[])
            ORDER BY position
        """,
        "mark": (
            f"UPDATE {schema}.outbox SET published_at = now() WHERE position = ANY($1::bigint[])"
        ),
        "failed": (
            f"UPDATE {schema}.outbox SET attempts = attempts + 1, last_error = $2, "
            "relay_after = NULL WHERE position = $1"
        ),
        "observe": f"""
            SELECT count(*) AS backlog,
                   coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age
            FROM {schema}.outbox WHERE published_at IS NULL
        """,
        "cleanup": (
            f"DELETE FROM {schema}.outbox WHERE published_at < now() - make_interval(secs => $1)"
        ),
    }


class PublishFailed(RuntimeError):
    """Some rows of a batch were not confirmed by the broker; they stay unpublished."""


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


async def run_until_empty(relay: Relay, *, idle_seconds: float = 1.0) -> int:
    """Runs one relay until the outbox has stayed empty for ``idle_seconds``; returns the count
    it published. Used by ``python -m shared.outbox`` to drain an outbox from a shell."""
    await relay.broker.wait_ready()
    conn = await asyncpg.connect(relay.dsn, server_settings=relay.server_settings)
    published, idle_since = 0, time.monotonic()
    try:
        while time.monotonic() - idle_since < idle_seconds:
            n = await relay.drain(conn)
            published += n
            if n:
                idle_since = time.monotonic()
            else:
                await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return published


def main() -> None:
    import argparse
    import importlib

    from shared.bus import Broker
    from shared.services import lookup

    parser = argparse.ArgumentParser(prog="python -m shared.outbox")
    parser.add_argument("--service", required=True)
    parser.add_argument("--until-empty", action="store_true", help="exit once the outbox is empty")
    args = parser.parse_args()
    info = lookup(args.service)
    settings = importlib.import_module(f"{info.package}.settings").Settings()

    async def go() -> None:
        broker = Broker(settings)
        await broker.connect()
        relay = Relay(
            dsn=settings.libpq_database_url(),
            schema=settings.db_schema,
            broker=broker,
            batch_size=settings.relay_batch_size,
        )
        try:
            if args.until_empty:
                print(f"published {await run_until_empty(relay)}", flush=True)
            else:
                await relay.run()
        finally:
            await broker.close()

    asyncio.run(go())


if __name__ == "__main__":
    main()
