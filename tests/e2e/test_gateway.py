"""Through the gateway, as a client: tickets, auth, limits, request ids, combined OpenAPI."""

import asyncio
import re

import httpx

from shared.ids import new_id
from shared.testing import wait_until
from tests.conftest import service_url

CONSUMERS = {"dispatch": "dispatch", "sla-timer": "sla", "notify": "notify", "kb": "kb"}
CONSUMED_OK = re.compile(
    r'aftercare_events_consumed_total\{outcome="ok",type="ticket.created"\} (\d+)'
)


def ticket(organization: str, **overrides) -> dict:
    body = {
        "subject": "Core switch down in building B",
        "description": "All floors lost network access.",
        "severity": 1,
        "organization_id": organization,
    }
    body.update(overrides)
    return body


async def test_a_ticket_reaches_all_four_consumers(gateway, token, db, organization):
    response = await gateway.post(
        "/v1/tickets", json=ticket(organization), headers={"Authorization": f"Bearer {token()}"}
    )

    assert response.status_code == 201
    ticket_id = response.json()["id"]

    async def in_all_projections():
        counts = [
            await db.fetchval(f"SELECT count(*) FROM {schema}.ticket WHERE id = $1", ticket_id)
            for schema in CONSUMERS.values()
        ]
        return counts if counts == [1, 1, 1, 1] else None

    await wait_until(in_all_projections, timeout=15)
    async with httpx.AsyncClient() as direct:
        for name in CONSUMERS:
            metrics = (await direct.get(service_url(name) + "/metrics")).text
            match = CONSUMED_OK.search(metrics)
            assert match and int(match.group(1)) >= 1, f"{name} shows no consumed ticket.created"


async def test_ticket_can_be_read_back_through_the_gateway(gateway, token, organization):
    headers = {"Authorization": f"Bearer {token()}"}
    created = (await gateway.post("/v1/tickets", json=ticket(organization), headers=headers)).json()

    response = await gateway.get(f"/v1/tickets/{created['id']}", headers=headers)

    assert response.status_code == 200
    assert response.json()["number"] == created["number"]


async def test_no_token_is_401(gateway, organization):
    response = await gateway.post("/v1/tickets", json=ticket(organization))

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_oversize_body_is_413_problem(gateway, token, organization):
    huge = ticket(organization, description="x" * (2 * 1024 * 1024))

    response = await gateway.post(
        "/v1/tickets", json=huge, headers={"Authorization": f"Bearer {token()}"}
    )

    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 413


async def test_a_mail_of_a_megabyte_is_passed_on_from_memory(gateway, token, stack):
    """Mail gateways post mails with their attachments whole: such a body stays in nginx's
    memory on its way to intake instead of going through a temporary file."""
    attachment = "QUJD" * 250_000  # 1 MB of base64
    raw = (
        f"From: Big Sender <big-{new_id().hex}@customer.example.cn>\r\n"
        f"Message-ID: <{new_id().hex}@customer.example.cn>\r\nSubject: logs attached\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        "Content-Type: text/plain\r\n\r\nThe logs.\r\n--b\r\n"
        'Content-Type: application/octet-stream; name="logs.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        + "\r\n".join(attachment[i : i + 76] for i in range(0, len(attachment), 76))
        + "\r\n--b--\r\n"
    ).encode()
    log = stack["var"] / "log" / "gateway.log"
    before = log.read_text() if log.exists() else ""

    response = await gateway.post(
        "/v1/inbound/email",
        content=raw,
        headers={"Authorization": f"Bearer {token('integration')}",
                 "Content-Type": "message/rfc822"},
    )  # fmt: skip

    assert response.status_code == 201, response.text
    assert response.json()["attachments"][0]["size"] == 750_000
    written = (log.read_text() if log.exists() else "")[len(before) :]
    assert "buffered to a temporary file" not in written


async def test_every_response_has_a_request_id_and_keeps_the_clients(gateway):
    mine = await gateway.get("/v1/tickets/" + str(new_id()), headers={"X-Request-ID": "trace-77"})
    made = await gateway.get("/v1/tickets/" + str(new_id()))

    assert mine.headers["x-request-id"] == "trace-77"
    assert len(made.headers["x-request-id"]) >= 16


async def test_unknown_path_is_a_404_problem(gateway):
    response = await gateway.get("/v1/nothing-here")

    assert response.status_code == 404
    assert response.json()["status"] == 404


async def test_combined_openapi_lists_every_services_paths(gateway):
    spec = (await gateway.get("/openapi.json")).json()

    assert "/v1/tickets" in spec["paths"]
    assert "/v1/tickets/{ticket_id}" in spec["paths"]
    assert "/healthz" not in spec["paths"]
    docs = await gateway.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_a_burst_beyond_the_rate_limit_gets_429_problems(gateway):
    responses = await asyncio.gather(
        *(gateway.get("/v1/tickets/" + str(new_id())) for _ in range(600))
    )

    statuses = [r.status_code for r in responses]
    assert 429 in statuses
    limited = next(r for r in responses if r.status_code == 429)
    assert limited.headers["content-type"].startswith("application/problem+json")
    await asyncio.sleep(1.5)  # let the bucket refill for the tests after this one
