"""Two relay processes on one outbox publish every event exactly once (DESIGN §4)."""

import asyncio
import json
import os
import sys
from datetime import UTC, datetime

from sqlalchemy import text

from intake.settings import Settings
from shared import events, outbox
from shared.db import make_engine, make_sessionmaker
from shared.ids import new_id
from shared.services import REPO_ROOT
from shared.testing import Tap, TestRun, wait_until

EVENTS = 2000


async def test_two_relay_processes_publish_each_event_once():
    run = TestRun.from_environment()
    await run.prepare(["intake"])
    settings = Settings(
        database_url=run.database_url, exchange=run.exchange, queue_prefix=run.queue_prefix
    )
    engine = make_engine(settings)
    try:
        ids = await write_events(make_sessionmaker(engine), EVENTS)
        async with Tap(run.amqp_url, run.exchange) as tap:
            relays = [await start_relay(run) for _ in range(2)]
            outputs = await asyncio.gather(*(finish(p) for p in relays))

            await wait_until(lambda: _seen(tap, EVENTS), timeout=30)
            await asyncio.sleep(1.0)  # room for a duplicate to show up
            published = [json.loads(b)["id"] for b in tap.bodies]

        assert sorted(published) == sorted(str(i) for i in ids)
        counts = [int(out.split()[-1]) for out in outputs]
        assert sum(counts) == EVENTS
        async with engine.connect() as conn:
            left = await conn.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
        assert left == 0
    finally:
        await engine.dispose()
        await run.teardown()


async def _seen(tap: Tap, n: int) -> bool:
    return len(tap.bodies) >= n


async def write_events(sessionmaker, n: int) -> list:
    ids = []
    async with sessionmaker() as session:
        for i in range(n):
            subject = new_id()
            event = events.TicketCreated(
                subject=subject,
                data=events.TicketCreatedData(
                    ticket_id=subject,
                    ticket_number=100001 + i,
                    severity=2,
                    organization_id=new_id(),
                    subject=f"relay test {i}",
                    created_at=datetime.now(UTC),
                ),
            )
            await outbox.add(session, event)
            ids.append(event.id)
        await session.commit()
    return ids


async def start_relay(run: TestRun) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.outbox",
        "--service",
        "intake",
        "--until-empty",
        cwd=REPO_ROOT,
        env={**os.environ, **run.env(), "AFTERCARE_RELAY_BATCH_SIZE": "50"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process) -> str:
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()[-2000:]
    return stdout.decode().strip()
