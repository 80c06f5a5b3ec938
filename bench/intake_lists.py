"""intake_lists: how fast `GET /v1/tickets` answers as the ticket table grows.

The intake service and the gateway run on their own database (``make start ONLY=intake,gateway``
on AFTERCARE_PORT_OFFSET=2200). A bulk loader (COPY) writes organisations and tickets with
time-ordered UUIDv7 ids spread over two years; then, through the gateway, the benchmark asks:

* ``org_status_first``: ``?organization_id=…&status=…`` first page (50), random organisation and
  status each time;
* ``org_status_deep``: the same filter's last page, reached with the cursor of the page before;
* ``status_deep``: ``?status=closed`` (hundreds of thousands of rows at full size) at a cursor
  halfway down the list.

Each is timed sequentially (one request in flight) for ``--requests`` requests after a warm-up,
at 10,000 tickets and again after loading up to 1,000,000, so the JSON shows whether latency
stays flat as the table grows. Target: p95 under 50 ms at 1,000,000 tickets.

    .venv/bin/python bench/run.py --only intake_lists [--quick]
    .venv/bin/python bench/intake_lists.py [--quick] [--sizes 10000 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import ticket_flow as tf  # bench/, beside this file

from shared import provision
from shared.auth import issue_token
from shared.services import REPO_ROOT
from shared.settings import ServiceSettings
from shared.testing import TestRun

NAME = "intake_lists"
STATUSES = (  # a plausible mix for a help desk that has run for two years
    ("closed", 0.55),
    ("resolved", 0.10),
    ("in_progress", 0.12),
    ("assigned", 0.08),
    ("new", 0.07),
    ("pending_customer", 0.05),
    ("cancelled", 0.02),
    ("merged", 0.01),
)
SPAN = timedelta(days=730)


def log(message: str) -> None:
    print(f"[{NAME}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="intake_lists", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="10,000 and 50,000 tickets, few requests")
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    p.add_argument("--organizations", type=int, default=2000)
    p.add_argument("--requests", type=int, default=400, help="timed requests per query kind")
    p.add_argument("--port-offset", type=int, default=2200)
    p.add_argument("--var-dir", default=str(REPO_ROOT / "var" / "bench-lists"))
    args, _ = p.parse_known_args(argv)
    if args.quick:
        args.sizes, args.requests = [10_000, 50_000], 100
    return args


def uuid7_at(ms: int) -> uuid.UUID:
    """A UUIDv7 (RFC 9562) for the given Unix time in milliseconds."""
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 64 & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def p50_p95(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    s = sorted(values)

    def rank(q: float) -> float:
        return round(s[max(0, math.ceil(q * len(s)) - 1)] * 1000, 2)

    return {"p50": rank(0.50), "p95": rank(0.95), "max": round(s[-1] * 1000, 2)}


class Lists:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        stamp = datetime.now(UTC).strftime("%Y%m%dt%H%M%S")
        settings = ServiceSettings()
        self.run = TestRun(
            run_id=f"lists_{stamp}",
            database_url=f"postgresql://127.0.0.1:5432/aftercare_lists_{stamp}",
            exchange=f"aftercare.events.lists_{stamp}",
            queue_prefix=f"lists_{stamp}.",
            amqp_url=settings.amqp_url.get_secret_value(),
        )
        self.admin_dsn = provision.with_database(provision.admin_url(), self.run.database)
        self.gateway = f"http://127.0.0.1:{8080 + args.port_offset}"
        self.env = {
            **os.environ,
            **self.run.env(),
            "AFTERCARE_PORT_OFFSET": str(args.port_offset),
            "AFTERCARE_VAR_DIR": str(Path(args.var_dir).resolve()),
            "AFTERCARE_LOG_LEVEL": "WARNING",
            "AFTERCARE_BOOTSTRAP": "0",
            "ONLY": "intake,gateway",
        }
        self.token = issue_token(settings, role="agent", sub="bench-lists")
        self.orgs: list[uuid.UUID] = []
        self.loaded = 0

    async def make(self, target: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            "make", "--no-print-directory", target, f"ONLY={self.env['ONLY']}",
            cwd=REPO_ROOT, env=self.env, stdout=sys.stderr,
        )  # fmt: skip
        if await proc.wait() != 0 and target == "start":
            raise RuntimeError("make start failed")

    async def load(self, conn: asyncpg.Connection, total: int) -> float:
        """Adds tickets until the table holds ``total``; returns the seconds it took."""
        t0 = time.monotonic()
        if not self.orgs:
            self.orgs = [uuid7_at(1_700_000_000_000 + i) for i in range(self.args.organizations)]
            await conn.copy_records_to_table(
                "organization", schema_name="intake", columns=["id", "name", "region_code"],
                records=[(o, f"Customer {i:04d}", "310000") for i, o in enumerate(self.orgs)],
            )  # fmt: skip
        rng = random.Random(total)
        statuses, weights = zip(*STATUSES, strict=True)
        end = datetime.now(UTC)
        start_ms = int((end - SPAN).timestamp() * 1000)
        span_ms = int(SPAN.total_seconds() * 1000)
        batch = 50_000
        while self.loaded < total:
            n = min(batch, total - self.loaded)
            stamps = sorted(rng.randrange(span_ms) + start_ms for _ in range(n))
            records = []
            for i, ms in enumerate(stamps):
                created = datetime.fromtimestamp(ms / 1000, UTC)
                records.append((
                    uuid7_at(ms), 100001 + self.loaded + i, rng.choice(self.orgs),
                    f"Fault report {self.loaded + i}", rng.randint(1, 4),
                    rng.choices(statuses, weights)[0], "bench-loader", created, created,
                ))  # fmt: skip
            await conn.copy_records_to_table(
                "ticket", schema_name="intake", records=records,
                columns=["id", "number", "organization_id", "subject", "severity", "status",
                         "created_by", "created_at", "updated_at"],
            )  # fmt: skip
            self.loaded += n
            log(f"  loaded {self.loaded:,} tickets")
        await conn.execute(
            "SELECT setval('intake.ticket_number_seq', (SELECT max(number) FROM intake.ticket))"
        )
        await conn.execute("VACUUM (ANALYZE) intake.ticket")
        return round(time.monotonic() - t0, 1)

    async def timed(self, session: aiohttp.ClientSession, params: dict) -> tuple[float, dict]:
        t0 = time.perf_counter()
        async with session.get(f"{self.gateway}/v1/tickets", params=params) as r:
            body = await r.json()
            if r.status != 200:
                raise RuntimeError(f"GET /v1/tickets {params}: {r.status} {body}")
        return time.perf_counter() - t0, body

    async def measure(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        n, rng = self.args.requests, random.Random(7)
        kinds = {"org_status_first": [], "org_status_deep": [], "status_deep": []}
        weighted = [s for s, w in STATUSES for _ in range(int(w * 100))]

        async def org_status_first() -> float:
            params = {
                "organization_id": str(rng.choice(self.orgs)),
                "status": rng.choice(weighted),
                "limit": "50",
            }
            return (await self.timed(session, params))[0]

        async def org_status_deep() -> float:
            params = {
                "organization_id": str(rng.choice(self.orgs)),
                "status": "closed",
                "limit": "50",
            }
            seconds, page = await self.timed(session, params)
            while page["next_cursor"]:
                seconds, page = await self.timed(session, {**params, "cursor": page["next_cursor"]})
            return seconds  # the last page, reached through every cursor before it

        middle = await self.middle_cursor()

        async def status_deep() -> float:
            return (
                await self.timed(session, {"status": "closed", "limit": "50", "cursor": middle})
            )[0]

        for kind, fn in (
            ("org_status_first", org_status_first),
            ("org_status_deep", org_status_deep),
            ("status_deep", status_deep),
        ):
            for _ in range(min(20, n)):
                await fn()  # warm-up: plans cached, pages in memory
            kinds[kind] = [await fn() for _ in range(n)]
        return {kind: p50_p95(v) for kind, v in kinds.items()}

    async def middle_cursor(self) -> str:
        from shared.http import encode_cursor

        conn = await asyncpg.connect(self.admin_dsn)
        try:
            n = await conn.fetchval("SELECT count(*) FROM intake.ticket WHERE status = 'closed'")
            row = await conn.fetchval(
                "SELECT id FROM intake.ticket WHERE status = 'closed' ORDER BY id DESC "
                "OFFSET $1 LIMIT 1", n // 2,
            )  # fmt: skip
        finally:
            await conn.close()
        return encode_cursor([str(row)])

    async def go(self) -> dict[str, Any]:
        load_before = os.getloadavg()
        await self.run.prepare(["intake"])
        conn = await asyncpg.connect(self.admin_dsn)
        results = []
        try:
            await self.make("start")
            async with aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self.token}"},
                connector=aiohttp.TCPConnector(limit=4),
            ) as session:
                for size in sorted(self.args.sizes):
                    log(f"loading up to {size:,} tickets")
                    seconds = await self.load(conn, size)
                    log(f"measuring at {size:,} tickets")
                    results.append(
                        {
                            "tickets": size,
                            "organizations": len(self.orgs),
                            "load_seconds": seconds,
                            "latency_ms": await self.measure(session),
                        }
                    )
        finally:
            await conn.close()
            await self.make("stop")
            await self.run.teardown()
        largest = results[-1]["latency_ms"]
        return {
            "benchmark": NAME,
            "machine": {
                **tf.machine(),
                "loadavg_before": load_before,
                "loadavg_after": os.getloadavg(),
            },
            "git": tf.git_commit(),
            "requests_per_kind": self.args.requests,
            "through": "gateway",
            "sizes": results,
            "targets": {
                "p95_lt_50ms_at_largest": all(
                    v["p95"] is not None and v["p95"] < 50 for v in largest.values()
                ),
            },
        }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return asyncio.run(Lists(parse_args(argv)).go())


if __name__ == "__main__":
    import json

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    print(json.dumps(main(sys.argv[1:]), indent=2))
