"""The scanner fires each warning, breach and observation end once, with its true time, and
any number of scanners share the work (FOR UPDATE SKIP LOCKED)."""

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg

from shared.testing import wait_until
from sla_timer.scanner import TimerScanner
from tests.factories import Story
from tests.helpers import deliver, emitted, timers_of


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_deadline_that_passed_while_down_fires_once_with_its_true_breach_time(app):
    story = Story(start=datetime.now(UTC) - timedelta(hours=3))
    await deliver(app, story.created())

    async def breaches():
        found = await emitted(app, story.ticket_id, "sla.breached")
        return found if {e["data"]["timer_kind"] for e in found} >= {"response", "progress"} else []

    found = await wait_until(breaches)
    await asyncio.sleep(0.5)

    response = [e for e in await emitted(app, story.ticket_id, "sla.breached")
                if e["data"]["timer_kind"] == "response"]  # fmt: skip
    assert len(response) == 1
    assert ts(response[0]["data"]["breached_at"]) == story.start + timedelta(hours=1)
    assert ts(response[0]["data"]["due_at"]) == story.start + timedelta(hours=1)
    # The warnings were overtaken by the breach: recorded as skipped, never sent.
    assert await emitted(app, story.ticket_id, "sla.warning") == []
    timers = await timers_of(app, story.ticket_id)
    assert timers["response", 1]["outcome"] == "breached"
    assert timers["response", 1]["fire_plan"] == []
    assert [e["seq"] for e in found] == sorted(e["seq"] for e in found)


async def test_a_warning_fires_at_its_threshold_and_only_once(app):
    story = Story(start=datetime.now(UTC) - timedelta(minutes=50))
    await deliver(app, story.created())

    async def warned():
        return await emitted(app, story.ticket_id, "sla.warning")

    warnings = await wait_until(warned)
    await asyncio.sleep(0.5)

    assert [w["data"]["threshold"] for w in await warned()] == [0.75]
    assert warnings[0]["data"]["timer_kind"] == "response"
    timers = await timers_of(app, story.ticket_id)
    assert [p["what"] for p in timers["response", 1]["fire_plan"]] == ["warning", "breach"]


async def test_observation_elapses_once(app):
    story = Story(start=datetime.now(UTC) - timedelta(days=8))
    await deliver(app, story.created())
    await deliver(app, story.resolved(60))

    elapsed = await wait_until(lambda: emitted(app, story.ticket_id, "sla.observation_elapsed"))

    assert len(elapsed) == 1
    assert ts(elapsed[0]["data"]["elapsed_at"]) == story.at(60) + timedelta(days=7)
    assert (await timers_of(app, story.ticket_id))["observation", 1]["outcome"] == "elapsed"


async def test_a_stopped_clock_whose_deadline_had_passed_still_reports_the_breach(app):
    story = Story(start=datetime.now(UTC) - timedelta(hours=4))
    created, ack = story.created(), story.acknowledged(90)
    await deliver(app, ack)
    await deliver(app, created)

    async def response_breach():
        found = await emitted(app, story.ticket_id, "sla.breached")
        return [e for e in found if e["data"]["timer_kind"] == "response"]

    found = await wait_until(response_breach)
    assert ts(found[0]["data"]["breached_at"]) == story.start + timedelta(hours=1)


async def test_three_scanners_at_once_fire_every_point_exactly_once(app, settings):
    stories = [Story(start=datetime.now(UTC) - timedelta(hours=3)) for _ in range(60)]
    scanners = [TimerScanner(dsn=settings.libpq_database_url(), batch_size=7) for _ in range(2)]
    conns = [await asyncpg.connect(settings.libpq_database_url()) for _ in scanners]
    try:
        for story in stories:
            await deliver(app, story.created())

        async def drain(scanner, conn):
            for _ in range(200):
                await scanner.scan_once(conn)
                await asyncio.sleep(0)

        await asyncio.gather(*(drain(s, c) for s, c in zip(scanners, conns, strict=True)))

        async def all_fired():
            counts = Counter()
            for story in stories:
                for event in await emitted(app, story.ticket_id, "sla.breached"):
                    counts[(story.ticket_id, event["data"]["timer_kind"])] += 1
            return counts if len(counts) == 2 * len(stories) else None

        counts = await wait_until(all_fired, timeout=30)
    finally:
        for conn in conns:
            await conn.close()

    assert set(counts.values()) == {1}


async def test_fire_lag_is_exposed_as_a_histogram(client):
    text_ = (await client.get("/metrics")).text

    assert "aftercare_sla_fire_lag_seconds_bucket" in text_
    assert "aftercare_sla_breaches_total" in text_


async def test_one_batch_numbers_several_events_of_a_ticket_gap_free(app, settings):
    story = Story(start=datetime.now(UTC) - timedelta(hours=3))
    await deliver(app, story.created())
    scanner = TimerScanner(dsn=settings.libpq_database_url(), batch_size=50)
    conn = await asyncpg.connect(settings.libpq_database_url())
    try:
        await scanner.scan_once(conn)
    finally:
        await conn.close()

    found = await wait_until(lambda: emitted(app, story.ticket_id, "sla.breached"))
    everything = await emitted(app, story.ticket_id)

    assert len(found) == 2  # response and progress, 1 h and 2 h after the report
    assert [e["seq"] for e in everything] == list(range(1, len(everything) + 1))
