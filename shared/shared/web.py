"""The app factory every service is built on (DESIGN §2, STYLE rule 5).

``create_service_app`` gives a service /healthz, /readyz, /metrics and /docs, problem
responses, request ids, JSON logs and HTTP metrics, and a lifespan that builds the engine,
sessions and broker connection and, when ``AFTERCARE_ROLE`` is ``worker`` or ``all``, runs the
outbox relay, the event consumer and the service's own ``workers`` (each ``async def
worker(app)`` loop is restarted with backoff if it fails). Nothing connects at import or
construction time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI

from shared import health, http, metrics
from shared import logging as aclog
from shared.auth import JwksCache
from shared.bus import Broker, Consumer, Handler
from shared.db import make_engine, make_sessionmaker
from shared.outbox import Relay
from shared.settings import ServiceSettings

log = logging.getLogger("aftercare.web")


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    handlers: Mapping[type, Handler] | None = None,
    workers: Sequence[Callable[[FastAPI], Awaitable[None]]] = (),
    version: str = "0.1.0",
) -> FastAPI:
    handlers = dict(handlers or {})

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        aclog.configure(settings.service, settings.log_level)
        engine = make_engine(settings)
        broker = Broker(settings)
        broker.start()
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.broker = broker
        app.state.jwks = JwksCache(settings.jwks_url) if settings.jwks_url else None
        app.state.consumer = None
        tasks: list[asyncio.Task[Any]] = []
        if settings.role in ("worker", "all"):
            relay = Relay(
                dsn=settings.libpq_database_url(),
                schema=settings.db_schema,
                broker=broker,
                batch_size=settings.relay_batch_size,
                poll_seconds=settings.relay_poll_seconds,
                linger_seconds=settings.relay_linger_seconds,
                retention_hours=settings.outbox_retention_hours,
            )
            tasks.append(asyncio.create_task(relay.run(), name="outbox-relay"))
            if handlers:
                consumer = Consumer(
                    settings=settings,
                    broker=broker,
                    sessionmaker=app.state.sessionmaker,
                    handlers=handlers,
                )
                app.state.consumer = consumer
                tasks.append(asyncio.create_task(_supervised(consumer.run), name="consumer"))
            for worker in workers:
                name = getattr(worker, "__name__", "worker")
                tasks.append(
                    asyncio.create_task(_supervised(functools.partial(worker, app)), name=name)
                )
        _tune_cyclic_collector()
        log.info("%s started (role %s)", settings.service, settings.role)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await broker.close()
            await engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        responses={
            "default": {
                "description": "An RFC 9457 problem",
                "content": {
                    http.PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            }
        },
    )
    app.state.settings = settings
    http.install_problem_handlers(app)
    app.add_middleware(metrics.MetricsMiddleware)
    app.add_middleware(http.RequestIdMiddleware)
    app.include_router(health.router)
    app.add_route("/metrics", metrics.metrics_endpoint, include_in_schema=False)
    if settings.role in ("api", "all"):
        for router in routers:
            app.include_router(router)
    _add_problem_schema(app)
    return app


# The cyclic collector's thresholds (see _tune_cyclic_collector).
GC_THRESHOLDS = (10_000, 10, 10)


def _tune_cyclic_collector() -> None:
    """Moves what exists at startup (modules, the app, its routes: about 150,000 objects) out of
    the cyclic collector's reach. A full collection walks every tracked object; with these it
    stopped a process for 70 ms on an idle core and up to 300 ms on a busy one, all of a
    service's worker processes about together, which made most of dispatch's p99 latency.
    What exists at startup lives as long as the process, so nothing is lost by never
    collecting it; the garbage of the imports is collected first.

    Then the collector runs less often (GC_THRESHOLDS). At Python's default of a young
    collection every 700 new containers, a request, which makes a few thousand that live until
    it is answered, was collected several times over while still alive, and its objects were
    walked again in the older generations: 5 % of intake's CPU under a stream of PBX events
    (perf). Every 10,000 most of them are already freed, and the collector's share fell to
    0.3-0.5 % (0.7 % under mail, from 2.6 %). A young collection still takes well under a
    millisecond; the older generations keep Python's ratios (10, 10), so cyclic garbage is
    found after a million new containers at most, a few hundred requests."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _supervised(run: Any) -> None:
    """Restarts a worker loop that failed (say, the broker vanished during declaration)."""
    backoff = 1.0
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker loop failed; restarting in %.0fs", backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)


def _add_problem_schema(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = {
            "title": "Problem",
            "type": "object",
            "description": "RFC 9457 problem details",
            "properties": {
                "type": {"type": "string", "format": "uri"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "request_id": {"type": "string"},
            },
            "required": ["type", "title", "status"],
        }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
