"""AFTERCARE_ROLE splits a service into its API and its workers (DESIGN §2)."""

import asyncio

import httpx

from intake.main import create_app
from intake.settings import Settings


def paths(app) -> set[str]:
    return set(app.openapi()["paths"])


async def test_api_role_serves_routes_and_runs_no_workers(test_run):
    app = create_app(Settings(role="api"))
    before = asyncio.all_tasks()

    async with app.router.lifespan_context(app):
        started = {t.get_name() for t in asyncio.all_tasks() - before}
        assert "/v1/tickets" in paths(app)
        assert app.state.consumer is None
        assert "outbox-relay" not in started


async def test_worker_role_runs_the_relay_and_serves_only_health_and_metrics(test_run):
    app = create_app(Settings(role="worker"))
    before = asyncio.all_tasks()

    async with app.router.lifespan_context(app):
        started = {t.get_name() for t in asyncio.all_tasks() - before}
        assert "/v1/tickets" not in paths(app)
        assert "outbox-relay" in started
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/metrics")).status_code == 200
            assert (await client.post("/v1/tickets", json={})).status_code == 404
