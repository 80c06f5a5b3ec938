"""Dispatch's consumer on real RabbitMQ: duplicates and reordering have one effect; a poison
message is retried, parked, and replayed, while other events keep flowing (DESIGN §4)."""

import asyncio
import random
from datetime import UTC, datetime

import aio_pika
from sqlalchemy import text

from dispatch.handlers import HANDLERS, on_ticket_created
from dispatch.settings import Settings
from shared import events
from shared.bus import Broker, Consumer, parked_queue
from shared.ids import new_id
from shared.testing import wait_until


def ticket_created(severity: int = 2, region: str = "310000") -> events.TicketCreated:
    ticket_id = new_id()
    return events.TicketCreated(
        subject=ticket_id,
        seq=1,
        data=events.TicketCreatedData(
            ticket_id=ticket_id,
            ticket_number=100001,
            severity=severity,
            organization_id=new_id(),
            subject="UPS alarm",
            region=region,
            created_at=datetime.now(UTC),
        ),
    )


async def publish(test_run, *evts: events.Event, exchange: str | None = None) -> None:
    connection = await aio_pika.connect(test_run.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            exchange or test_run.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        for e in evts:
            await exchange.publish(
                aio_pika.Message(events.dumps(e), message_id=str(e.id), type=e.type),
                routing_key=e.type,
            )


async def projection(app, ticket_id):
    async with app.state.sessionmaker() as session:
        result = await session.execute(
            text("SELECT count(*) AS n, max(severity) AS severity FROM ticket WHERE id = :id"),
            {"id": ticket_id},
        )
        return result.one()


async def inbox_count(app, event_id) -> int:
    async with app.state.sessionmaker() as session:
        return (
            await session.execute(
                text("SELECT count(*) FROM inbox WHERE event_id = :id"), {"id": event_id}
            )
        ).scalar_one()


async def test_ticket_created_is_projected(app, test_run):
    event = ticket_created(severity=1)

    await publish(test_run, event)

    row = await wait_until(lambda: _present(app, event.subject))
    assert (row.n, row.severity) == (1, 1)


async def test_the_same_event_delivered_twice_has_one_effect(app, test_run):
    event = ticket_created()

    await publish(test_run, event, event, event)

    await wait_until(lambda: _present(app, event.subject))
    await wait_until(lambda: _consumed_all(app, [event]))
    await asyncio.sleep(0.5)
    assert (await projection(app, event.subject)).n == 1
    assert await inbox_count(app, event.id) == 1


async def test_shuffled_and_duplicated_events_reach_the_same_state(app, test_run):
    batch = [ticket_created(severity=random.randint(1, 4)) for _ in range(30)]
    deliveries = batch * 3
    random.shuffle(deliveries)

    await publish(test_run, *deliveries)

    await wait_until(lambda: _consumed_all(app, batch), timeout=20)
    for e in batch:
        row = await projection(app, e.subject)
        assert (row.n, row.severity) == (1, e.data.severity)


async def test_failing_handler_parks_after_retries_and_replay_brings_it_back(app, test_run):
    # Its own exchange and queue, so the app's consumer (same inbox) never sees these events.
    settings = Settings(
        exchange=test_run.exchange + ".poison", queue_prefix=test_run.queue_prefix + "poison."
    )
    poison, healthy = ticket_created(), ticket_created()
    broken = {"on": True}

    async def flaky(session, event):
        if broken["on"] and event.subject == poison.subject:
            raise RuntimeError("projection store refused the row")
        await on_ticket_created(session, event)

    broker = Broker(settings)
    await broker.connect()
    consumer = Consumer(
        settings=settings,
        broker=broker,
        sessionmaker=app.state.sessionmaker,
        handlers={**HANDLERS, events.TicketCreated: flaky},
    )
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(consumer.consuming.wait(), 10)
        await publish(test_run, poison, healthy, exchange=settings.exchange)

        await wait_until(lambda: _present(app, healthy.subject))
        parked = await wait_until(lambda: _parked(test_run, settings.queue), timeout=20)
        assert parked == 1
        assert (await projection(app, poison.subject)).n == 0

        broken["on"] = False
        from shared.bus import replay_parked

        assert await replay_parked(settings) == 1
        await wait_until(lambda: _present(app, poison.subject))
        assert await _parked(test_run, settings.queue) == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await broker.close()
        await _delete_queues(test_run, settings.queue)


async def _present(app, ticket_id):
    row = await projection(app, ticket_id)
    return row if row.n else None


async def _consumed_all(app, batch) -> bool:
    async with app.state.sessionmaker() as session:
        n = (
            await session.execute(
                text("SELECT count(*) FROM inbox WHERE event_id = ANY(:ids)"),
                {"ids": [e.id for e in batch]},
            )
        ).scalar_one()
    return n == len(batch)


async def _parked(test_run, queue: str) -> int:
    connection = await aio_pika.connect(test_run.amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(
            parked_queue(queue), durable=True, arguments={"x-queue-type": "quorum"}
        )
        return declared.declaration_result.message_count


async def _delete_queues(test_run, queue: str) -> None:
    connection = await aio_pika.connect(test_run.amqp_url)
    async with connection:
        for name in (queue, parked_queue(queue), f"{queue}.retry.0", f"{queue}.retry.1"):
            channel = await connection.channel()
            await channel.queue_delete(name)
        channel = await connection.channel()
        await channel.exchange_delete(test_run.exchange + ".poison")
