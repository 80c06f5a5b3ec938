"""Consumed events become clocks; duplicates and any order give the same clocks (DESIGN §4)."""

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta

from shared import events, inbox
from shared.bus import handle_claimed, handler_transaction
from shared.ids import new_id
from shared.testing import wait_until
from sla_timer import sql
from sla_timer.handlers import HANDLERS
from tests.factories import Story
from tests.helpers import deliver, timers_of


def lifecycle(start) -> Story:
    story = Story(start=start, severity=2, on_site_required=True)
    story.created(coverage="business_hours")
    story.status(5, "new", "assigned")
    story.acknowledged(20)
    story.status(21, "assigned", "in_progress")
    story.updated(40, severity=(2, 1))
    story.status(60, "in_progress", "pending_customer")
    story.status(200, "pending_customer", "in_progress")
    story.checked_in(210)
    story.resolved(400)
    story.reopened(500)
    return story


def comparable(timers: dict) -> dict:
    keep = ("state", "outcome", "due_at", "stopped_at", "target_seconds", "segments", "pauses")
    return {k: {f: v[f] for f in keep} for k, v in timers.items()}


async def test_a_created_ticket_gets_its_clocks(app):
    story = Story(start=datetime.now(UTC))
    created = story.created()

    await deliver(app, created)

    timers = await timers_of(app, story.ticket_id)
    assert set(timers) == {("response", 1), ("resolution", 1), ("progress", 1)}
    response = timers["response", 1]
    assert response["state"] == "running"
    assert response["target_seconds"] == 3600
    assert response["due_at"] == story.start + timedelta(hours=1)
    assert [p["what"] for p in response["fire_plan"]] == ["warning", "warning", "breach"]


async def test_duplicated_and_shuffled_deliveries_give_the_same_clocks(app):
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    in_order = lifecycle(start)
    for event in in_order.events:
        await deliver(app, event)
    expected = comparable(await timers_of(app, in_order.ticket_id))

    for seed in range(3):
        story = lifecycle(start)
        rng = random.Random(seed)
        mixed = story.events + rng.sample(story.events, k=4)
        rng.shuffle(mixed)
        for event in mixed:
            await deliver(app, event)

        assert comparable(await timers_of(app, story.ticket_id)) == expected
    assert expected["resolution", 1]["state"] == "running"
    assert expected["observation", 1]["state"] == "cancelled"


async def test_a_redelivered_event_has_no_second_effect(app):
    story = Story(start=datetime.now(UTC))
    created = story.created()

    assert await deliver(app, created) is True
    assert await deliver(app, created) is False


async def test_events_before_ticket_created_wait_for_it(app):
    story = Story(start=datetime.now(UTC) - timedelta(minutes=30))
    created = story.created()
    ack = story.acknowledged(10)

    await deliver(app, ack)
    assert await timers_of(app, story.ticket_id) == {}
    await deliver(app, created)

    timers = await timers_of(app, story.ticket_id)
    assert timers["response", 1]["state"] == "stopped"
    assert timers["response", 1]["outcome"] == "met"


async def test_events_from_the_broker_reach_the_clocks(app):
    story = Story(start=datetime.now(UTC))
    created = story.created()

    await app.state.broker.publish(created.type, events.dumps(created), message_id=str(created.id))

    timers = await wait_until(lambda: timers_of(app, story.ticket_id), timeout=20)
    assert ("response", 1) in timers
    assert json.loads(events.dumps(created))["subject"] == str(story.ticket_id)


async def test_a_fact_committed_while_ticket_created_waits_for_the_lock_is_counted(app):
    """Two replicas: one holds the ticket's lock with an acknowledgement not yet committed
    while the other handles ticket.created; the latter must derive the clocks with it."""
    story = Story(start=datetime.now(UTC) - timedelta(minutes=30))
    created = story.created()
    ack = story.acknowledged(10)

    async with app.state.sessionmaker() as first:
        await inbox.claim(first, ack)
        await HANDLERS[type(ack)](first, ack)  # holds the ticket's lock until it commits

        async def second() -> None:
            await deliver(app, created)

        waiting = asyncio.create_task(second())
        await asyncio.sleep(0.5)
        assert not waiting.done()  # blocked on the lock
        await first.commit()
    await asyncio.wait_for(waiting, 10)

    timers = await timers_of(app, story.ticket_id)
    assert timers["response", 1]["state"] == "stopped"
    assert timers["response", 1]["outcome"] == "met"


async def test_a_batch_in_one_transaction_gives_the_same_clocks_as_one_by_one(app):
    """As shared.bus.Consumer.handle_batch: one claim for the batch, the handlers in turn in
    one transaction (straight on asyncpg: sla-timer's handlers are driver-only), one commit;
    several tickets and every event of each in the same batch. (In the future, so that the
    scanner fires nothing in between the one-by-one deliveries.)"""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    expected = comparable(await _delivered_one_by_one(app, lifecycle(start)))
    stories = [lifecycle(start) for _ in range(3)]
    batch = [event for story in stories for event in story.events]
    random.Random(7).shuffle(batch)

    handlers = [HANDLERS[type(e)] for e in batch]
    async with handler_transaction(app.state.sessionmaker, handlers) as session:
        firsts = await inbox.claim_many(session, batch)
        await handle_claimed(
            session,
            [(None, e, h) for e, h, first in zip(batch, handlers, firsts, strict=True) if first],
        )

    for story in stories:
        assert comparable(await timers_of(app, story.ticket_id)) == expected


async def _delivered_one_by_one(app, story: Story) -> dict:
    for event in story.events:
        await deliver(app, event)
    return await timers_of(app, story.ticket_id)


_PROBE = """
INSERT INTO ticket_fact (event_id, ticket_id, source, seq, type, at)
VALUES ($1, $1, 'test', 1, 'test.probe', now())
"""
_COUNT = "SELECT count(*) FROM ticket_fact WHERE event_id = $1"


async def test_the_handlers_connection_follows_the_sessions_transaction(app):
    probe = new_id()
    async with app.state.sessionmaker() as session:
        conn = await sql.driver(session)
        assert await sql.driver(session) is conn
        await conn.execute(_PROBE, probe)
        await session.rollback()

        again = await sql.driver(session)
        assert again.is_in_transaction()
        assert await again.fetchval(_COUNT, probe) == 0
        await again.execute(_PROBE, probe)
        await session.commit()
    async with app.state.sessionmaker() as session:
        assert await (await sql.driver(session)).fetchval(_COUNT, probe) == 1
