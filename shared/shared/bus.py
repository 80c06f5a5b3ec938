"""RabbitMQ plumbing (DESIGN §4): the topology, a confirming publisher, the consumer.

Topology, for a service queue ``Q`` (``<prefix><service>``):

* exchange ``aftercare.events`` (topic, durable); routing key = event type;
* ``Q``: quorum queue bound to exactly the types the service handles; replicas compete on it;
* ``Q.retry.<n>``: one quorum queue per backoff step (1 s, 10 s, 1 min, 10 min); a message waits
  out the queue's TTL and is dead-lettered at least once back to ``Q`` through the default
  exchange, which routes by queue name, so a retry reaches only the service that failed;
* ``Q.parked``: where a message lands after its last retry, with the error in its headers,
  until ``replay`` sends it back.

The consumer handles one event in one database transaction together with the inbox claim and
acks only after the commit; a poison message moves on to retry and parking and never blocks the
queue.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from datetime import UTC, datetime
from typing import Any

import aio_pika
import aiormq.connection
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import db, events, inbox, metrics
from shared import logging as aclog
from shared.db import is_transient
from shared.settings import ServiceSettings

log = logging.getLogger("aftercare.bus")

Handler = Callable[[AsyncSession, Any], Awaitable[None]]
Prepare = Callable[[AsyncSession, list[Any]], Awaitable[None]]


def prepared_by(prepare: Prepare) -> Callable[[Handler], Handler]:
    """Gives a handler a preparation for several events at once.

    In a batch transaction the consumer calls ``prepare(session, events)`` once for each run of
    two or more consecutive first-claimed events that go to this handler, and then the handler
    for each of them in turn, as always. ``prepare`` does in one statement what the handler
    would do in one per event (insert rows, take locks, read what the decisions need) and
    leaves its results in ``session.info`` for the handler; a handler must still do the whole
    work itself when it finds nothing prepared (an event alone, or handled again after a
    failed batch). Nothing else runs between the preparation and the run's handlers, so the
    batch keeps its order.
    """

    def mark(handler: Handler) -> Handler:
        handler.prepare = prepare  # type: ignore[attr-defined]
        return handler

    return mark


def driver_only(handler: Handler) -> Handler:
    """Marks a handler whose work goes through ``shared.db.driver`` only (and ``session.info``):
    a batch of such handlers runs in a transaction straight on asyncpg (``shared.db.transaction``),
    without a session. A handler that reaches for the ORM must not be marked."""
    handler.driver_only = True  # type: ignore[attr-defined]
    return handler


def handler_transaction(
    sessionmaker: async_sessionmaker[AsyncSession], handlers: Iterable[Handler]
) -> contextlib.AbstractAsyncContextManager[Any]:
    """The transaction a consumer runs these handlers in, committed when the block ends: one
    straight on asyncpg when they are all :func:`driver_only`, else a session's."""
    if all(getattr(h, "driver_only", False) for h in handlers):
        return db.transaction(sessionmaker.kw["bind"])
    return _session_transaction(sessionmaker)


@contextlib.asynccontextmanager
async def _session_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session
        await session.commit()


def runs(items: Sequence[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]]:
    """``items`` (each ending in its handler) cut into maximal runs of consecutive items with
    the same handler, in order."""
    out: list[list[tuple[Any, ...]]] = []
    for item in items:
        if out and out[-1][-1][-1] is item[-1]:
            out[-1].append(item)
        else:
            out.append([item])
    return out


async def handle_claimed(
    session: AsyncSession, claimed: Sequence[tuple[Mapping | None, events.Event, Handler]]
) -> None:
    """Runs the handlers of a batch's first-claimed events (headers, event, handler) in order
    in the session's transaction; a run of a prepared handler (:func:`prepared_by`) is
    prepared once first."""
    for run in runs(claimed):
        prepare = getattr(run[0][2], "prepare", None)
        if prepare is not None and len(run) > 1:
            await prepare(session, [event for _, event, _ in run])
        for headers, event, handler in run:
            with _event_context(headers, event):
                await handler(session, event)


# Frames a connection queues for its writer task (aiormq's default: 10). A publish that finds
# the queue full waits for the writer holding its channel's lock, so the rest of a relay's
# batch queues behind it for the lock, one publish per turn of the event loop (see
# Broker._confirmed). A relay has at most a batch (relay_batch_size) of publishes in flight
# and a consumer one ack per batch, so this bound is never reached, and memory stays bounded.
aiormq.connection.Connection.FRAME_BUFFER_SIZE = 1024

ATTEMPT_HEADER = "x-aftercare-attempt"
ERROR_HEADER = "x-aftercare-error"
PARKED_AT_HEADER = "x-aftercare-parked-at"
QUORUM = {"x-queue-type": "quorum"}


def retry_queue(queue: str, step: int) -> str:
    return f"{queue}.retry.{step}"


def parked_queue(queue: str) -> str:
    return f"{queue}.parked"


def next_step(attempt: int, delays: Sequence[float]) -> int | None:
    """The retry step after ``attempt`` failures (0-based), or None when it is time to park.

    ``attempt`` counts the failures so far, so the first failure (attempt 0 in the headers)
    waits ``delays[0]``, and a message that failed ``len(delays) + 1`` times is parked.
    """
    return attempt if 0 <= attempt < len(delays) else None


class Broker:
    """One connection per process, a confirming channel for publishing, and the topology.

    ``start()`` returns at once; a supervisor connects in the background and reconnects with
    backoff whenever the connection drops, every step bounded by a timeout. aio-pika's robust
    connection is not used: after a broker restart it can wait forever on a half-open
    handshake, and a publish issued meanwhile waits with it. Here a publish fails at once while
    the broker is away (the outbox keeps the event), and consumers restart on each new
    connection.
    """

    CONNECT_TIMEOUT = 10.0
    PUBLISH_TIMEOUT = 10.0

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.connection: aio_pika.abc.AbstractConnection | None = None
        self.channel: aio_pika.abc.AbstractChannel | None = None
        self.exchange: aio_pika.abc.AbstractExchange | None = None
        self.ready = asyncio.Event()
        # Set when the current connection drops; replaced on every connect. (A plain aio-pika
        # connection runs its close callbacks on a remote close but never resolves closed().)
        self.lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="broker-connection")

    async def _supervise(self) -> None:
        backoff = 0.5
        while True:
            try:
                await asyncio.wait_for(self.connect(), self.CONNECT_TIMEOUT + 5)
                backoff = 0.5
                await self.lost.wait()
                log.warning("broker connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("broker unreachable, retrying in %.1fs: %s", backoff, _short(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self.ready.clear()
            await self._drop()

    async def connect(self) -> None:
        """Opens the connection, the confirming channel and the exchange."""
        await self._drop()
        connection = await aio_pika.connect(
            self.settings.amqp_url.get_secret_value(),
            client_properties={"connection_name": f"aftercare-{self.settings.service}"},
            timeout=self.CONNECT_TIMEOUT,
        )
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(
                self.settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
        except BaseException:
            await _close_quietly(connection)
            raise
        lost = asyncio.Event()
        connection.close_callbacks.add(lambda *_: lost.set())
        self.lost = lost
        self.connection, self.channel, self.exchange = connection, channel, exchange
        self.ready.set()

    async def _drop(self) -> None:
        connection, self.connection, self.channel, self.exchange = self.connection, None, None, None
        if connection is not None:
            await _close_quietly(connection)

    async def wait_ready(self) -> None:
        await self.ready.wait()

    @property
    def is_connected(self) -> bool:
        return (
            self.ready.is_set()
            and self.connection is not None
            and not self.connection.is_closed
            and self.channel is not None
            and not self.channel.is_closed
        )

    async def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        """Publishes one event to the exchange and returns once the broker confirmed it."""
        await self._confirmed(
            self.settings.exchange,
            routing_key,
            _message(body, message_id=message_id, type_=routing_key, headers=headers),
        )

    async def send_to_queue(self, queue: str, message: aio_pika.Message) -> None:
        """Publishes straight to a named queue (default exchange) and waits for the confirm."""
        await self._confirmed("", queue, message)

    async def _confirmed(self, exchange: str, routing_key: str, message: aio_pika.Message) -> None:
        """Sends the message and waits for the broker's confirm, without waiting, under the
        channel's lock, for its frames to reach the socket.

        aio-pika's ``Exchange.publish`` holds the channel's lock until the connection's writer
        task has written the frames, which takes two turns of the event loop; publishes on a
        channel then go one at a time, two turns each. A relay publishing a batch in a process
        that also serves requests got through one publish per two turns of a loop busy with
        requests, and fell behind at a fraction of the CPU it had (intake's outbox grew under
        bench/ticket_flow while intake's process was half idle). Enqueued without that wait,
        a whole batch goes out in one turn; the confirm still comes only once the broker has
        the message, and a connection lost before it fails the publish, as before.
        """
        channel = self.channel
        if channel is None or not self.is_connected:
            raise ConnectionError("broker not connected")
        underlay = await channel.get_underlay_channel()
        await underlay.basic_publish(
            message.body,
            exchange=exchange,
            routing_key=routing_key,
            properties=message.properties,
            mandatory=False,
            timeout=self.PUBLISH_TIMEOUT,
            wait=False,
        )

    async def declare_service_queues(
        self, queue: str, types: Iterable[str], delays: Sequence[float]
    ) -> None:
        """Declares the service queue, its retry queues and its parked queue, and binds it."""
        channel, exchange = self.channel, self.exchange
        if channel is None or exchange is None:
            raise ConnectionError("broker not connected")
        main = await channel.declare_queue(queue, durable=True, arguments=QUORUM)
        for step, delay in enumerate(delays):
            await channel.declare_queue(
                retry_queue(queue, step),
                durable=True,
                arguments={
                    **QUORUM,
                    "x-message-ttl": int(delay * 1000),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": queue,
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                },
            )
        await channel.declare_queue(parked_queue(queue), durable=True, arguments=QUORUM)
        for type_ in sorted(set(types)):
            await main.bind(exchange, routing_key=type_)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._drop()


async def _close_quietly(connection: aio_pika.abc.AbstractConnection) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(connection.close(), 5)


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _message(
    body: bytes,
    *,
    message_id: str | None,
    type_: str | None,
    headers: Mapping[str, Any] | None = None,
) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message_id,
        type=type_,
        headers=dict(headers or {}),
    )


@contextlib.contextmanager
def _event_context(headers: Mapping | None, event: events.Event) -> Iterator[None]:
    """The event's ids and trace (from its delivery's ``headers``) for logs and for the events
    its handler emits, for the duration of its handling only (a later event on the same task
    must not inherit them)."""
    tokens = (
        aclog.event_id.set(str(event.id)),
        aclog.ticket_id.set(str(event.subject)),
        aclog.traceparent.set((headers or {}).get("traceparent")),
    )
    try:
        yield
    finally:
        aclog.traceparent.reset(tokens[2])
        aclog.ticket_id.reset(tokens[1])
        aclog.event_id.reset(tokens[0])


class Acker:
    """Acknowledges one channel's deliveries with as few frames as correctness allows.

    Delivery tags on a channel count up from 1. A delivery is *settled* once its handling is
    final: committed (to be acked) or requeued (nacked at once, on its own). One ``basic.ack``
    with ``multiple`` then covers every delivery up to the highest tag below which all are
    settled, so a delivery another batch is still handling is never acked early, and a batch
    costs the broker one ack instead of one per event (about 40 % of its CPU per delivery on a
    quorum queue, measured here).
    """

    def __init__(self) -> None:
        self.floor = 0  # every tag <= floor is settled
        self.acked = 0  # the highest tag acked on the wire
        self._settled: set[int] = set()
        self._to_ack: dict[int, AbstractIncomingMessage] = {}
        self._lock = asyncio.Lock()

    async def settle(self, message: AbstractIncomingMessage, *, ack: bool) -> None:
        tag = message.delivery_tag
        if tag is None:  # a message not from a consumer: nothing to coordinate
            await (message.ack() if ack else message.nack(requeue=True))
            return
        if ack:
            self._to_ack[tag] = message
        else:
            await message.nack(requeue=True)
        self._settled.add(tag)
        floor = self.floor
        while floor + 1 in self._settled:
            floor += 1
            self._settled.remove(floor)
        if floor == self.floor:
            return
        self.floor = floor
        ready = [t for t in self._to_ack if t <= floor]
        if not ready:
            return
        last = self._to_ack[max(ready)]
        for t in ready:
            del self._to_ack[t]
        async with self._lock:  # frames in tag order: a late smaller ack would be unknown
            if last.delivery_tag > self.acked:
                self.acked = last.delivery_tag
                await last.ack(multiple=True)


class Consumer:
    """Runs the service's handlers on its queue.

    Deliveries are handled in batches: one transaction claims each event in the inbox and runs
    its handler, one commit covers the batch, and every delivery is acked after that commit.
    A batch amortises the commit (and its WAL flush) over many events, which is where a
    consumer's time goes. If any handler in a batch fails, the batch is rolled back and its
    deliveries are handled again one per transaction, so the failing one alone goes to retry
    and parking and the others commit (DESIGN §4).
    """

    def __init__(
        self,
        *,
        settings: ServiceSettings,
        broker: Broker,
        sessionmaker: async_sessionmaker[AsyncSession],
        handlers: Mapping[type[events.Event], Handler],
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.sessionmaker = sessionmaker
        self.handlers = {cls.model_fields["type"].default: fn for cls, fn in handlers.items()}
        self.queue = settings.queue
        self.delays = tuple(settings.retry_delays)
        self.batch_size = max(1, settings.consumer_batch_size)
        self.linger = max(0.0, settings.consumer_linger_seconds)
        self.consuming = asyncio.Event()
        self._inbound: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._gathering = asyncio.Lock()
        self._enough = asyncio.Event()  # set when a lingering batch need not wait any longer
        self._ackers: dict[int, Acker] = {}  # id(message) -> its channel's acker

    async def run(self) -> None:
        """Consumes until cancelled: on every (re)connection declares the topology and starts
        consuming; when the connection drops, waits for the next one."""
        workers = [
            asyncio.create_task(self._work(), name=f"consumer-batch-{n}")
            for n in range(max(1, self.settings.consumer_concurrency))
        ]
        try:
            while True:
                await self.broker.wait_ready()
                connection, lost = self.broker.connection, self.broker.lost
                if connection is None or lost.is_set():
                    await asyncio.sleep(0.1)
                    continue
                try:
                    await self._consume(connection)
                    await lost.wait()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("consumer setup failed, retrying: %s", _short(exc))
                    await asyncio.sleep(1.0)
                finally:
                    self.consuming.clear()
                    # Deliveries of the lost channel are redelivered by the broker; acking
                    # them on a dead channel is impossible, so they are dropped here.
                    while not self._inbound.empty():
                        self._inbound.get_nowait()
                    self._ackers.clear()
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _consume(self, connection: aio_pika.abc.AbstractConnection) -> None:
        await self.broker.declare_service_queues(self.queue, self.handlers, self.delays)
        channel = await connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=self.settings.consumer_prefetch)
        queue = await channel.get_queue(self.queue, ensure=False)
        acker = Acker()

        async def enqueue(message: AbstractIncomingMessage) -> None:
            self._ackers[id(message)] = acker
            self._inbound.put_nowait(message)
            if self._gathered():
                self._enough.set()

        await queue.consume(enqueue)
        self.consuming.set()
        log.info("consuming %s: %s", self.queue, ", ".join(sorted(self.handlers)))

    def _gathered(self) -> bool:
        """Whether a lingering batch has all it can get: a full batch queued, or every delivery
        the prefetch window allows already here (the broker sends more only after acks)."""
        return (
            self._inbound.qsize() >= self.batch_size - 1
            or len(self._ackers) >= self.settings.consumer_prefetch
        )

    async def _settle(self, message: AbstractIncomingMessage, *, ack: bool) -> None:
        """Acks (``ack``) or requeues a delivery through its channel's :class:`Acker`."""
        acker = self._ackers.pop(id(message), None)
        if acker is None:  # its channel is gone; the broker redelivers it
            await (message.ack() if ack else message.nack(requeue=True))
            return
        await acker.settle(message, ack=ack)

    async def _work(self) -> None:
        while True:
            # One task gathers at a time, the others handle what they gathered: two tasks
            # lingering side by side would split the deliveries of one linger between them.
            async with self._gathering:
                batch = [await self._inbound.get()]
                if self.linger and not self._gathered():
                    self._enough.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._enough.wait(), self.linger)
                while len(batch) < self.batch_size and not self._inbound.empty():
                    batch.append(self._inbound.get_nowait())
            try:
                await self.handle_batch(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer batch of %d failed outside any handler", len(batch))

    async def handle_batch(self, batch: Sequence[AbstractIncomingMessage]) -> None:
        """Handles deliveries in one transaction; falls back to one by one on a failure."""
        ready = []
        for message in batch:
            item = await self._prepare(message)
            if item is not None:
                ready.append(item)
        if not ready:
            return
        if len(ready) == 1:
            await self.on_message(*ready[0])
            return
        start = time.perf_counter()
        try:
            async with handler_transaction(self.sessionmaker, (h for _, _, h in ready)) as session:
                firsts = await inbox.claim_many(session, [event for _, event, _ in ready])
                await handle_claimed(
                    session,
                    [
                        (message.headers, event, handler)
                        for (message, event, handler), first in zip(ready, firsts, strict=True)
                        if first
                    ],
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_transient(exc):
                log.warning(
                    "batch of %d requeued, database unavailable: %s", len(ready), _short(exc)
                )
                await asyncio.sleep(1.0)
                for message, event, _ in ready:
                    await self._settle(message, ack=False)
                    metrics.EVENTS_CONSUMED.labels(type=event.type, outcome="retry").inc()
                return
            log.info("batch of %d rolled back (%s); handling one by one", len(ready), _short(exc))
            for item in ready:
                await self.on_message(*item)
            return
        elapsed = (time.perf_counter() - start) / len(ready)
        for (message, event, _), first in zip(ready, firsts, strict=True):
            await self._settle(message, ack=True)
            metrics.EVENTS_CONSUMED.labels(
                type=event.type, outcome="ok" if first else "duplicate"
            ).inc()
            metrics.EVENT_HANDLE_SECONDS.labels(type=event.type).observe(elapsed)

    async def _prepare(
        self, message: AbstractIncomingMessage
    ) -> tuple[AbstractIncomingMessage, events.Event, Handler] | None:
        """The parsed event and its handler, or None after parking what cannot be handled."""
        try:
            event = events.parse(message.body)
        except (ValidationError, events.UnknownEventType, ValueError) as exc:
            await self._park(message, f"unreadable event: {exc}", type_=message.type or "unknown")
            return None
        handler = self.handlers.get(event.type)
        if handler is None:
            await self._park(message, f"no handler for {event.type}", type_=event.type)
            return None
        return message, event, handler

    async def on_message(
        self, message: AbstractIncomingMessage, event: events.Event, handler: Handler
    ) -> None:
        """One delivery in its own transaction (a lone delivery, or a failed batch's)."""
        start = time.perf_counter()
        with _event_context(message.headers, event):
            try:
                async with handler_transaction(self.sessionmaker, [handler]) as session:
                    first = await inbox.claim(session, event)
                    if first:
                        await handler(session, event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._failed(message, event, exc)
                return
        await self._settle(message, ack=True)
        metrics.EVENTS_CONSUMED.labels(
            type=event.type, outcome="ok" if first else "duplicate"
        ).inc()
        metrics.EVENT_HANDLE_SECONDS.labels(type=event.type).observe(time.perf_counter() - start)

    async def _failed(
        self, message: AbstractIncomingMessage, event: events.Event, exc: Exception
    ) -> None:
        if is_transient(exc):
            # The database or network is away: requeue without spending an attempt (DESIGN §4
            # bounds retries of failing handlers, not of outages), after a pause.
            log.warning("transient failure on %s, requeued: %s", event.type, exc)
            await asyncio.sleep(1.0)
            await self._settle(message, ack=False)
            metrics.EVENTS_CONSUMED.labels(type=event.type, outcome="retry").inc()
            return
        attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 0))  # type: ignore[arg-type]
        step = next_step(attempt, self.delays)
        error = f"{type(exc).__name__}: {exc}"[:1000]
        if step is None:
            log.error(
                "handler failed for %s, parked after %d attempts: %s",
                event.type,
                attempt + 1,
                error,
            )
            await self._park(message, error, type_=event.type, attempt=attempt + 1)
            return
        log.warning(
            "handler failed for %s (attempt %d), retry in %ss: %s",
            event.type,
            attempt + 1,
            self.delays[step],
            error,
            exc_info=exc,
        )
        headers = {**(message.headers or {}), ATTEMPT_HEADER: attempt + 1, ERROR_HEADER: error}
        await self.broker.send_to_queue(
            retry_queue(self.queue, step),
            _message(
                message.body, message_id=message.message_id, type_=event.type, headers=headers
            ),
        )
        await self._settle(message, ack=True)
        metrics.EVENTS_CONSUMED.labels(type=event.type, outcome="retry").inc()

    async def _park(
        self, message: AbstractIncomingMessage, error: str, *, type_: str, attempt: int = 0
    ) -> None:
        headers = {
            **(message.headers or {}),
            ATTEMPT_HEADER: attempt,
            ERROR_HEADER: error[:1000],
            PARKED_AT_HEADER: datetime.now(UTC).isoformat(),
        }
        await self.broker.send_to_queue(
            parked_queue(self.queue),
            _message(message.body, message_id=message.message_id, type_=type_, headers=headers),
        )
        await self._settle(message, ack=True)
        metrics.EVENTS_CONSUMED.labels(type=type_, outcome="parked").inc()


async def replay_parked(settings: ServiceSettings, *, limit: int | None = None) -> int:
    """Sends the messages parked at this moment back to the service queue, attempts reset.

    Only what is parked when the replay starts is moved, so a message that fails again parks
    again later instead of looping here.
    """
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    try:
        channel = await connection.channel(publisher_confirms=True)
        parked = await channel.declare_queue(
            parked_queue(settings.queue), durable=True, arguments=QUORUM
        )
        waiting = parked.declaration_result.message_count or 0
        if limit is not None:
            waiting = min(waiting, limit)
        moved = 0
        for _ in range(waiting):
            message = await parked.get(no_ack=False, fail=False)
            if message is None:
                break
            headers = {
                k: v
                for k, v in (message.headers or {}).items()
                if k not in (ATTEMPT_HEADER, ERROR_HEADER, PARKED_AT_HEADER)
            }
            await channel.default_exchange.publish(
                _message(
                    message.body, message_id=message.message_id, type_=message.type, headers=headers
                ),
                routing_key=settings.queue,
                timeout=10,
            )
            await message.ack()
            moved += 1
            metrics.EVENTS_REPLAYED.inc()
        return moved
    finally:
        await connection.close()


def main() -> None:
    from shared.services import lookup

    parser = argparse.ArgumentParser(prog="python -m shared.bus")
    sub = parser.add_subparsers(dest="command", required=True)
    replay = sub.add_parser("replay", help="send a service's parked messages back to its queue")
    replay.add_argument("--service", required=True)
    replay.add_argument("--limit", type=int)
    args = parser.parse_args()
    info = lookup(args.service)

    class _Settings(ServiceSettings):
        service = info.name
        db_schema = info.schema

    moved = asyncio.run(replay_parked(_Settings(), limit=args.limit))
    print(f"replayed {moved} parked message(s) to {_Settings().queue}")


if __name__ == "__main__":
    main()
