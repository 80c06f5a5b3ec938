import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError

from shared.http import (
    InvalidCursor,
    PreconditionFailed,
    PreconditionRequired,
    Problem,
    RequestIdMiddleware,
    check_if_match,
    decode_cursor,
    encode_cursor,
    install_problem_handlers,
)


class IllegalTransition(Problem):
    status = 409
    type = "illegal-transition"
    title = "Transition not allowed"


class Body(BaseModel):
    severity: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestIdMiddleware)

    @app.post("/things")
    async def create(body: Body):
        return body

    @app.post("/conflict")
    async def conflict():
        raise IllegalTransition("new cannot go to closed", allowed=["assigned", "cancelled"])

    @app.get("/db-down")
    async def db_down():
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    @app.get("/boom")
    async def boom():
        raise RuntimeError("secret connection string postgres://u:p@h")

    return app


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def test_domain_problem_keeps_its_type_and_extensions(client):
    response = await client.post("/conflict")

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://aftercare.dev/problems/illegal-transition"
    assert body["allowed"] == ["assigned", "cancelled"]
    assert body["instance"] == "/conflict"


async def test_validation_error_is_422_listing_the_fields(client):
    response = await client.post("/things", json={"severity": "high"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "severity"]


async def test_unknown_route_is_a_404_problem(client):
    response = await client.get("/nowhere")

    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")


async def test_wrong_method_is_a_405_problem(client):
    response = await client.get("/things")

    assert response.status_code == 405
    assert response.json()["type"].endswith("/method-not-allowed")


async def test_unexpected_error_is_a_500_without_internals(client):
    response = await client.get("/boom", headers={"X-Request-ID": "req-42"})

    assert response.status_code == 500
    assert "postgres" not in response.text
    assert "Traceback" not in response.text
    assert response.json()["request_id"] == "req-42"


async def test_a_database_outage_is_a_503_to_retry_not_a_500(client):
    response = await client.get("/db-down")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["type"].endswith("/unavailable")


async def test_request_id_is_echoed_or_made(client):
    given = await client.post("/things", json={"severity": 1}, headers={"X-Request-ID": "abc"})
    made = await client.post("/things", json={"severity": 1})

    assert given.headers["x-request-id"] == "abc"
    assert len(made.headers["x-request-id"]) == 32


def test_cursor_round_trip():
    values = ["2026-11-21T10:00:00Z", "01a20076-c26a-7408-bf92-c264a1e1ab06"]

    assert decode_cursor(encode_cursor(values)) == values


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", encode_cursor.__name__])
def test_garbage_cursor_is_a_400(cursor):
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


def test_if_match_must_name_the_current_version():
    check_if_match('"3"', 3)
    check_if_match('W/"3"', 3)
    check_if_match("*", 3)
    with pytest.raises(PreconditionFailed):
        check_if_match('"2"', 3)
    with pytest.raises(PreconditionRequired):
        check_if_match(None, 3)
