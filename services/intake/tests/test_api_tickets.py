import uuid

from shared.ids import new_id
from tests.factories import ticket_body


async def test_creating_a_ticket_answers_201_with_number_location_and_etag(client, auth):
    body = ticket_body()

    response = await client.post("/v1/tickets", json=body, headers=auth())

    assert response.status_code == 201
    ticket = response.json()
    assert ticket["subject"] == body["subject"]
    assert ticket["status"] == "new"
    assert ticket["number"] >= 100001
    assert ticket["reference"] == f"#{ticket['number']}"
    assert response.headers["location"] == f"/v1/tickets/{ticket['id']}"
    assert response.headers["etag"] == '"1"'
    assert uuid.UUID(ticket["id"]).version == 7


async def test_a_created_ticket_can_be_read_back(client, auth):
    created = (await client.post("/v1/tickets", json=ticket_body(), headers=auth())).json()

    response = await client.get(f"/v1/tickets/{created['id']}", headers=auth())

    assert response.status_code == 200
    assert response.json() == created


async def test_no_token_is_401_problem(client):
    response = await client.post("/v1/tickets", json=ticket_body())

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/unauthenticated")
    assert "bearer" in response.headers["www-authenticate"].lower()


async def test_invalid_body_is_422_naming_the_fields(client, auth):
    response = await client.post("/v1/tickets", json={"subject": "", "severity": 9}, headers=auth())

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/validation-error")
    fields = {tuple(e["loc"])[-1] for e in problem["errors"]}
    assert {"subject", "severity", "organization_id"} <= fields


async def test_malformed_json_is_a_4xx_problem(client, auth):
    response = await client.post(
        "/v1/tickets",
        content=b"{not json",
        headers={**auth(), "content-type": "application/json"},
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_customer_sees_own_organisation_and_gets_404_for_another(client, auth):
    own, other = new_id(), new_id()
    mine = (
        await client.post("/v1/tickets", json=ticket_body(organization_id=str(own)), headers=auth())
    ).json()
    theirs = (
        await client.post(
            "/v1/tickets", json=ticket_body(organization_id=str(other)), headers=auth()
        )
    ).json()
    customer = auth("customer", "contact-1", own)

    assert (await client.get(f"/v1/tickets/{mine['id']}", headers=customer)).status_code == 200
    hidden = await client.get(f"/v1/tickets/{theirs['id']}", headers=customer)
    assert hidden.status_code == 404
    assert hidden.json()["type"].endswith("/ticket-not-found")


async def test_customer_cannot_open_a_ticket_for_another_organisation(client, auth):
    customer = auth("customer", "contact-2", new_id())

    response = await client.post("/v1/tickets", json=ticket_body(), headers=customer)

    assert response.status_code == 404


async def test_unknown_ticket_is_404(client, auth):
    response = await client.get(f"/v1/tickets/{new_id()}", headers=auth())

    assert response.status_code == 404


async def test_same_idempotency_key_and_body_replays_the_first_answer(client, auth):
    body, key = ticket_body(), f"key-{uuid.uuid4()}"

    first = await client.post("/v1/tickets", json=body, headers={**auth(), "Idempotency-Key": key})
    second = await client.post("/v1/tickets", json=body, headers={**auth(), "Idempotency-Key": key})

    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["idempotent-replay"] == "true"


async def test_same_idempotency_key_with_another_body_is_422(client, auth):
    key = f"key-{uuid.uuid4()}"
    await client.post("/v1/tickets", json=ticket_body(), headers={**auth(), "Idempotency-Key": key})

    response = await client.post(
        "/v1/tickets", json=ticket_body(), headers={**auth(), "Idempotency-Key": key}
    )

    assert response.status_code == 422
    assert response.json()["type"].endswith("/idempotency-key-reused")


async def test_metrics_count_requests_by_route_template(client, auth):
    await client.get(f"/v1/tickets/{new_id()}", headers=auth())

    text = (await client.get("/metrics")).text

    assert 'route="/v1/tickets/{ticket_id}"' in text
    assert str(new_id()) not in text
