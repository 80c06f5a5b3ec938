"""Test support (DESIGN §10, STYLE rule 9): every test run gets its own database and its own
exchange and queue names, so it disturbs neither a running stack nor another run.

Used by each suite's ``conftest.py``::

    run = TestRun.from_environment()     # names derived from a fresh run id
    run.apply()                          # exports AFTERCARE_* for Settings() and subprocesses
    await run.prepare(["intake"])        # database, roles, schemas, migrations
    ...
    await run.teardown()                 # drop the database, the broker objects and the files
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aio_pika

from shared import provision
from shared.bus import parked_queue, retry_queue
from shared.services import REPO_ROOT, SERVICES, lookup
from shared.settings import DEV_DB_PASSWORD

T = TypeVar("T")


@dataclass
class TestRun:
    """The names that isolate one test run."""

    __test__ = False  # not a test class, despite the name

    run_id: str
    database_url: str
    exchange: str
    queue_prefix: str
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, run_id: str | None = None) -> TestRun:
        rid = run_id or uuid.uuid4().hex[:10]
        base = os.environ.get("AFTERCARE_TEST_DATABASE_HOST", "127.0.0.1:5432")
        return cls(
            run_id=rid,
            database_url=f"postgresql://{base}/aftercare_t_{rid}",
            exchange=f"aftercare.events.t_{rid}",
            queue_prefix=f"t_{rid}.",
            amqp_url=os.environ.get("AFTERCARE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        )

    @property
    def database(self) -> str:
        return self.database_url.rsplit("/", 1)[1]

    @property
    def files(self) -> Path:
        """The run's own directory for the files its services store (intake's attachments),
        outside the repository; teardown removes it with the database."""
        return Path(tempfile.gettempdir()) / f"{self.database}-files"

    def env(self) -> dict[str, str]:
        return {
            "AFTERCARE_ENV": "test",
            "AFTERCARE_DATABASE_URL": self.database_url,
            "AFTERCARE_AMQP_URL": self.amqp_url,
            "AFTERCARE_EXCHANGE": self.exchange,
            "AFTERCARE_QUEUE_PREFIX": self.queue_prefix,
            "AFTERCARE_ATTACHMENTS_DIR": str(self.files / "attachments"),
            **self.extra,
        }

    def apply(self) -> None:
        os.environ.update(self.env())

    async def prepare(self, services: Iterable[str] | None = None) -> None:
        """Creates and provisions the run's database and migrates the given services."""
        password = os.environ.get("AFTERCARE_DB_PASSWORD", DEV_DB_PASSWORD)
        await provision.provision(self.database, password)
        names = [lookup(s).name for s in services] if services else [s.name for s in SERVICES]
        await asyncio.to_thread(migrate, names, self.env())

    async def teardown(self) -> None:
        await provision.drop_database(self.database)
        await delete_broker_objects(self.amqp_url, self.exchange, self.queue_prefix)
        await asyncio.to_thread(shutil.rmtree, self.files, ignore_errors=True)


def migrate(services: list[str], env: dict[str, str]) -> None:
    """Runs Alembic in a subprocess: its env.py starts an event loop of its own."""
    subprocess.run(
        [sys.executable, "-m", "shared.migrate", *services],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )


async def delete_broker_objects(amqp_url: str, exchange: str, queue_prefix: str) -> None:
    """Deletes the run's exchange and every service queue, retry queue and parked queue."""
    connection = await aio_pika.connect(amqp_url)
    try:
        for svc in SERVICES:
            queue = f"{queue_prefix}{svc.name}"
            names = [queue, parked_queue(queue), *(retry_queue(queue, n) for n in range(8))]
            for name in names:
                channel = await connection.channel()
                try:
                    await channel.queue_delete(name)
                except Exception:
                    pass
                finally:
                    if not channel.is_closed:
                        await channel.close()
        channel = await connection.channel()
        await channel.exchange_delete(exchange)
    finally:
        await connection.close()


async def wait_until(
    probe: Callable[[], Awaitable[T]], *, timeout: float = 15.0, interval: float = 0.05
) -> T:
    """Polls ``probe`` until it returns something truthy, or fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")
        await asyncio.sleep(interval)


class Tap:
    """A temporary queue bound to the run's exchange that records every event published."""

    def __init__(self, amqp_url: str, exchange: str, routing_key: str = "#") -> None:
        self.amqp_url = amqp_url
        self.exchange = exchange
        self.routing_key = routing_key
        self.bodies: list[bytes] = []
        self.message_ids: list[str | None] = []
        self._connection: aio_pika.abc.AbstractConnection | None = None

    async def __aenter__(self) -> Tap:
        self._connection = await aio_pika.connect(self.amqp_url)
        channel = await self._connection.channel()
        exchange = await channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, self.routing_key)

        async def record(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            self.bodies.append(message.body)
            self.message_ids.append(message.message_id)
            await message.ack()

        await queue.consume(record)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._connection is not None:
            await self._connection.close()
