"""With RabbitMQ stopped, tickets are still accepted; once it is back every event reaches every
consumer exactly once (DESIGN §4: a broker outage delays events, never loses them)."""

import asyncio
import subprocess

import httpx
import pytest

from shared.testing import wait_until
from tests.conftest import service_url

SCHEMAS = ("dispatch", "sla", "notify", "kb")
TICKETS = 25


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


@pytest.fixture
def broker_restored():
    yield
    subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, timeout=120)


async def test_tickets_accepted_during_a_broker_outage_are_all_delivered_once(
    gateway, token, db, organization, broker_restored
):
    headers = {"Authorization": f"Bearer {token('integration', 'pbx-1')}"}
    org = organization
    await asyncio.to_thread(rabbitmqctl, "stop_app")

    responses = [
        await gateway.post(
            "/v1/tickets",
            json={"subject": f"outage {i}", "severity": 2, "organization_id": org},
            headers=headers,
        )
        for i in range(TICKETS)
    ]
    async with httpx.AsyncClient() as direct:
        ready = await direct.get(service_url("intake") + "/readyz")
    backlog = await db.fetchval("SELECT count(*) FROM intake.outbox WHERE published_at IS NULL")
    await asyncio.to_thread(rabbitmqctl, "start_app")

    assert [r.status_code for r in responses] == [201] * TICKETS
    assert ready.status_code == 503 and ready.json()["checks"]["broker"] == "unreachable"
    assert backlog >= TICKETS
    ids = [r.json()["id"] for r in responses]

    async def delivered():
        counts = {
            schema: await db.fetchval(
                f"SELECT count(*) FROM {schema}.ticket WHERE id = ANY($1::uuid[])", ids
            )
            for schema in SCHEMAS
        }
        return counts if all(n == TICKETS for n in counts.values()) else None

    await wait_until(delivered, timeout=90, interval=0.5)
    await asyncio.sleep(2)  # time for a duplicate delivery to show up, if there were one
    for schema in SCHEMAS:
        handled = await db.fetchval(
            f"SELECT count(*) FROM {schema}.inbox WHERE subject = ANY($1::uuid[])", ids
        )
        rows = await db.fetchval(
            f"SELECT count(*) FROM {schema}.ticket WHERE id = ANY($1::uuid[])", ids
        )
        assert (handled, rows) == (TICKETS, TICKETS), schema
    unpublished = await db.fetchval(
        "SELECT count(*) FROM intake.outbox "
        "WHERE published_at IS NULL AND subject = ANY($1::uuid[])",
        ids,
    )
    assert unpublished == 0
