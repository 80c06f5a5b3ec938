"""Three dispatch workers on one queue, a burst of 500 tickets with duplicated and reordered
events: every open ticket ends with exactly one active assignment or waits in a queue, no
engineer exceeds capacity, and nothing is assigned twice (issue 5, DESIGN §4 and §9)."""

import asyncio
import os
import random
import subprocess
import sys
from pathlib import Path

import aio_pika
import asyncpg
import pytest

from shared import events
from shared.ids import new_id
from shared.services import REPO_ROOT
from shared.settings import DEV_DB_PASSWORD
from shared.testing import TestRun, wait_until
from tests.factories import status_event, ticket_created

TICKETS = 500
WORKERS = 3
BRANCHES = 5
ENGINEERS_PER_BRANCH = 8
CAPACITY = 10  # 5 x 8 x 10 = 400 places for 450 open tickets: queues fill up too
CLOSED = 50


@pytest.fixture(scope="module")
async def run():
    test_run = TestRun.from_environment()
    test_run.extra["AFTERCARE_RETRY_DELAYS"] = "[0.2, 0.4, 1.0]"
    test_run.extra["AFTERCARE_REQUEUE_SECONDS"] = "2"
    await test_run.prepare(["dispatch"])
    yield test_run
    await test_run.teardown()


async def test_three_workers_route_a_burst_exactly_once_within_capacity(run, tmp_path):
    conn = await asyncpg.connect(_url(run))
    try:
        regions = await load_roster(conn)
        logs = [tmp_path / f"worker-{n}.log" for n in range(WORKERS)]
        workers = [await start_worker(run, log) for log in logs]
        try:
            await wait_until(lambda: at_least(consumers(run), WORKERS), timeout=60)
            created = [ticket_created(region=random.choice(regions)) for _ in range(TICKETS)]
            closed = [status_event(events.TicketClosed, e.subject, seq=3) for e in created[:CLOSED]]
            deliveries = created + closed + random.sample(created, 100) + closed[:20]
            random.shuffle(deliveries)

            await publish(run, deliveries)

            unique = len(created) + len(closed)
            await wait_until(
                lambda: _equals(conn, "SELECT count(*) FROM inbox", unique), timeout=120
            )
            await wait_until(lambda: settled(conn, TICKETS - CLOSED), timeout=60)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                try:
                    await asyncio.wait_for(worker.wait(), 30)
                except TimeoutError:  # it ignored the stop signal: fails below, with its log
                    worker.kill()
                    await worker.wait()
        for worker, log in zip(workers, logs, strict=True):
            assert worker.returncode in (0, -15), log.read_text()[-2000:]

        await check_invariants(conn, created, closed)
    finally:
        await conn.close()


async def check_invariants(conn, created, closed) -> None:
    closed_ids = {e.subject for e in closed}
    rows = await conn.fetch(
        """
        SELECT t.id, t.status, t.queued_at IS NOT NULL AS queued,
               count(a.id) FILTER (WHERE a.ended_at IS NULL) AS active,
               count(a.id) AS ever
        FROM ticket t LEFT JOIN assignment a ON a.ticket_id = t.id
        GROUP BY t.id
        """
    )
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {e.subject for e in created}
    for ticket_id, r in by_id.items():
        if ticket_id in closed_ids:
            assert (r["status"], r["active"], r["queued"]) == ("closed", 0, False)
            assert r["ever"] <= 1
        else:
            assert r["active"] + r["queued"] == 1, dict(r)
            assert r["ever"] == r["active"]  # never assigned twice

    over = await conn.fetch(
        """
        SELECT e.id, e.max_open, l.open_count,
               (SELECT count(*) FROM assignment a
                WHERE a.engineer_id = e.id AND a.ended_at IS NULL) AS active
        FROM engineer e JOIN engineer_load l ON l.engineer_id = e.id
        WHERE l.open_count <> (SELECT count(*) FROM assignment a
                               WHERE a.engineer_id = e.id AND a.ended_at IS NULL)
           OR l.open_count > e.max_open
        """
    )
    assert over == []
    queued = await conn.fetchval("SELECT count(*) FROM ticket WHERE queued_at IS NOT NULL")
    assert queued >= TICKETS - CLOSED - BRANCHES * ENGINEERS_PER_BRANCH * CAPACITY

    per_ticket = await conn.fetch(
        """
        SELECT subject, type, count(*) AS n FROM outbox
        WHERE type IN ('ticket.assigned', 'ticket.unassigned')
        GROUP BY subject, type HAVING count(*) > 1
        """
    )
    assert per_ticket == []


async def load_roster(conn) -> list[str]:
    regions = []
    for b in range(BRANCHES):
        region = f"SC-{b}"
        regions.append(region)
        branch_id = new_id()
        await conn.execute(
            "INSERT INTO branch (id, code, name, tier, regions, active) "
            "VALUES ($1, $2, $3, 1, $4, true)",
            branch_id,
            f"SC{b}",
            f"Scale branch {b}",
            [region],
        )
        for e in range(ENGINEERS_PER_BRANCH):
            engineer_id = new_id()
            await conn.execute(
                "INSERT INTO engineer (id, user_id, name, branch_id, tier, max_open, active, "
                "languages) VALUES ($1, $2, $3, $4, 1, $5, true, '{zh-CN}')",
                engineer_id,
                f"scale-{b}-{e}",
                f"Engineer {b}-{e}",
                branch_id,
                CAPACITY,
            )
            await conn.execute(
                "INSERT INTO engineer_load (engineer_id, open_count) VALUES ($1, 0)", engineer_id
            )
            await conn.execute(
                "INSERT INTO shift (id, engineer_id, weekdays, starts, ends, time_zone) "
                "VALUES ($1, $2, '{1,2,3,4,5,6,7}', '00:00', '00:00', 'Asia/Shanghai')",
                new_id(),
                engineer_id,
            )
    return regions


async def settled(conn, open_tickets: int) -> bool:
    """Every open ticket is assigned or queued, and no branch keeps tickets waiting while one
    of its engineers has room (the re-evaluation fills places that closing tickets freed)."""
    row = await conn.fetchrow(
        """
        SELECT
          (SELECT count(*) FROM assignment WHERE ended_at IS NULL) AS active,
          (SELECT count(*) FROM ticket WHERE queued_at IS NOT NULL) AS queued
        """
    )
    waiting_with_room = await conn.fetchval(
        """
        SELECT count(*) FROM branch b
        WHERE EXISTS (SELECT 1 FROM ticket t WHERE t.queue_branch_id = b.id)
          AND EXISTS (SELECT 1 FROM engineer e JOIN engineer_load l ON l.engineer_id = e.id
                      WHERE e.branch_id = b.id AND l.open_count < e.max_open)
        """
    )
    return row["active"] + row["queued"] == open_tickets and waiting_with_room == 0


async def start_worker(run: TestRun, log: Path) -> asyncio.subprocess.Process:
    # Output goes to a file, not a pipe read only at the end: a worker that logs more than a
    # pipe holds would block on its next write and never see the stop signal.
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dispatch.worker",
            cwd=REPO_ROOT,
            env={**os.environ, **run.env(), "AFTERCARE_LOG_LEVEL": "WARNING"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def consumers(run: TestRun) -> int:
    connection = await aio_pika.connect(run.amqp_url)
    async with connection:
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(f"{run.queue_prefix}dispatch", passive=True)
        except aio_pika.exceptions.ChannelClosed:
            return 0
        return queue.declaration_result.consumer_count


async def publish(run: TestRun, deliveries: list[events.Event]) -> None:
    connection = await aio_pika.connect(run.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            run.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(events.dumps(e), message_id=str(e.id), type=e.type),
                    routing_key=e.type,
                )
                for e in deliveries
            )
        )


def _url(run: TestRun) -> str:
    return (
        run.database_url.replace(
            "postgresql://", f"postgresql://aftercare_dispatch:{DEV_DB_PASSWORD}@"
        )
        + "?options=-csearch_path%3Ddispatch"
    )


async def at_least(count, n: int) -> bool:
    return await count >= n


async def _equals(conn, sql: str, expected: int) -> bool:
    return await conn.fetchval(sql) == expected
