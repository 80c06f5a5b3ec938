"""pytest fixtures every service suite uses; a suite's conftest enables them with
``pytest_plugins = ["shared.fixtures"]`` and names its service in a ``service_name`` fixture.

The run's database is migrated once per session; the app runs with its lifespan (relay and
consumer included) against it; the HTTP client goes through ASGI, not a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import issue_token
from shared.services import lookup
from shared.settings import ServiceSettings
from shared.testing import TestRun


@pytest.fixture(scope="session")
def service_name() -> str:
    raise NotImplementedError("the suite's conftest must define the service_name fixture")


@pytest.fixture(scope="session")
async def test_run(service_name: str) -> AsyncIterator[TestRun]:
    run = TestRun.from_environment()
    run.extra["AFTERCARE_RETRY_DELAYS"] = "[0.2, 0.4]"
    run.extra["AFTERCARE_RELAY_POLL_SECONDS"] = "0.2"
    run.apply()
    await run.prepare([service_name])
    try:
        yield run
    finally:
        await run.teardown()


@pytest.fixture(scope="session")
def settings_class(service_name: str) -> type[ServiceSettings]:
    info = lookup(service_name)
    return importlib.import_module(f"{info.package}.settings").Settings


@pytest.fixture(scope="session")
def settings(test_run: TestRun, settings_class: type[ServiceSettings]) -> ServiceSettings:
    return settings_class()


@pytest.fixture(scope="session")
def create_app(service_name: str) -> Callable[..., FastAPI]:
    return importlib.import_module(f"{lookup(service_name).package}.main").create_app


@pytest.fixture(scope="session")
async def app(
    create_app: Callable[..., FastAPI], settings: ServiceSettings
) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        await application.state.broker.wait_ready()
        if application.state.consumer is not None:
            await asyncio.wait_for(application.state.consumer.consuming.wait(), 30)
        yield application


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture(scope="session")
def token(settings: ServiceSettings) -> Callable[..., str]:
    def make(role: str = "agent", sub: str = "eng-test", org: object = None) -> str:
        return issue_token(settings, role=role, sub=sub, org=org)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def auth(token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def headers(role: str = "agent", sub: str = "eng-test", org: object = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(role, sub, org)}"}

    return headers


@pytest.fixture
async def session(app: FastAPI) -> AsyncIterator:
    async with app.state.sessionmaker() as s:
        yield s
        with contextlib.suppress(Exception):
            await s.rollback()
