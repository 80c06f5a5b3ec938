"""System tests: the real stack (`make start`) on its own ports, database, exchange and queues,
driven over HTTP through the gateway as a client would (DESIGN §10)."""

import asyncio
import os
import subprocess
import tempfile
from pathlib import Path

import asyncpg
import httpx
import pytest

from shared.auth import issue_token
from shared.services import REPO_ROOT, SERVICES
from shared.settings import ServiceSettings
from shared.testing import TestRun

OFFSET = int(os.environ.get("AFTERCARE_TEST_PORT_OFFSET", "1000"))
GATEWAY = f"http://127.0.0.1:{8080 + OFFSET}"
ADMIN_URL = os.environ.get(
    "AFTERCARE_ADMIN_DATABASE_URL",
    "postgresql://aftercare_admin:aftercare-admin@127.0.0.1:5432/postgres",
)


def service_url(name: str) -> str:
    port = next(s.port for s in SERVICES if s.name == name)
    return f"http://127.0.0.1:{port + OFFSET}"


def make(target: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
async def stack():
    run = TestRun.from_environment()
    await run.prepare()
    var_dir = tempfile.mkdtemp(prefix="aftercare-system-")
    env = {
        **run.env(),
        "AFTERCARE_PORT_OFFSET": str(OFFSET),
        "AFTERCARE_VAR_DIR": var_dir,
        "AFTERCARE_BOOTSTRAP": "0",
        "AFTERCARE_GATEWAY_RATE": "100r/s",
        "AFTERCARE_GATEWAY_BURST": "100",
        "AFTERCARE_GATEWAY_MAX_BODY": "1m",
        "AFTERCARE_RELAY_POLL_SECONDS": "0.5",
    }
    started = await asyncio.to_thread(make, "start", env)
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
    try:
        yield {"run": run, "env": env, "var": Path(var_dir)}
    finally:
        stopped = await asyncio.to_thread(make, "stop", env)
        await run.teardown()
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


@pytest.fixture(scope="session")
def token():
    settings = ServiceSettings()

    def make_token(role: str = "agent", sub: str = "eng-system", org=None) -> str:
        return issue_token(settings, role=role, sub=sub, org=org)

    return make_token


@pytest.fixture(scope="session")
async def gateway(stack):
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
async def organization(gateway, token) -> str:
    """A customer organisation registered through the gateway, for tickets to belong to."""
    response = await gateway.post(
        "/v1/organizations",
        json={"name": "System Test Customer Ltd", "region_code": "310000"},
        headers={"Authorization": f"Bearer {token('admin', 'admin-system')}"},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture(scope="session")
async def db(stack):
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + stack["run"].database
    conn = await asyncpg.connect(url)
    yield conn
    await conn.close()
