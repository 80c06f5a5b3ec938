"""The customer register: organisations, contacts, contracts, assets, and the lookups that
phone and mail gateways use."""

from datetime import date, timedelta

from shared.ids import new_id
from tests.factories import (
    admin_headers,
    new_asset,
    new_contact,
    new_contract,
    new_organization,
    new_ticket,
    unique,
)


async def test_an_organisation_is_created_read_and_updated_with_if_match(client):
    org = await new_organization(client, language="en", time_zone="Europe/Berlin")

    read = await client.get(f"/v1/organizations/{org['id']}", headers=admin_headers())
    stale = await client.patch(
        f"/v1/organizations/{org['id']}",
        json={"name": "New"},
        headers={**admin_headers(), "If-Match": '"0"'},
    )
    missing = await client.patch(
        f"/v1/organizations/{org['id']}", json={"name": "New"}, headers=admin_headers()
    )
    fresh = await client.patch(
        f"/v1/organizations/{org['id']}",
        json={"name": "New"},
        headers={**admin_headers(), "If-Match": read.headers["etag"]},
    )

    assert (read.json()["language"], read.json()["time_zone"]) == ("en", "Europe/Berlin")
    assert stale.status_code == 412
    assert stale.json()["type"].endswith("/stale-version")
    assert missing.status_code == 428
    assert fresh.status_code == 200
    assert fresh.json()["name"] == "New"
    assert fresh.headers["etag"] == '"2"'


async def test_a_bad_time_zone_is_422(client):
    response = await client.post(
        "/v1/organizations", json={"name": "X", "time_zone": "Mars/Base"}, headers=admin_headers()
    )

    assert response.status_code == 422
    assert "IANA" in response.text


async def test_contacts_are_found_by_any_notation_of_their_phone(client):
    org = await new_organization(client)
    contact = await new_contact(
        client,
        org["id"],
        phones=[
            {"number": "010-6552 9988", "kind": "phone"},
            {"number": "138 0013 8000", "kind": "mobile"},
        ],
    )

    found = await client.get(
        "/v1/contacts", params={"phone": "+86 10 6552 9988"}, headers=admin_headers()
    )
    mobile = await client.get(
        "/v1/contacts", params={"phone": "008613800138000"}, headers=admin_headers()
    )

    assert contact["phones"][0]["e164"] == "+861065529988"
    assert contact["id"] in [c["id"] for c in found.json()["items"]]
    assert contact["id"] in [c["id"] for c in mobile.json()["items"]]


async def test_contacts_are_found_by_email_whatever_its_case(client):
    org = await new_organization(client)
    address = f"{unique('Li.Wei.')}@Customer.Example.CN"
    contact = await new_contact(client, org["id"], emails=[address])

    found = await client.get(
        "/v1/contacts", params={"email": address.upper()}, headers=admin_headers()
    )

    assert [c["id"] for c in found.json()["items"]] == [contact["id"]]


async def test_an_email_belongs_to_one_contact_only(client):
    org = await new_organization(client)
    address = f"{unique()}@x.example"
    await new_contact(client, org["id"], emails=[address])

    response = await client.post(
        "/v1/contacts",
        json={"organization_id": org["id"], "name": "Twin", "emails": [address.upper()]},
        headers=admin_headers(),
    )

    assert response.status_code == 409


async def test_an_invalid_phone_is_422(client):
    org = await new_organization(client)

    response = await client.post(
        "/v1/contacts",
        json={"organization_id": org["id"], "name": "N", "phones": [{"number": "1234"}]},
        headers=admin_headers(),
    )

    assert response.status_code == 422
    assert response.json()["type"].endswith("/invalid-phone")


async def test_a_contact_update_replaces_its_numbers(client):
    org = await new_organization(client)
    contact = await new_contact(client, org["id"])

    response = await client.patch(
        f"/v1/contacts/{contact['id']}",
        json={"phones": [{"number": "0755 8888 6666"}], "preferred_language": "en"},
        headers={**admin_headers(), "If-Match": f'"{contact["version"]}"'},
    )

    assert response.status_code == 200
    assert [p["e164"] for p in response.json()["phones"]] == ["+8675588886666"]
    assert response.json()["preferred_language"] == "en"


async def test_contract_numbers_are_unique_and_dates_ordered(client):
    org = await new_organization(client)
    contract = await new_contract(client, org["id"])

    twin = await client.post(
        "/v1/contracts",
        json={
            "number": contract["number"],
            "organization_id": org["id"],
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
        },
        headers=admin_headers(),
    )
    backwards = await client.post(
        "/v1/contracts",
        json={
            "number": unique("C-"),
            "organization_id": org["id"],
            "start_date": "2026-12-31",
            "end_date": "2026-01-01",
        },
        headers=admin_headers(),
    )

    assert twin.status_code == 409
    assert backwards.status_code == 422


async def test_assets_are_found_by_serial_and_serials_are_unique(client):
    org = await new_organization(client)
    asset = await new_asset(client, org["id"])

    found = await client.get(
        "/v1/assets", params={"serial": asset["serial"]}, headers=admin_headers()
    )
    twin = await client.post(
        "/v1/assets",
        json={"serial": asset["serial"], "product": "X", "organization_id": org["id"]},
        headers=admin_headers(),
    )

    assert [a["id"] for a in found.json()["items"]] == [asset["id"]]
    assert twin.status_code == 409


async def test_an_asset_cannot_use_another_organisations_contract(client):
    mine, theirs = await new_organization(client), await new_organization(client)
    contract = await new_contract(client, theirs["id"])

    response = await client.post(
        "/v1/assets",
        json={
            "serial": unique("SN"),
            "product": "X",
            "organization_id": mine["id"],
            "contract_id": contract["id"],
        },
        headers=admin_headers(),
    )

    assert response.status_code == 422


async def test_a_long_downtime_extends_the_warranty_and_says_why(app, client, auth):
    from sqlalchemy import text

    org = await new_organization(client)
    base_end = date.today() + timedelta(days=10)
    asset = await new_asset(client, org["id"], warranty_end_date=str(base_end))
    ticket = await new_ticket(client, auth(), asset_id=asset["id"])
    async with app.state.sessionmaker() as session:
        await session.execute(
            text(
                "UPDATE ticket SET created_at = now() - interval '45 days', "
                "resolved_at = now() - interval '5 days', status = 'resolved' WHERE id = :id"
            ),
            {"id": ticket["id"]},
        )
        await session.commit()

    read = (await client.get(f"/v1/assets/{asset['id']}", headers=admin_headers())).json()

    w = read["warranty"]
    assert w["base_end_date"] == str(base_end)
    assert w["effective_end_date"] == str(base_end + timedelta(days=120))
    assert w["extensions"][0]["ticket_number"] == ticket["number"]
    assert "3 x 40.0 days" in w["extensions"][0]["reason"]


async def test_register_writes_emit_upserted_events(app, client):
    from sqlalchemy import text

    org = await new_organization(client)
    contact = await new_contact(client, org["id"])
    asset = await new_asset(client, org["id"])

    async with app.state.sessionmaker() as session:
        rows = (
            await session.execute(
                text("SELECT type, subject FROM outbox WHERE subject IN (:c, :a)"),
                {"c": contact["id"], "a": asset["id"]},
            )
        ).all()

    assert {(r.type, str(r.subject)) for r in rows} == {
        ("contact.upserted", contact["id"]),
        ("asset.upserted", asset["id"]),
    }


async def test_register_lists_page_with_cursors(client):
    org = await new_organization(client)
    for _ in range(5):
        await new_asset(client, org["id"])

    first = (
        await client.get(
            "/v1/assets", params={"organization_id": org["id"], "limit": 2}, headers=admin_headers()
        )
    ).json()
    second = (
        await client.get(
            "/v1/assets",
            params={"organization_id": org["id"], "limit": 2, "cursor": first["next_cursor"]},
            headers=admin_headers(),
        )
    ).json()

    assert len(first["items"]) == len(second["items"]) == 2
    assert not {a["id"] for a in first["items"]} & {a["id"] for a in second["items"]}


async def test_customers_see_only_their_own_register(client, auth):
    own, other = await new_organization(client), await new_organization(client)
    theirs = await new_contact(client, other["id"])
    customer = auth("customer", "c-9", own["id"])

    assert (await client.get(f"/v1/contacts/{theirs['id']}", headers=customer)).status_code == 404
    assert (
        await client.get(f"/v1/organizations/{other['id']}", headers=customer)
    ).status_code == 404
    listed = (await client.get("/v1/organizations", headers=customer)).json()["items"]
    assert [o["id"] for o in listed] == [own["id"]]
    assert (await client.get(f"/v1/organizations/{new_id()}", headers=customer)).status_code == 404
