import uuid
from datetime import date, timedelta

from shared.ids import new_id
from tests.factories import (
    new_asset,
    new_contact,
    new_contract,
    new_organization,
    new_ticket,
    ticket_body,
)


async def test_creating_a_ticket_answers_201_with_number_location_and_etag(client, auth):
    org = await new_organization(client)
    body = ticket_body(organization_id=org["id"])

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


async def test_a_ticket_on_an_asset_takes_product_region_site_and_contract(client, auth):
    org = await new_organization(client)
    contract = await new_contract(client, org["id"])
    asset = await new_asset(client, org["id"], contract_id=contract["id"])

    ticket = await new_ticket(client, auth(), serial=asset["serial"], on_site_required=True)

    assert ticket["asset_id"] == asset["id"]
    assert ticket["organization_id"] == org["id"]
    assert (ticket["product"], ticket["region"], ticket["site_address"]) == (
        asset["product"],
        asset["region"],
        asset["site_address"],
    )
    assert (ticket["contract_id"], ticket["coverage"], ticket["policy_key"]) == (
        contract["id"],
        "business_hours",
        "fault-levels",
    )
    assert ticket["under_warranty"] is True
    assert ticket["paid"] is False


async def test_a_fault_on_a_device_out_of_warranty_is_flagged_paid(client, auth):
    org = await new_organization(client)
    asset = await new_asset(
        client, org["id"], warranty_end_date=str(date.today() - timedelta(days=1))
    )

    ticket = await new_ticket(client, auth(), asset_id=asset["id"])

    assert (ticket["under_warranty"], ticket["paid"]) == (False, True)


async def test_the_organisations_contract_in_force_is_used_when_none_is_named(client, auth):
    org = await new_organization(client)
    contract = await new_contract(client, org["id"], coverage="24x7", policy_key="abcd")

    ticket = await new_ticket(client, auth(), organization_id=org["id"])

    assert (ticket["contract_id"], ticket["coverage"], ticket["policy_key"]) == (
        contract["id"],
        "24x7",
        "abcd",
    )


async def test_parts_of_another_organisation_are_refused(client, auth):
    mine, theirs = await new_organization(client), await new_organization(client)
    asset = await new_asset(client, theirs["id"])

    response = await client.post(
        "/v1/tickets",
        json=ticket_body(organization_id=mine["id"], asset_id=asset["id"]),
        headers=auth(),
    )

    assert response.status_code == 422
    assert response.json()["type"].endswith("/invalid-reference")


async def test_an_unknown_organisation_is_422(client, auth):
    response = await client.post(
        "/v1/tickets", json=ticket_body(organization_id=str(new_id())), headers=auth()
    )

    assert response.status_code == 422


async def test_a_repeated_report_of_the_same_contact_and_asset_joins_the_open_ticket(client, auth):
    org = await new_organization(client)
    contact = await new_contact(client, org["id"])
    asset = await new_asset(client, org["id"])
    first = await new_ticket(client, auth(), contact_id=contact["id"], asset_id=asset["id"])

    again = await client.post(
        "/v1/tickets",
        json=ticket_body(contact_id=contact["id"], asset_id=asset["id"], subject="still down"),
        headers=auth("integration", "pbx"),
    )

    assert again.status_code == 200
    assert again.headers["aftercare-joined"] == "true"
    assert again.json()["id"] == first["id"]
    messages = (await client.get(f"/v1/tickets/{first['id']}/messages", headers=auth())).json()
    assert [m["author_kind"] for m in messages] == ["customer"]
    assert messages[0]["body"].startswith("still down")


async def test_a_report_about_another_asset_opens_its_own_ticket(client, auth):
    org = await new_organization(client)
    contact = await new_contact(client, org["id"])
    a1, a2 = await new_asset(client, org["id"]), await new_asset(client, org["id"])
    first = await new_ticket(client, auth(), contact_id=contact["id"], asset_id=a1["id"])

    second = await new_ticket(client, auth(), contact_id=contact["id"], asset_id=a2["id"])

    assert second["id"] != first["id"]


async def test_a_created_ticket_can_be_read_back(client, auth):
    created = await new_ticket(client, auth())

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
    response = await client.post(
        "/v1/tickets", json={"subject": "", "severity": 9, "kind": "rant"}, headers=auth()
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/validation-error")
    fields = {tuple(e["loc"])[-1] for e in problem["errors"]}
    assert {"subject", "severity", "kind"} <= fields


async def test_unknown_fields_are_refused_not_ignored(client, auth):
    org = await new_organization(client)

    response = await client.post(
        "/v1/tickets", json=ticket_body(organization_id=org["id"], severtiy=1), headers=auth()
    )

    assert response.status_code == 422


async def test_malformed_json_is_a_4xx_problem(client, auth):
    response = await client.post(
        "/v1/tickets",
        content=b"{not json",
        headers={**auth(), "content-type": "application/json"},
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_customer_sees_own_organisation_and_gets_404_for_another(client, auth):
    own, other = await new_organization(client), await new_organization(client)
    mine = await new_ticket(client, auth(), organization_id=own["id"])
    theirs = await new_ticket(client, auth(), organization_id=other["id"])
    customer = auth("customer", "contact-1", own["id"])

    assert (await client.get(f"/v1/tickets/{mine['id']}", headers=customer)).status_code == 200
    hidden = await client.get(f"/v1/tickets/{theirs['id']}", headers=customer)
    assert hidden.status_code == 404
    assert hidden.json()["type"].endswith("/ticket-not-found")
    listed = (await client.get("/v1/tickets", headers=customer)).json()["items"]
    assert {t["organization_id"] for t in listed} == {own["id"]}


async def test_a_customer_ticket_goes_to_the_customers_organisation(client, auth):
    own, other = await new_organization(client), await new_organization(client)

    mine = await client.post(
        "/v1/tickets", json=ticket_body(), headers=auth("customer", "c-2", own["id"])
    )
    foreign = await client.post(
        "/v1/tickets",
        json=ticket_body(organization_id=other["id"]),
        headers=auth("customer", "c-2", own["id"]),
    )

    assert mine.status_code == 201 and mine.json()["organization_id"] == own["id"]
    assert foreign.status_code == 422


async def test_unknown_ticket_is_404(client, auth):
    response = await client.get(f"/v1/tickets/{new_id()}", headers=auth())

    assert response.status_code == 404


async def test_same_idempotency_key_and_body_replays_the_first_answer(client, auth):
    org = await new_organization(client)
    body, key = ticket_body(organization_id=org["id"]), f"key-{uuid.uuid4()}"

    first = await client.post("/v1/tickets", json=body, headers={**auth(), "Idempotency-Key": key})
    second = await client.post("/v1/tickets", json=body, headers={**auth(), "Idempotency-Key": key})

    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["idempotent-replay"] == "true"


async def test_same_idempotency_key_with_another_body_is_422(client, auth):
    org = await new_organization(client)
    key = f"key-{uuid.uuid4()}"
    await client.post(
        "/v1/tickets",
        json=ticket_body(organization_id=org["id"]),
        headers={**auth(), "Idempotency-Key": key},
    )

    response = await client.post(
        "/v1/tickets",
        json=ticket_body(organization_id=org["id"]),
        headers={**auth(), "Idempotency-Key": key},
    )

    assert response.status_code == 422
    assert response.json()["type"].endswith("/idempotency-key-reused")


async def test_metrics_count_requests_by_route_template(client, auth):
    await client.get(f"/v1/tickets/{new_id()}", headers=auth())

    text = (await client.get("/metrics")).text

    assert 'route="/v1/tickets/{ticket_id}"' in text
    assert str(new_id()) not in text
