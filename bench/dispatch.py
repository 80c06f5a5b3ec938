"""dispatch: how fast dispatch routes new tickets, and how long a decision takes.

A database of its own (``shared.testing.TestRun``: database, exchange and queue prefix of the
run) is bulk-loaded with COPY: ``--branches`` (50) branches of ``--engineers`` (2,000)
engineers with skills, weekly shifts (three 8-hour shifts, so about a third are on shift at
any moment), a few on leave, one on-call slot per branch, and ``--open`` (100,000) open
assignments spread over them (the load routing has to read and balance), each with the
routing decision that made it (a reason of the stored form and size, so the decisions table and
its index are the size an assignment's decision is checked against), then vacuumed, analysed
and checkpointed, as a database grown by use would be. ``--workers`` (2, one
per core) dispatch worker processes (``python -m dispatch.worker``: consumer, outbox relay, queue
re-evaluation; no HTTP) compete on the run's queue. Then:

* **burst**: ``--tickets`` (10,000) ``ticket.created`` are published as fast as the publisher
  goes; ``decisions_per_s`` = tickets / (last decision committed - first published).
  ``latency_ms`` (published → committed) includes the time a ticket waited in the queue behind
  the others, so in a burst it grows with the burst's size; ``service_ms`` is the decision
  itself (the handler's transaction: inbox claim to the assignment's insert).
* **paced**: ``--paced`` (5,000) tickets published open-loop at ``--rate`` (500) per second
  (ticket *i* is due at t0 + i/rate whatever happened before; latency runs from the due
  time): the decision latency a ticket sees at that rate, ``latency_ms`` p50/p99.

Timestamps: "published" is this process's clock just before the publish; "committed" is the
commit of the transaction that wrote the ticket's first routing decision
(``pg_xact_commit_timestamp`` of the row, which needs the server's ``track_commit_timestamp =
on``; without it the JSON's ``latency_to`` says the latency runs only to ``decided_at``, the
``clock_timestamp()`` of the decision's insert, and undercounts what is left of the batch's
transaction); ``decided_ms`` is always to ``decided_at``. The same machine clock throughout. A
decision that queues the ticket (no engineer with the skill on shift) counts as a decision
too; ``assigned`` / ``queued`` say how they went. Targets: ``decisions_per_s`` ≥ 500 in the
burst and ``latency_ms.p99`` < 50 ms in the paced phase.
``cpu_ms_per_decision`` says where the time goes (two cores give 4 ms per decision at 500/s).

    .venv/bin/python bench/run.py --only dispatch [--quick] [flags]   (saved in bench/results/)
    .venv/bin/python bench/dispatch.py [--quick] [flags]               (this benchmark alone)

This module is named like the service package, so it never imports ``dispatch``: the workers
run in subprocesses and the data is loaded with plain SQL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import orjson

REPO = Path(__file__).resolve().parents[1]
NAME = "dispatch"
PRODUCTS = ("core-network", "server", "storage", "security", "building", "software", "ups", "wifi")
SHIFTS = ((dtime(0), dtime(8)), (dtime(8), dtime(16)), (dtime(16), dtime(0)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{NAME} {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="dispatch", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run with small numbers")
    p.add_argument("--branches", type=int, default=50)
    p.add_argument("--engineers", type=int, default=2000)
    p.add_argument("--open", type=int, default=100_000, help="open assignments loaded")
    p.add_argument("--capacity", type=int, default=120, help="max_open of every engineer")
    p.add_argument("--tickets", type=int, default=10_000, help="tickets in the burst")
    p.add_argument("--paced", type=int, default=5000, help="tickets in the paced phase")
    p.add_argument("--rate", type=float, default=500.0, help="paced tickets per second")
    p.add_argument("--workers", type=int, default=2, help="dispatch worker processes")
    p.add_argument("--prefetch", type=int, default=16, help="AFTERCARE_CONSUMER_PREFETCH")
    p.add_argument("--drain-timeout", type=float, default=300.0)
    p.add_argument(
        "--log-level", default="WARNING", help="the workers' AFTERCARE_LOG_LEVEL (logs beside)"
    )
    p.add_argument("--keep", action="store_true", help="leave the database in place")
    p.add_argument(
        "--profile",
        action="store_true",
        help="run the workers under cProfile (.prof files "
        "beside their logs; slower, for finding where the time goes)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.branches, args.engineers, args.open = 20, 800, 20_000
        args.tickets, args.paced, args.rate = 1000, 500, 100.0
    return args


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50, p99 and max (nearest rank), in ms."""
    if not values:
        return {"p50": None, "p99": None, "max": None}
    s = sorted(values)

    def rank(q: float) -> float:
        return round(s[max(0, math.ceil(q * len(s)) - 1)] * 1000, 1)

    return {"p50": rank(0.5), "p99": rank(0.99), "max": round(s[-1] * 1000, 1)}


# ---- loading ---------------------------------------------------------------------------------


async def load(conn: asyncpg.Connection, args: argparse.Namespace) -> dict[str, Any]:
    """Branches, engineers, shifts, leave, on-call, and the open assignments with the routing
    decisions that made them, with COPY."""
    rnd = random.Random(42)
    now = datetime.now(UTC)
    started = time.perf_counter()
    branches = [(uuid.uuid4(), f"R{b:03d}") for b in range(args.branches)]
    await conn.copy_records_to_table(
        "branch",
        schema_name="dispatch",
        columns=("id", "code", "name", "tier", "regions", "time_zone", "active"),
        records=[
            (bid, f"B{b:03d}", f"Bench branch {b}", 1, [region], "Asia/Shanghai", True)
            for b, (bid, region) in enumerate(branches)
        ],
    )
    engineers, shifts, leave, oncall = [], [], [], []
    for e in range(args.engineers):
        bid = branches[e % args.branches][0]
        eid = uuid.uuid4()
        skills = rnd.sample(PRODUCTS, 3)
        languages = ["zh-CN", "en"] if e % 10 == 0 else ["zh-CN"]
        engineers.append(
            (eid, f"bench-{e}", f"Engineer {e}", bid, 1, skills, languages, args.capacity, True)
        )
        starts, ends = SHIFTS[(e // args.branches) % 3]
        shifts.append((uuid.uuid4(), eid, [1, 2, 3, 4, 5, 6, 7], starts, ends, "Asia/Shanghai"))
        if e % 20 == 7:
            leave.append(
                (
                    uuid.uuid4(),
                    "leave",
                    eid,
                    now - timedelta(days=1),
                    now + timedelta(days=1),
                    "annual leave",
                )
            )
        if e < args.branches:
            oncall.append(
                (uuid.uuid4(), bid, eid, now - timedelta(hours=12), now + timedelta(hours=12))
            )
    await conn.copy_records_to_table(
        "engineer",
        schema_name="dispatch",
        columns=("id", "user_id", "name", "branch_id", "tier", "skills", "languages",
                 "max_open", "active"),
        records=engineers,
    )  # fmt: skip
    await conn.copy_records_to_table(
        "shift",
        schema_name="dispatch",
        columns=("id", "engineer_id", "weekdays", "starts", "ends", "time_zone"),
        records=shifts,
    )
    await conn.copy_records_to_table(
        "shift_exception",
        schema_name="dispatch",
        columns=("id", "kind", "engineer_id", "starts_at", "ends_at", "reason"),
        records=leave,
    )
    await conn.copy_records_to_table(
        "oncall",
        schema_name="dispatch",
        columns=("id", "branch_id", "engineer_id", "starts_at", "ends_at"),
        records=oncall,
    )

    region_of = dict(branches)
    reasons = decision_reasons(engineers, dict((b, i) for i, (b, _) in enumerate(branches)))
    open_count: Counter[uuid.UUID] = Counter()
    last: dict[uuid.UUID, datetime] = {}
    tickets, assignments, decisions = [], [], []
    org = uuid.uuid4()
    for i in range(args.open):
        engineer = engineers[rnd.randrange(len(engineers))]
        eid, bid = engineer[0], engineer[3]
        tid = uuid.uuid4()
        at = now - timedelta(seconds=rnd.randrange(1, 30 * 86400))
        product = engineer[5][0]
        tickets.append(
            (tid, 1 + i, org, "fault", 1 + i % 4, region_of[bid], product, "24x7", False, 1,
             "in_progress", 2, 1)
        )  # fmt: skip
        decision_id = uuid.uuid4()
        decisions.append((decision_id, tid, "created", "assigned", 1, eid, reasons[eid], at))
        assignments.append(
            (uuid.uuid4(), tid, eid, 1, "primary", "accepted", "rule", "on_shift", at,
             at + timedelta(minutes=5), decision_id)
        )  # fmt: skip
        open_count[eid] += 1
        last[eid] = max(last.get(eid, at), at)
    await conn.copy_records_to_table(
        "ticket",
        schema_name="dispatch",
        columns=("id", "number", "organization_id", "kind", "severity", "region", "product",
                 "coverage", "on_site_required", "details_seq", "status", "status_seq", "tier"),
        records=tickets,
    )  # fmt: skip
    await conn.copy_records_to_table(
        "routing_decision",
        schema_name="dispatch",
        columns=("id", "ticket_id", "trigger", "outcome", "tier", "engineer_id", "reason",
                 "decided_at"),
        records=decisions,
    )  # fmt: skip
    await conn.copy_records_to_table(
        "assignment",
        schema_name="dispatch",
        columns=("id", "ticket_id", "engineer_id", "tier", "role", "status", "by", "rule",
                 "assigned_at", "accepted_at", "decision_id"),
        records=assignments,
    )  # fmt: skip
    await conn.copy_records_to_table(
        "engineer_load",
        schema_name="dispatch",
        columns=("engineer_id", "open_count", "last_assigned_at"),
        records=[(e[0], open_count[e[0]], last.get(e[0])) for e in engineers],
    )
    # A database that grew to this size by use has been vacuumed along the way: its rows'
    # commit hints set and its visibility map current. Freshly COPYed rows have neither, so
    # without this the burst's first reads would set hints and write the pages back, and
    # autovacuum would start on the loaded tables halfway through the burst.
    await conn.execute("VACUUM (ANALYZE)")
    # Loading writes about half a GB of WAL, which would start a checkpoint (max_wal_size)
    # at some point of the measured phases, and every page first written after it goes to
    # the WAL whole: a wave of 100-200 ms latencies in the paced phase of two runs in five.
    # A database in steady use checkpoints on its schedule, not on a loader's debt.
    from shared.provision import admin_url

    admin = await asyncpg.connect(admin_url())
    try:
        await admin.execute("CHECKPOINT")
    finally:
        await admin.close()
    return {
        "branches": args.branches,
        "engineers": args.engineers,
        "open_assignments": args.open,
        "capacity_per_engineer": args.capacity,
        "on_leave": len(leave),
        "on_call_slots": len(oncall),
        "load_seconds": round(time.perf_counter() - started, 1),
        "regions": [region for _, region in branches],
    }


def decision_reasons(
    engineers: list[tuple], branch_index: dict[uuid.UUID, int]
) -> dict[uuid.UUID, str]:
    """For each engineer, the stored reason (dispatch's compact form, ``"v": 2``) of a
    decision that chose them among every engineer of their branch: what the routing decision
    behind each loaded open assignment holds, in size and shape."""
    by_branch: dict[uuid.UUID, list[tuple]] = {}
    for e in engineers:
        by_branch.setdefault(e[3], []).append(e)
    reasons = {}
    for e in engineers:
        eid, bid = e[0], e[3]
        others = [o for o in by_branch[bid] if o[0] != eid]
        rows = [[str(eid), e[2], 0, "on_shift", 40, e[7], None, 1, None]]
        rows += [
            [str(o[0]), o[2], 0, "off", 50, o[7], "skills", 0]
            if n % 3
            else [str(o[0]), o[2], 0, "on_shift", 50, o[7], None, 2 + n // 3, None]
            for n, o in enumerate(others)
        ]
        reasons[eid] = orjson.dumps(
            {
                "summary": f"{e[2]} (on shift): least loaded then longest idle",
                "outcome": "assigned",
                "tier": 1,
                "rule": "on_shift",
                "winner": str(eid),
                "branches": [{"id": str(bid), "name": f"Bench branch {branch_index[bid]}"}],
                "queue_branch_id": str(bid),
                "required_skills": [e[5][0]],
                "waived_skills": [],
                "notes": [],
                "v": 2,
                "details": ["lacks storage"],
                "c": rows,
            }
        ).decode()
    return reasons


# ---- workers ---------------------------------------------------------------------------------


def open_logs(logs: Path, n: int) -> list[Any]:
    logs.mkdir(parents=True, exist_ok=True)
    return [open(logs / f"worker-{i}.log", "wb") for i in range(n)]


async def start_workers(
    n: int, env: dict[str, str], logs: Path, *, profile: bool = False
) -> list[asyncio.subprocess.Process]:
    """Starts the workers, their stderr to ``logs``/worker-<i>.log (a pipe nobody reads
    would stall a worker that logs a lot), and waits until each consumes."""
    files = open_logs(logs, n)
    procs = []
    try:
        for i, err in enumerate(files):
            prof = ["-m", "cProfile", "-o", str(logs / f"worker-{i}.prof")] if profile else []
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    *prof,
                    "-m",
                    "dispatch.worker",
                    cwd=REPO,
                    env=env,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=err,
                    start_new_session=True,
                )
            )
    finally:
        for err in files:
            err.close()
    for i, proc in enumerate(procs):
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if b"ready" not in line:
            tail = (logs / f"worker-{i}.log").read_bytes()[-2000:].decode(errors="replace")
            raise RuntimeError(f"worker did not start: {line!r} {tail}")
    return procs


async def stop_workers(procs: list[asyncio.subprocess.Process]) -> list[int | None]:
    for proc in procs:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    codes = []
    for proc in procs:
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        codes.append(proc.returncode)
    return codes


class CpuMeter:
    """CPU time between two samples: the worker processes, PostgreSQL, RabbitMQ, the rest."""

    def __init__(self, worker_pids: list[int]) -> None:
        self.workers = set(worker_pids)

    def sample(self) -> tuple[float, Counter[str], int]:
        ticks: Counter[str] = Counter()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                raw = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            comm = raw[raw.find("(") + 1 : raw.rfind(")")]
            fields = raw[raw.rfind(")") + 2 :].split()
            pid = int(entry.name)
            used = sum(int(f) for f in fields[11:15])
            if pid in self.workers:
                ticks["workers"] += used
            elif pid == os.getpid():
                ticks["bench"] += used
            elif comm == "postgres":
                ticks["postgres"] += used
            elif comm.startswith("beam"):
                ticks["rabbitmq"] += used
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = sum(values[:8]) - values[3] - values[4]
        return time.monotonic(), ticks, busy

    @staticmethod
    def percent(a: tuple, b: tuple) -> dict[str, float]:
        wall = max(b[0] - a[0], 1e-6)
        out = {k: round(100 * (b[1][k] - a[1][k]) / CLK_TCK / wall, 1) for k in sorted(b[1])}
        out["machine_busy"] = round(100 * (b[2] - a[2]) / CLK_TCK / wall, 1)
        return out


# ---- publishing and measuring ---------------------------------------------------------------


def ticket_bodies(n: int, regions: list[str], first_number: int) -> list[tuple[uuid.UUID, bytes]]:
    from shared import events

    rnd = random.Random(first_number)
    now = datetime.now(UTC)
    org = uuid.uuid4()
    out = []
    for i in range(n):
        tid = uuid.uuid4()
        event = events.TicketCreated(
            subject=tid,
            seq=1,
            data=events.TicketCreatedData(
                ticket_id=tid,
                ticket_number=first_number + i,
                severity=1 + i % 4,
                organization_id=org,
                subject=f"bench ticket {i}",
                region=rnd.choice(regions),
                product=rnd.choice(PRODUCTS),
                coverage="24x7" if i % 2 else "business_hours",
                language="en" if i % 25 == 0 else "zh-CN",
                created_at=now,
            ),
        )
        out.append((tid, events.dumps(event)))
    return out


async def publish_burst(
    exchange: aio_pika.abc.AbstractExchange, bodies: list[tuple[uuid.UUID, bytes]]
) -> dict[uuid.UUID, float]:
    sent: dict[uuid.UUID, float] = {}

    async def one(tid: uuid.UUID, body: bytes) -> None:
        sent[tid] = time.time()
        await exchange.publish(
            aio_pika.Message(body, message_id=str(uuid.uuid4()), type="ticket.created"),
            routing_key="ticket.created",
        )

    for start in range(0, len(bodies), 500):
        await asyncio.gather(*(one(t, b) for t, b in bodies[start : start + 500]))
    return sent


async def publish_paced(
    exchange: aio_pika.abc.AbstractExchange, bodies: list[tuple[uuid.UUID, bytes]], rate: float
) -> tuple[dict[uuid.UUID, float], list[float]]:
    """Open loop: ticket i is due at t0 + i/rate; its time is the due time, not when sent."""
    due: dict[uuid.UUID, float] = {}
    lag: list[float] = []
    pending: set[asyncio.Task] = set()
    t0 = time.time() + 0.05
    for i, (tid, body) in enumerate(bodies):
        at = t0 + i / rate
        delay = at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        due[tid] = at
        lag.append(time.time() - at)
        task = asyncio.create_task(
            exchange.publish(
                aio_pika.Message(body, message_id=str(uuid.uuid4()), type="ticket.created"),
                routing_key="ticket.created",
            )
        )
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    return due, lag


async def decided(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """The tickets among ``ids`` that have a decision: an assignment, or a place in a queue."""
    rows = await conn.fetch(
        """
        SELECT ticket_id AS id FROM dispatch.assignment WHERE ticket_id = ANY($1::uuid[])
        UNION
        SELECT id FROM dispatch.ticket WHERE id = ANY($1::uuid[]) AND queued_at IS NOT NULL
        """,
        ids,
    )
    return {r["id"] for r in rows}


async def wait_decided(conn: asyncpg.Connection, ids: list[uuid.UUID], timeout: float) -> bool:
    """Waits until every ticket of ``ids`` (in publishing order) has a decision. The queue is
    first in, first out, so each poll looks at the last tickets still waiting, and at all of
    them only once those are decided: polling 10,000 tickets every 0.2 s would cost the
    database more than the routing it measures."""
    pending = list(ids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tail = pending[-TAIL:]
        if len(await decided(conn, tail)) == len(tail):
            done = await decided(conn, pending)
            pending = [i for i in pending if i not in done]
            if not pending:
                return True
        await asyncio.sleep(0.2)
    return False


# Tickets a poll of wait_decided looks at before it looks at all.
TAIL = 200


async def measure(conn: asyncpg.Connection, sent: dict[uuid.UUID, float]) -> dict[str, Any]:
    """Latencies from each ticket's first routing decision (assigned or queued: both are
    decisions): ``latency_ms`` to the commit of the transaction that made it when the server
    tracks commit timestamps (``track_commit_timestamp``), else to ``decided_at``, the insert
    of the decision, in the same statement as the assignment's; ``decided_ms`` always to
    ``decided_at``."""
    committed = await conn.fetchval("SELECT current_setting('track_commit_timestamp')::bool")
    rows = await conn.fetch(
        f"""
        SELECT DISTINCT ON (d.ticket_id) d.ticket_id, d.outcome,
               extract(epoch FROM d.decided_at) AS decided,
               extract(epoch FROM i.received_at) AS received,
               {"extract(epoch FROM pg_xact_commit_timestamp(d.xmin))" if committed else "NULL"}
                   AS committed
        FROM dispatch.routing_decision d
        JOIN dispatch.inbox i ON i.subject = d.ticket_id AND i.type = 'ticket.created'
        WHERE d.ticket_id = ANY($1::uuid[])
        ORDER BY d.ticket_id, d.decided_at
        """,
        list(sent),
    )
    done = [float(r["committed"] if committed else r["decided"]) for r in rows]
    latency = [d - sent[r["ticket_id"]] for d, r in zip(done, rows, strict=True)]
    decided = [float(r["decided"]) - sent[r["ticket_id"]] for r in rows]
    service = [float(r["decided"]) - float(r["received"]) for r in rows]
    outcomes = Counter(r["outcome"] for r in rows)
    out: dict[str, Any] = {
        "tickets": len(sent),
        "decisions": len(rows),
        "assigned": outcomes["assigned"],
        "queued": outcomes["queued"],
        "latency_to": "commit" if committed else "decided_at (track_commit_timestamp is off)",
        "latency_ms": percentiles(latency),
        "decided_ms": percentiles(decided),
        "service_ms": percentiles(service),
    }
    if rows:
        first = min(sent.values())
        last = max(done)
        out["seconds"] = round(last - first, 2)
        out["decisions_per_s"] = round(len(rows) / (last - first), 1) if last > first else None
    return out


def per_decision(phase: dict[str, Any]) -> dict[str, float]:
    """Where the CPU went, in ms per decision: a component at ``pct`` % of one core for the
    phase's seconds, divided by the decisions made. Two cores give 2,000 ms per second, so
    500 decisions/s needs the total under 4 ms."""
    decisions, seconds = phase.get("decisions") or 0, phase.get("seconds") or 0
    if not decisions or not seconds:
        return {}
    return {k: round(v / 100 * seconds * 1000 / decisions, 2) for k, v in phase["cpu_pct"].items()}


# ---- the run ---------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from shared.settings import ServiceSettings
    from shared.testing import TestRun

    class DispatchSettings(ServiceSettings):
        service = "dispatch"
        db_schema = "dispatch"

    stamp = datetime.now(UTC).strftime("%Y%m%dt%H%M%S")
    test_run = TestRun.from_environment(run_id=f"bench_dispatch_{stamp}")
    test_run.extra.update(
        {
            "AFTERCARE_LOG_LEVEL": args.log_level,
            "AFTERCARE_CONSUMER_PREFETCH": str(args.prefetch),
            "AFTERCARE_REQUEUE_SECONDS": "30",
        }
    )
    log(f"database {test_run.database}")
    await test_run.prepare(["dispatch"])
    dsn = DispatchSettings(database_url=test_run.database_url).libpq_database_url()
    conn = await asyncpg.connect(dsn, server_settings={"timezone": "UTC"})
    result: dict[str, Any] = {"benchmark": NAME}
    workers: list[asyncio.subprocess.Process] = []
    try:
        setup = await load(conn, args)
        regions = setup.pop("regions")
        result["setup"] = setup
        log(f"loaded {args.engineers} engineers, {args.open:,} open assignments "
            f"in {setup['load_seconds']}s")  # fmt: skip
        env = {**os.environ, **test_run.env()}
        logs = REPO / "var" / "bench" / f"dispatch-{stamp}"
        workers = await start_workers(args.workers, env, logs, profile=args.profile)
        result["worker_logs"] = str(logs.relative_to(REPO))
        log(f"{args.workers} workers ready")
        meter = CpuMeter([w.pid for w in workers])
        connection = await aio_pika.connect(test_run.amqp_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(
                test_run.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            warm = ticket_bodies(50, regions, 1_000_000)
            await publish_burst(exchange, warm)
            await wait_decided(conn, [t for t, _ in warm], 60)

            bodies = ticket_bodies(args.tickets, regions, 2_000_000)
            log(f"burst of {args.tickets:,} tickets")
            before = meter.sample()
            sent = await publish_burst(exchange, bodies)
            published_s = max(sent.values()) - min(sent.values())
            done = await wait_decided(conn, list(sent), args.drain_timeout)
            after = meter.sample()
            burst = await measure(conn, sent)
            burst["published_in_s"] = round(published_s, 2)
            burst["drained"] = done
            burst["cpu_pct"] = CpuMeter.percent(before, after)
            burst["cpu_ms_per_decision"] = per_decision(burst)
            result["burst"] = burst
            log(f"burst: {burst.get('decisions_per_s')} decisions/s, "
                f"service p99 {burst['service_ms']['p99']} ms")  # fmt: skip

            paced_bodies = ticket_bodies(args.paced, regions, 3_000_000)
            log(f"paced: {args.paced:,} tickets at {args.rate:g}/s")
            before = meter.sample()
            due, lag = await publish_paced(exchange, paced_bodies, args.rate)
            done = await wait_decided(conn, list(due), args.drain_timeout)
            after = meter.sample()
            paced = await measure(conn, due)
            paced["rate"] = args.rate
            paced["drained"] = done
            paced["send_lag_ms"] = percentiles(lag)
            paced["cpu_pct"] = CpuMeter.percent(before, after)
            paced["cpu_ms_per_decision"] = per_decision(paced)
            paced.pop("decisions_per_s", None)
            result["paced"] = paced
            log(f"paced: latency p50 {paced['latency_ms']['p50']} ms, "
                f"p99 {paced['latency_ms']['p99']} ms")  # fmt: skip
        over = await conn.fetchval(
            "SELECT count(*) FROM dispatch.engineer e JOIN dispatch.engineer_load l "
            "ON l.engineer_id = e.id WHERE l.open_count > e.max_open"
        )
        result["engineers_over_capacity"] = over
    finally:
        codes = await stop_workers(workers)
        result["worker_exit_codes"] = codes
        await conn.close()
        if not args.keep:
            await test_run.teardown()
    burst_rate = (result.get("burst") or {}).get("decisions_per_s") or 0
    paced_p99 = ((result.get("paced") or {}).get("latency_ms") or {}).get("p99")
    result["targets"] = {
        "decisions_per_s_ge_500": burst_rate >= 500,
        "paced_p99_lt_50ms": paced_p99 is not None and paced_p99 < 50,
    }
    result["config"] = vars(args)
    result["machine"] = {"nproc": os.cpu_count(), "loadavg": os.getloadavg()}
    git = await asyncio.to_thread(
        subprocess.run, ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    result["git"] = git.stdout.strip()
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(run(args))


if __name__ == "__main__":
    print(orjson.dumps(main(sys.argv[1:]), option=orjson.OPT_INDENT_2).decode())
