"""sla: how late the SLA timer scanner fires deadlines, and how fast deadlines are computed.

Fire lag: a database of its own holds ``--timers`` (1,000,000) active clocks, bulk-loaded with
COPY; most are due far in the future (they sit in the scanner's index like real open
tickets), and for each phase a window of ``--window`` seconds of them falls due at ``--rate``
(2,000) per second. The phase's scanner processes (1, then 2: ``--scanners 1,2``) run the
service's own ``TimerScanner`` (sla_timer/scanner.py) against that database; each fired point
is a breach written to the outbox with the timer's update, in one transaction. The lag of a
timer is ``last_fired_at`` (``clock_timestamp()`` in the firing transaction, just before its
commit) minus its due time, both on the database's clock. After the paced window, a burst of
``--burst`` seconds' worth of timers is made due at once and the time to drain it gives the
scanners' capacity (timers fired per second flat out). No relay runs: publishing is the
relay's cost, measured by ticket_flow.

Due-time computations: ``add(start, budget)`` on the seeded ``cn-office-hours`` calendar (office
hours with a lunch break, 2026 holidays and make-up workdays) from random instants of 2026 for
random budgets between 15 min and 96 h, in this process, for ``--due-seconds``; the same for
``elapsed``.

    .venv/bin/python bench/run.py --only sla [--quick] [flags]     (saved in bench/results/)
    .venv/bin/python bench/sla.py [--quick] [flags]                 (this benchmark alone)

Target: fire lag p99 under 1 s at 2,000 due per second.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

REPO = Path(__file__).resolve().parents[1]
NAME = "sla"
FAR = datetime(2100, 1, 1, tzinfo=UTC)
_T0 = time.monotonic()

COLUMNS = (
    "id", "ticket_id", "kind", "round", "ticket_number", "organization_id", "ticket_kind",
    "severity", "channel", "policy_key", "calendar_key", "state", "target_seconds",
    "target_reason", "target_set_at", "started_at", "due_at", "fire_plan", "next_fire_at",
)  # fmt: skip


def log(message: str) -> None:
    print(f"[{NAME} {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="sla", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run with small numbers")
    p.add_argument("--timers", type=int, default=1_000_000, help="active clocks loaded")
    p.add_argument("--rate", type=int, default=2000, help="clocks falling due per second")
    p.add_argument("--window", type=float, default=30.0, help="seconds of paced due times")
    p.add_argument("--burst", type=float, default=10.0, help="seconds' worth made due at once")
    p.add_argument("--scanners", default="1,2", help="scanner processes per phase")
    p.add_argument("--batch", type=int, default=500, help="AFTERCARE_SCAN_BATCH_SIZE")
    p.add_argument("--lead", type=float, default=3.0, help="seconds between setup and first due")
    p.add_argument("--drain-timeout", type=float, default=120.0)
    p.add_argument("--due-seconds", type=float, default=5.0, help="duration of the due loop")
    p.add_argument("--keep", action="store_true", help="leave the database in place")
    p.add_argument("--scanner-process", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--dsn", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.timers, args.rate, args.window, args.burst = 20_000, 500, 4.0, 2.0
        args.due_seconds = 1.0
    args.phases = [int(n) for n in str(args.scanners).split(",") if n.strip()]
    return args


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    s = sorted(values)

    def rank(q: float) -> float:
        return round(s[max(0, math.ceil(q * len(s)) - 1)] * 1000, 1)

    return {"p50": rank(0.5), "p99": rank(0.99), "max": round(s[-1] * 1000, 1)}


# ---- loading ---------------------------------------------------------------------------------


def plan_json(at: datetime) -> str:
    iso = at.isoformat()
    return orjson.dumps([{"what": "breach", "at": iso, "due_at": iso}]).decode()


def records(count: int, first_number: int, due_of) -> list[tuple[Any, ...]]:
    now = datetime.now(UTC)
    org = uuid.uuid4()
    out = []
    for i in range(count):
        due = due_of(i)
        out.append(
            (
                uuid.uuid4(), uuid.uuid4(), "resolution", 1, first_number + i, org, "fault",
                1 + i % 4, "web", "fault-levels", "24x7", "running", 18000,
                "bench", now, now, due, plan_json(due), due,
            )
        )  # fmt: skip
    return out


async def load(conn: asyncpg.Connection, args: argparse.Namespace, window_rows: int) -> float:
    """COPY the clocks: per phase a paced window and a burst (parked far in the future until
    the phase), the rest due at random instants 30-365 days ahead."""
    started = time.perf_counter()
    chunk = 50_000
    rng = random.Random(7)
    now = datetime.now(UTC)
    phase_rows = len(args.phases) * window_rows
    background = max(0, args.timers - phase_rows)

    def later(_: int) -> datetime:
        return now + timedelta(days=30, seconds=rng.uniform(0, 335 * 86400))

    def parked(i: int) -> datetime:
        return FAR + timedelta(microseconds=i)

    for phase in range(len(args.phases)):
        first = (phase + 1) * 10_000_000
        await conn.copy_records_to_table(
            "timer", schema_name="sla", columns=COLUMNS,
            records=records(window_rows, first, parked),
        )  # fmt: skip
    done = 0
    while done < background:
        n = min(chunk, background - done)
        await conn.copy_records_to_table(
            "timer", schema_name="sla", columns=COLUMNS,
            records=records(n, 100_000_000 + done, later),
        )  # fmt: skip
        done += n
        if done % 200_000 < chunk:
            log(f"loaded {done + phase_rows:,} clocks")
    await conn.execute("ANALYZE sla.timer")
    return time.perf_counter() - started


# ---- a phase ---------------------------------------------------------------------------------


async def arm(conn, first: int, count: int, start: datetime, rate: float, offset: int) -> None:
    """Makes timers [first+offset, first+offset+count) due from ``start`` at ``rate`` per s.

    One transaction: a scanner must never see the new due time with the old fire plan."""
    async with conn.transaction():
        await _arm(conn, first, count, start, rate, offset)


async def _arm(conn, first: int, count: int, start: datetime, rate: float, offset: int) -> None:
    await conn.execute(
        """
        UPDATE sla.timer SET due_at = {AT}, next_fire_at = {AT}
        WHERE ticket_number >= $2 AND ticket_number < $2 + $4
        """.format(AT="$1::timestamptz + make_interval(secs => (ticket_number - $2) / $3::float8)"),
        start,
        first + offset,
        rate,
        count,
    )
    await conn.execute(
        """
        UPDATE sla.timer SET fire_plan = jsonb_build_array(jsonb_build_object(
            'what', 'breach',
            'at', to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
            'due_at', to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')))
        WHERE ticket_number >= $1 AND ticket_number < $1 + $2
        """,
        first + offset,
        count,
    )


async def start_scanners(n: int, dsn: str, batch: int) -> list[asyncio.subprocess.Process]:
    procs = []
    for _ in range(n):
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--scanner-process",
                "--dsn",
                dsn,
                "--batch",
                str(batch),
                cwd=REPO,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        )
    for proc in procs:
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        if line.strip() != b"ready":
            raise RuntimeError(f"scanner process did not start: {line!r}")
    return procs


async def stop_scanners(procs: list[asyncio.subprocess.Process]) -> list[int]:
    fired = []
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        text = out.decode().strip()
        fired.append(int(text.split()[-1]) if text else 0)
        if proc.returncode not in (0, -signal.SIGTERM):
            log(f"scanner exited {proc.returncode}: {err.decode()[-500:]}")
    return fired


async def wait_fired(conn, first: int, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = await conn.fetchval(
            "SELECT count(*) FROM sla.timer WHERE ticket_number >= $1 AND ticket_number < $1 + $2"
            " AND next_fire_at IS NOT NULL",
            first,
            count,
        )
        if left == 0:
            return True
        await asyncio.sleep(0.05)
    return False


async def measure(conn, first: int, count: int) -> dict[str, Any]:
    rows = await conn.fetch(
        """
        SELECT extract(epoch FROM last_fired_at - due_at) AS lag, last_fired_at, due_at
        FROM sla.timer WHERE ticket_number >= $1 AND ticket_number < $1 + $2
          AND last_fired_at IS NOT NULL
        """,
        first,
        count,
    )
    lags = [float(r["lag"]) for r in rows]
    if not rows:
        return {"fired": 0, "lag_ms": percentiles([])}
    span = (max(r["last_fired_at"] for r in rows) - min(r["due_at"] for r in rows)).total_seconds()
    return {
        "fired": len(rows),
        "missed": count - len(rows),
        "lag_ms": percentiles(lags),
        "fired_per_s": round(len(rows) / span, 1) if span > 0 else None,
    }


async def phase(conn, args, index: int, scanners: int, dsn: str, window_rows: int) -> dict:
    first = (index + 1) * 10_000_000
    paced = int(args.rate * args.window)
    burst = window_rows - paced
    procs = await start_scanners(scanners, dsn, args.batch)
    try:
        start = datetime.now(UTC) + timedelta(seconds=args.lead)
        await arm(conn, first, paced, start, args.rate, 0)
        await conn.execute("SELECT pg_notify('aftercare_sla_scan', '')")
        log(f"{scanners} scanner(s): {paced:,} clocks due from +{args.lead:.0f}s at {args.rate}/s")
        window_end = args.lead + args.window
        await asyncio.sleep(window_end)
        drained = await wait_fired(conn, first, paced, args.drain_timeout)
        paced_result = await measure(conn, first, paced)
        burst_result: dict[str, Any] = {}
        if burst > 0:
            at = datetime.now(UTC) - timedelta(seconds=1)
            # Due all within a millisecond: a backlog, as after an outage.
            await arm(conn, first, burst, at, burst * 1000.0, paced)
            await conn.execute("SELECT pg_notify('aftercare_sla_scan', '')")  # as a handler does
            armed_at = await conn.fetchval("SELECT clock_timestamp()")
            began = time.perf_counter()
            burst_drained = await wait_fired(conn, first + paced, burst, args.drain_timeout)
            took = time.perf_counter() - began
            span = await conn.fetchval(
                "SELECT extract(epoch FROM max(last_fired_at) - $3) FROM sla.timer"
                " WHERE ticket_number >= $1 AND ticket_number < $1 + $2",
                first + paced,
                burst,
                armed_at,
            )
            burst_result = {
                "clocks": burst,
                "drained": burst_drained,
                "seconds_to_drain": round(took, 2),
                # From the backlog's arming to its last commit, on the database's clock.
                "fired_per_s": round(burst / float(span), 1) if burst_drained and span else None,
            }
    finally:
        fired_by = await stop_scanners(procs)
    return {
        "scanners": scanners,
        "due_per_s": args.rate,
        "window_s": args.window,
        "drained": drained,
        **paced_result,
        "burst": burst_result,
        "fired_by_process": fired_by,
        "target_p99_lt_1s": bool(
            drained and paced_result["lag_ms"]["p99"] is not None
            and paced_result["lag_ms"]["p99"] < 1000
        ),
    }  # fmt: skip


# ---- due-time computations ---------------------------------------------------------------------


async def due_rate(conn, seconds: float) -> dict[str, Any]:
    from sla_timer import catalog
    from sla_timer.models import Calendar

    row = await conn.fetchrow("SELECT * FROM sla.calendar WHERE key = 'cn-office-hours'")
    values = dict(row)
    for name in ("weekly_hours", "holidays", "workdays", "workday_hours"):
        if isinstance(values[name], str):
            values[name] = orjson.loads(values[name])
    calendar = catalog.to_calendar(Calendar(**values))
    rng = random.Random(11)
    year = datetime(2026, 1, 1, tzinfo=UTC)
    cases = [
        (year + timedelta(seconds=rng.uniform(0, 365 * 86400)),
         timedelta(minutes=rng.choice((15, 60, 120, 300, 720, 1440, 2880, 5760))))
        for _ in range(10_000)
    ]  # fmt: skip

    def loop(fn) -> float:
        n, i, began = 0, 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            start, budget = cases[i % len(cases)]
            fn(start, budget)
            n += 1
            i += 1
        return n / (time.perf_counter() - began)

    adds = loop(calendar.add)
    ends = [(s, calendar.add(s, b)) for s, b in cases]
    n, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        s, e = ends[n % len(ends)]
        calendar.elapsed(s, e)
        n += 1
    elapsed_rate = n / (time.perf_counter() - began)
    return {
        "calendar": "cn-office-hours",
        "due_per_s": round(adds),
        "elapsed_per_s": round(elapsed_rate),
        "budgets_min": [15, 60, 120, 300, 720, 1440, 2880, 5760],
    }


# ---- the run -----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from shared.testing import TestRun
    from sla_timer.settings import Settings

    stamp = datetime.now(UTC).strftime("%Y%m%dt%H%M%S")
    test_run = TestRun.from_environment(run_id=f"bench_sla_{stamp}")
    log(f"database {test_run.database}")
    await test_run.prepare(["sla-timer"])
    dsn = Settings(database_url=test_run.database_url).libpq_database_url()
    conn = await asyncpg.connect(dsn, server_settings={"timezone": "UTC"})
    window_rows = int(args.rate * (args.window + args.burst))
    result: dict[str, Any] = {"benchmark": NAME}
    try:
        load_s = await load(conn, args, window_rows)
        total = await conn.fetchval("SELECT count(*) FROM sla.timer WHERE state = 'running'")
        log(f"{total:,} active clocks loaded in {load_s:.1f}s")
        result["active_timers"] = total
        result["load_seconds"] = round(load_s, 1)
        result["load_per_s"] = round(total / load_s) if load_s else None
        result["phases"] = []
        for index, scanners in enumerate(args.phases):
            result["phases"].append(await phase(conn, args, index, scanners, dsn, window_rows))
        result["due_computations"] = await due_rate(conn, args.due_seconds)
    finally:
        await conn.close()
        if not args.keep:
            await test_run.teardown()
    result["target"] = "fire lag p99 < 1 s at the due rate"
    result["config"] = {k: v for k, v in vars(args).items() if k not in ("scanner_process", "dsn")}
    result["machine"] = {"nproc": os.cpu_count(), "loadavg": os.getloadavg()}
    git = await asyncio.to_thread(
        subprocess.run, ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    result["git"] = git.stdout.strip()
    return result


async def scanner_process(dsn: str, batch: int) -> None:
    from sla_timer.scanner import TimerScanner

    scanner = TimerScanner(dsn=dsn, batch_size=batch)
    task = asyncio.create_task(scanner.run())
    await scanner.ready.wait()
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    print(f"fired {scanner.fired_total}", flush=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO / "services" / "sla-timer"))
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        if args.scanner_process:
            runner.run(scanner_process(args.dsn, args.batch))
            return {}
        return runner.run(run(args))


if __name__ == "__main__":
    outcome = main(sys.argv[1:])
    if outcome:
        print(orjson.dumps(outcome, option=orjson.OPT_INDENT_2).decode())
