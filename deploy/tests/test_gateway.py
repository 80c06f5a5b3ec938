"""The gateway alone, through `stack.py start --only gateway`, on free ports and its own var dir.

No service runs behind it here, so a routed path shows the gateway's own 502.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack.py"
PROBLEM = "application/problem+json"


def free_offset() -> int:
    for offset in range(3000, 6000, 17):
        ports = [8080 + offset, *(8100 + n + offset for n in range(1, 6))]
        if all(bindable(port) for port in ports):
            return offset
    raise RuntimeError("no free port range")


def bindable(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no listener
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stack(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(STACK), *args, "--only", "gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    offset = free_offset()
    env = {
        **os.environ,
        "AFTERCARE_VAR_DIR": str(var),
        "AFTERCARE_PORT_OFFSET": str(offset),
        "AFTERCARE_GATEWAY_MAX_BODY": "1k",
        "AFTERCARE_GATEWAY_RATE": "5r/s",
        "AFTERCARE_GATEWAY_BURST": "20",
    }
    # A fresh stamp: no OpenAPI merge in this test, it imports all five services.
    (var / "gateway").mkdir()
    (var / "gateway" / "openapi.stamp").touch()
    started = stack(env, "start")
    assert started.returncode == 0, started.stdout + started.stderr
    yield {"url": f"http://127.0.0.1:{8080 + offset}", "env": env, "var": var}
    stopped = stack(env, "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


@pytest.fixture
def client(gateway):
    with httpx.Client(base_url=gateway["url"], trust_env=False, timeout=5) as client:
        yield client


def test_healthz_answers_with_a_request_id(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(response.headers["x-request-id"]) == 32


def test_the_clients_request_id_comes_back(client):
    response = client.get("/v1/tickets", headers={"X-Request-ID": "req-42.a:b_c"})

    assert response.headers["x-request-id"] == "req-42.a:b_c"
    assert response.json()["request_id"] == "req-42.a:b_c"


def test_an_odd_request_id_is_replaced(client):
    response = client.get("/healthz", headers={"X-Request-ID": "x" * 200})

    assert response.headers["x-request-id"] != "x" * 200


def test_an_unknown_path_is_a_404_problem(client):
    response = client.get("/v1/ticketsX")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "https://aftercare.dev/problems/not-found"


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/v1/tickets", "intake"),
        ("/v1/inbound/mail", "intake"),
        ("/v1/engineers/7", "dispatch"),
        ("/v1/reports/engineers", "dispatch"),
        ("/v1/sla/policies", "sla-timer"),
        ("/v1/notices", "notify"),
        ("/v1/kb/articles", "kb"),
    ],
)
def test_a_routed_path_whose_service_is_down_is_a_502_problem(client, path, service):
    response = client.post(path, json={})

    assert response.status_code == 502
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == f"The {service} service is not reachable."


def test_a_body_over_the_limit_is_a_413_problem(client):
    response = client.post("/v1/tickets", content=b"x" * 4096)

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "https://aftercare.dev/problems/payload-too-large"
    assert problem["title"] == "Payload too large"
    assert problem["status"] == 413


def test_a_client_over_the_rate_is_a_429_problem(gateway):
    # Its own source address, so its own bucket: the other tests stay within theirs.
    transport = httpx.HTTPTransport(local_address="127.0.0.7")
    with httpx.Client(base_url=gateway["url"], transport=transport, trust_env=False) as client:
        statuses = [client.get("/v1/tickets").status_code for _ in range(30)]
        limited = client.get("/v1/tickets")

    assert 429 in statuses
    if limited.status_code == 429:
        assert limited.headers["content-type"] == PROBLEM
        assert limited.headers["retry-after"] == "1"


def test_docs_load_swagger_ui_from_the_gateway_itself(client):
    page = client.get("/docs")
    bundle = client.get("/docs/static/swagger-ui-bundle.js")
    spec = client.get("/openapi.json")

    assert page.status_code == 200
    assert 'src="/docs/static/swagger-ui-bundle.js"' in page.text
    assert "http" not in page.text.split("<body>")[1].replace("http://", "")
    assert bundle.status_code == 200
    assert spec.status_code == 200
    assert "openapi" in json.loads(spec.text)


def test_start_again_is_a_no_op_and_status_says_ready(gateway):
    again = stack(gateway["env"], "start")
    status = stack(gateway["env"], "status")

    assert again.returncode == 0
    assert "already running" in again.stdout
    assert status.returncode == 0
    assert "ready" in status.stdout


def test_stop_leaves_nothing_running_and_a_second_stop_is_safe(tmp_path):
    offset = free_offset()
    env = {**os.environ, "AFTERCARE_VAR_DIR": str(tmp_path), "AFTERCARE_PORT_OFFSET": str(offset)}
    (tmp_path / "gateway").mkdir()
    (tmp_path / "gateway" / "openapi.stamp").touch()
    assert stack(env, "start").returncode == 0
    pid = int((tmp_path / "run" / "gateway.pid").read_text().split()[0])

    first, second = stack(env, "stop"), stack(env, "stop")

    assert first.returncode == 0
    assert second.returncode == 0
    assert "nothing was running" in second.stdout
    assert not (tmp_path / "run" / "gateway.pid").exists()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not bindable(8080 + offset):
        time.sleep(0.1)
    assert bindable(8080 + offset)
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
