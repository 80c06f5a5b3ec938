"""Consumed events become clocks; duplicates and any order give the same clocks (DESIGN §4)."""

import json
import random
from datetime import UTC, datetime, timedelta

from shared import events
from shared.testing import wait_until
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
