"""inbound: how fast the mail and phone gateways take input through the gateway.

Mail: every file of the mail corpus (../shared/corpus/mail, 124 real mails, 226 B to 1.5 MB) is
posted as ``message/rfc822`` to ``/v1/inbound/email`` in a loop by ``--concurrency`` clients for
``--mail-seconds``; each post gets a fresh Message-ID, so every one is a first delivery (a new
ticket, a message, an auto-reply record or a refusal), never a cheap replay. Reported: mails/s
(answered without a 5xx), p50/p99 latency, and the outcome counts.

CTI: call sequences (``newCall`` → ``answer`` → ``hangup``; every fifth call is missed:
``newCall`` → ``hangup``, which opens or joins a callback ticket) posted to ``/v1/inbound/cti``,
the events of one call in order, ``--concurrency`` calls at a time, for ``--cti-seconds``.
Reported: events/s, calls/s, p50/p99 per event.

Before each measured phase the stack is let settle (nothing left to publish or consume, up to
``--settle-timeout``): the mails' tickets still flowing through dispatch, sla-timer, notify and
kb would otherwise be charged to the CTI phase. ``cpu_ms_per_mail`` / ``cpu_ms_per_event`` is
each component's CPU time per answered request of the phase.

Targets: 300 mails/s and 1,000 CTI events/s. The stack is ticket_flow's (its own database,
``make start`` on its own port offset and var dir, ``make stop`` at the end): this module reuses
ticket_flow.Bench for that rather than copying it.

    .venv/bin/python bench/run.py --only inbound [--quick]
    .venv/bin/python bench/inbound.py [--quick] [flags]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ticket_flow  # bench/, beside this file

from shared.services import REPO_ROOT

NAME = "inbound"
CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "mail"
MESSAGE_ID = re.compile(rb"(?im)^(message-id:\s*<?)")


def log(message: str) -> None:
    print(f"[{NAME} {time.monotonic() - ticket_flow._T0:6.1f}s] {message}", file=sys.stderr,
          flush=True)  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=NAME, description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: a few seconds each")
    p.add_argument("--port-offset", type=int, default=2100, help="AFTERCARE_PORT_OFFSET (2100)")
    p.add_argument("--var-dir", default=str(REPO_ROOT / "var" / "bench-inbound"))
    p.add_argument("--mail-seconds", type=float, default=30.0)
    p.add_argument("--cti-seconds", type=float, default=20.0)
    p.add_argument("--warmup-seconds", type=float, default=3.0)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, s")
    p.add_argument("--settle-timeout", type=float, default=120.0,
                   help="longest wait for the stack to drain before a phase, s")  # fmt: skip
    p.add_argument("--stack-env", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--keep", action="store_true", help="leave the stack and database in place")
    args = p.parse_args(argv)
    if args.quick:
        args.mail_seconds, args.cti_seconds, args.warmup_seconds = 4.0, 3.0, 1.0
    return args


def corpus() -> list[bytes]:
    files = sorted([*CORPUS.glob("zammad/**/*.box"), *CORPUS.glob("zammad/smime/*.eml")])
    if not files:
        raise RuntimeError(f"no mail corpus under {CORPUS}")
    return [f.read_bytes() for f in files]


def fresh(raw: bytes, n: int) -> bytes:
    """The mail with a Message-ID never seen before (or one added, if it had none)."""
    tag = f"bench{n}.{uuid.uuid4().hex[:8]}.".encode()
    out, found = MESSAGE_ID.subn(rb"\g<1>" + tag, raw, count=1)
    return out if found else b"Message-ID: <" + tag + b"@bench>\r\n" + raw


async def timed_post(session, url: str, body: bytes, headers: dict) -> tuple[Any, float]:
    t = time.perf_counter()
    status = await ticket_flow.post(session, url, body, headers)
    return status, time.perf_counter() - t


async def mail_loop(gateway: str, token: str, mails: list[bytes], a, seconds: float) -> dict:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "message/rfc822"}
    url = gateway + "/v1/inbound/email"
    counts: Counter = Counter()
    latency: list[float] = []
    sizes = 0
    stop = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def client(session) -> None:
        nonlocal sizes
        while time.monotonic() < stop:
            n = next(counter)
            raw = fresh(mails[n % len(mails)], n)
            status, took = await timed_post(session, url, raw, headers)
            counts[status] += 1
            if isinstance(status, int) and status < 500:
                latency.append(took)
                sizes += len(raw)

    started = time.monotonic()
    async with ticket_flow.new_session(a.concurrency, a.timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(a.concurrency)))
    wall = time.monotonic() - started
    return {
        "seconds": round(wall, 2),
        "mails_per_s": round(len(latency) / wall, 1),
        "mib_per_s": round(sizes / wall / 2**20, 2),
        "latency_ms": ticket_flow.percentiles(latency),
        "status": {str(k): v for k, v in sorted(counts.items(), key=str)},
    }


async def cti_loop(gateway: str, token: str, a, seconds: float) -> dict:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    url = gateway + "/v1/inbound/cti"
    counts: Counter = Counter()
    latency: list[float] = []
    calls = 0
    stop = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def client(session) -> None:
        nonlocal calls
        while time.monotonic() < stop:
            n = next(counter)
            call_id = f"bench-{uuid.uuid4().hex}"
            caller = f"139{n % 10**8:08d}"
            events = ["newCall", "hangup"] if n % 5 == 0 else ["newCall", "answer", "hangup"]
            for event in events:
                body = {"event": event, "callId": call_id, "direction": "in", "from": caller,
                        "to": "4008001234", "user": "eng-1", "cause": "normalClearing"}  # fmt: skip
                status, took = await timed_post(session, url, json.dumps(body).encode(), headers)
                counts[status] += 1
                if status == 200:
                    latency.append(took)
            calls += 1

    started = time.monotonic()
    async with ticket_flow.new_session(a.concurrency, a.timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(a.concurrency)))
    wall = time.monotonic() - started
    return {
        "seconds": round(wall, 2),
        "events_per_s": round(len(latency) / wall, 1),
        "calls_per_s": round(calls / wall, 1),
        "latency_ms": ticket_flow.percentiles(latency),
        "status": {str(k): v for k, v in sorted(counts.items(), key=str)},
    }


async def phase(stack, cpu, name: str, loop, a, *, per: str) -> dict[str, Any]:
    """Lets the stack settle, then runs ``loop`` and adds its CPU use: percent of a core per
    component, and milliseconds per answered request (``per`` is the loop's rate field)."""
    started = time.monotonic()
    settled = await stack.settle(a.settle_timeout)
    waited = round(time.monotonic() - started, 1)
    log(f"{name}: settled {settled} after {waited} s; {a.concurrency} clients")
    before = cpu.sample()
    out = await loop
    out["cpu_pct"] = cpu.percent(before, cpu.sample())
    rate = out[per]
    unit = per.removesuffix("s_per_s")  # mails_per_s -> mail, events_per_s -> event
    out[f"cpu_ms_per_{unit}"] = (
        {k: round(10 * v / rate, 2) for k, v in out["cpu_pct"].items()} if rate else None
    )
    out["settled_before"] = {"settled": settled, "waited_s": waited}
    return out


async def run(a: argparse.Namespace) -> dict[str, Any]:
    stack_args = ["--port-offset", str(a.port_offset), "--var-dir", a.var_dir]
    for item in a.stack_env:
        stack_args += ["--stack-env", item]
    stack = ticket_flow.Bench(ticket_flow.parse_args(stack_args))
    mails = corpus()
    result: dict[str, Any] = {
        "benchmark": NAME,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "git": ticket_flow.git_commit(),
        "machine": {**ticket_flow.machine(), "loadavg_before": list(os.getloadavg())},
        "stack": {"gateway": stack.gateway, "database": stack.run.database},
        "config": {k: v for k, v in vars(a).items() if k != "keep"},
        "corpus": {"mails": len(mails), "bytes": sum(map(len, mails))},
    }
    up = False
    try:
        await stack.ensure_infrastructure()
        log(f"preparing database {stack.run.database}")
        await stack.run.prepare()
        up = True
        if await stack.make("start") != 0:
            raise RuntimeError("make start failed (its output is above)")
        await ticket_flow.wait_for(
            lambda: asyncio.to_thread(ticket_flow.http_ok, stack.gateway + "/healthz"),
            60,
            "gateway",
        )
        cpu = ticket_flow.CpuMeter(stack.run.database)
        cpu.groups.update(stack.stack_groups())
        await stack.probe.open()
        log(f"warm-up {a.warmup_seconds:.0f} s")
        await mail_loop(stack.gateway, stack.token, mails, a, a.warmup_seconds)
        result["mail"] = await phase(
            stack, cpu, "mail", mail_loop(stack.gateway, stack.token, mails, a, a.mail_seconds),
            a, per="mails_per_s",
        )  # fmt: skip
        log(f"  {result['mail']['mails_per_s']} mails/s, {result['mail']['latency_ms']}")
        result["cti"] = await phase(
            stack, cpu, "cti", cti_loop(stack.gateway, stack.token, a, a.cti_seconds), a,
            per="events_per_s",
        )  # fmt: skip
        log(f"  {result['cti']['events_per_s']} events/s, {result['cti']['calls_per_s']} calls/s")
        result["targets"] = {
            "mails_per_s_ge_300": result["mail"]["mails_per_s"] >= 300,
            "cti_events_per_s_ge_1000": result["cti"]["events_per_s"] >= 1000,
        }
    finally:
        await stack.probe.close()
        if up and not a.keep:
            await stack.make("stop")
        if not a.keep:
            log(f"dropping {stack.run.database}")
            with contextlib.suppress(Exception):
                await stack.run.teardown()
    result["machine"]["loadavg_after"] = list(os.getloadavg())
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the benchmark and returns its JSON-able result (bench/run.py prints and saves it)."""
    args = parse_args(argv)
    return ticket_flow.run_until_done(lambda: run(args))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    print(json.dumps(main(sys.argv[1:]), indent=2))
