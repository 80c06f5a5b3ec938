"""Every intake route and every role (DESIGN §7): customers act within their own organisation
(another organisation's records answer 404), agents work tickets, managers also merge and
change severity, admins manage the register, integrations create tickets and messages."""

from dataclasses import dataclass
from typing import Any

import pytest

from tests.factories import (
    admin_headers,
    new_asset,
    new_contact,
    new_contract,
    new_organization,
    new_ticket,
    unique,
)

ROLES = ("anonymous", "customer", "stranger", "agent", "manager", "admin", "integration")


@dataclass
class World:
    org: dict
    contact: dict
    contract: dict
    asset: dict


async def ticket_in(client, world, **extra) -> dict:
    return await new_ticket(client, admin_headers(), organization_id=world.org["id"], **extra)


async def resolved_ticket(client, world) -> dict:
    t = await ticket_in(client, world)
    await client.post(
        f"/v1/tickets/{t['id']}/transitions",
        json={"action": "resolve", "resolution": "done"},
        headers=admin_headers(),
    )
    return t


async def prepare(name: str, client, world: World) -> tuple[str, str, dict[str, Any]]:
    o, c, k, a = world.org, world.contact, world.contract, world.asset
    match name:
        case "create organization":
            return "POST", "/v1/organizations", {"json": {"name": unique("O")}}
        case "list organizations":
            return "GET", "/v1/organizations", {}
        case "get organization":
            return "GET", f"/v1/organizations/{o['id']}", {}
        case "update organization":
            return "PATCH", f"/v1/organizations/{o['id']}", {"json": {"address": "x"}}
        case "create contact":
            return "POST", "/v1/contacts", {"json": {"organization_id": o["id"], "name": "N"}}
        case "list contacts":
            return "GET", "/v1/contacts", {}
        case "get contact":
            return "GET", f"/v1/contacts/{c['id']}", {}
        case "update contact":
            return "PATCH", f"/v1/contacts/{c['id']}", {"json": {"title": "CIO"}}
        case "create contract":
            return (
                "POST",
                "/v1/contracts",
                {
                    "json": {
                        "number": unique("C"),
                        "organization_id": o["id"],
                        "start_date": "2026-01-01",
                        "end_date": "2026-12-31",
                    }
                },
            )
        case "list contracts":
            return "GET", "/v1/contracts", {}
        case "get contract":
            return "GET", f"/v1/contracts/{k['id']}", {}
        case "update contract":
            return "PATCH", f"/v1/contracts/{k['id']}", {"json": {"policy_key": "x"}}
        case "create asset":
            return (
                "POST",
                "/v1/assets",
                {"json": {"serial": unique("S"), "product": "P", "organization_id": o["id"]}},
            )
        case "list assets":
            return "GET", "/v1/assets", {}
        case "get asset":
            return "GET", f"/v1/assets/{a['id']}", {}
        case "update asset":
            return "PATCH", f"/v1/assets/{a['id']}", {"json": {"model": "M"}}
        case "create ticket":
            return (
                "POST",
                "/v1/tickets",
                {"json": {"subject": "s", "organization_id": o["id"], "join_duplicates": False}},
            )
        case "list tickets":
            return "GET", "/v1/tickets", {}
        case "get ticket":
            return "GET", f"/v1/tickets/{(await ticket_in(client, world))['id']}", {}
        case "update ticket":
            t = await ticket_in(client, world)
            return "PATCH", f"/v1/tickets/{t['id']}", {"json": {"category": "software"}}
        case "change severity":
            t = await ticket_in(client, world)
            return "PATCH", f"/v1/tickets/{t['id']}", {"json": {"severity": 4}}
        case "act on ticket":
            t = await ticket_in(client, world)
            return "POST", f"/v1/tickets/{t['id']}/transitions", {"json": {"action": "start"}}
        case "confirm ticket":
            t = await resolved_ticket(client, world)
            return "POST", f"/v1/tickets/{t['id']}/confirmation", {"json": {"accepted": True}}
        case "merge ticket":
            t, into = await ticket_in(client, world), await ticket_in(client, world)
            return "POST", f"/v1/tickets/{t['id']}/merge", {"json": {"into_ticket_id": into["id"]}}
        case "list messages":
            return "GET", f"/v1/tickets/{(await ticket_in(client, world))['id']}/messages", {}
        case "add message":
            t = await ticket_in(client, world)
            return "POST", f"/v1/tickets/{t['id']}/messages", {"json": {"body": "hello"}}
        case "timeline":
            return "GET", f"/v1/tickets/{(await ticket_in(client, world))['id']}/timeline", {}
        case "list attachments":
            return "GET", f"/v1/tickets/{(await ticket_in(client, world))['id']}/attachments", {}
        case "add attachment":
            t = await ticket_in(client, world)
            return (
                "POST",
                f"/v1/tickets/{t['id']}/attachments",
                {"files": {"file": ("a.txt", b"log line", "text/plain")}},
            )
        case "download attachment":
            t = await ticket_in(client, world)
            up = await client.post(
                f"/v1/tickets/{t['id']}/attachments",
                files={"file": ("a.txt", b"log", "text/plain")},
                headers=admin_headers(),
            )
            return "GET", f"/v1/tickets/{t['id']}/attachments/{up.json()['id']}", {}
        case "receive email":
            raw = (
                f"From: <{c['emails'][0]}>\r\nSubject: matrix\r\n"
                f"Message-ID: <{unique()}@matrix.example>\r\n\r\nbody"
            ).encode()
            kwargs = {"content": raw, "headers": {"Content-Type": "message/rfc822"}}
            return "POST", "/v1/inbound/email", kwargs
        case "receive cti event":
            return "POST", "/v1/inbound/cti", {"json": {"event": "answer", "callId": unique()}}
        case "receive message":
            body = {"channel": "sms", "from": c["phones"][0]["e164"], "text": "hi",
                    "external_id": unique()}  # fmt: skip
            return "POST", "/v1/inbound/message", {"json": body}
        case "list calls":
            return "GET", "/v1/calls", {}
        case "get call" | "link call":
            call_id = unique("call-")
            await client.post(
                "/v1/inbound/cti",
                json={"event": "newCall", "callId": call_id, "direction": "in",
                      "from": c["phones"][0]["e164"], "to": "400"},
                headers=integration_headers(),
            )  # fmt: skip
            calls = await client.get(f"/v1/calls?number={c['phones'][0]['e164']}",
                                     headers=admin_headers())  # fmt: skip
            (call,) = [x for x in calls.json()["items"] if x["call_id"] == call_id]
            if name == "get call":
                return "GET", f"/v1/calls/{call['id']}", {}
            t = await ticket_in(client, world)
            return "POST", f"/v1/calls/{call['id']}/ticket", {"json": {"ticket_id": t["id"]}}
    raise AssertionError(name)


def integration_headers() -> dict[str, str]:
    from shared.auth import issue_token
    from shared.settings import ServiceSettings

    token = issue_token(ServiceSettings(), role="integration", sub="matrix-gateway")
    return {"Authorization": f"Bearer {token}"}


OK, CREATED = 200, 201
ALL_READ = {
    "customer": OK,
    "stranger": None,
    "agent": OK,
    "manager": OK,
    "admin": OK,
    "integration": OK,
}
# None: another organisation's record; 404, or for lists 200 with none of it.
ADMIN_ONLY_WRITE = {
    "customer": 403,
    "stranger": 403,
    "agent": 403,
    "manager": 403,
    "integration": 403,
}
STAFF_WRITE = {
    "customer": 403,
    "stranger": 403,
    "agent": OK,
    "manager": OK,
    "admin": OK,
    "integration": 403,
}

# Inbound gateways authenticate as integrations (or by signature); people get 403.
GATEWAY_ONLY = {"customer": 403, "stranger": 403, "agent": 403, "manager": 403, "admin": 403}

EXPECTED: dict[str, dict[str, int | None]] = {
    "create organization": {**ADMIN_ONLY_WRITE, "admin": CREATED},
    "list organizations": {**ALL_READ, "stranger": OK},
    "get organization": ALL_READ,
    "update organization": {**ADMIN_ONLY_WRITE, "admin": OK},
    "create contact": {**ADMIN_ONLY_WRITE, "admin": CREATED},
    "list contacts": {**ALL_READ, "stranger": OK},
    "get contact": ALL_READ,
    "update contact": {**ADMIN_ONLY_WRITE, "admin": OK},
    "create contract": {**ADMIN_ONLY_WRITE, "admin": CREATED},
    "list contracts": {**ALL_READ, "stranger": OK},
    "get contract": ALL_READ,
    "update contract": {**ADMIN_ONLY_WRITE, "admin": OK},
    "create asset": {**ADMIN_ONLY_WRITE, "admin": CREATED},
    "list assets": {**ALL_READ, "stranger": OK},
    "get asset": ALL_READ,
    "update asset": {**ADMIN_ONLY_WRITE, "admin": OK},
    "create ticket": {
        "customer": CREATED,
        "stranger": 422,
        "agent": CREATED,
        "manager": CREATED,
        "admin": CREATED,
        "integration": CREATED,
    },
    "list tickets": {**ALL_READ, "stranger": OK},
    "get ticket": ALL_READ,
    "update ticket": STAFF_WRITE,
    "change severity": {**STAFF_WRITE, "agent": 403},
    "act on ticket": STAFF_WRITE,
    "confirm ticket": {
        "customer": OK,
        "stranger": None,
        "agent": OK,
        "manager": OK,
        "admin": OK,
        "integration": 403,
    },
    "merge ticket": {**STAFF_WRITE, "agent": 403},
    "list messages": ALL_READ,
    "add message": {
        "customer": CREATED,
        "stranger": None,
        "agent": CREATED,
        "manager": CREATED,
        "admin": CREATED,
        "integration": CREATED,
    },
    "timeline": ALL_READ,
    "list attachments": ALL_READ,
    "add attachment": {
        "customer": CREATED,
        "stranger": None,
        "agent": CREATED,
        "manager": CREATED,
        "admin": CREATED,
        "integration": CREATED,
    },
    "download attachment": ALL_READ,
    "receive email": {**GATEWAY_ONLY, "integration": CREATED},
    "receive cti event": {**GATEWAY_ONLY, "integration": OK},
    "receive message": {**GATEWAY_ONLY, "integration": CREATED},
    "list calls": {**STAFF_WRITE, "integration": OK},
    "get call": {**STAFF_WRITE, "integration": OK},
    "link call": STAFF_WRITE,
}
CASES = [(route, role) for route in EXPECTED for role in ROLES]


@pytest.fixture(scope="module")
async def world(client) -> World:
    org = await new_organization(client)
    return World(
        org=org,
        contact=await new_contact(client, org["id"]),
        contract=await new_contract(client, org["id"]),
        asset=await new_asset(client, org["id"]),
    )


@pytest.fixture(scope="module")
async def stranger_org(client) -> dict:
    return await new_organization(client)


OPERATIONS = {
    "create organization": ("post", "/v1/organizations"),
    "list organizations": ("get", "/v1/organizations"),
    "get organization": ("get", "/v1/organizations/{organization_id}"),
    "update organization": ("patch", "/v1/organizations/{organization_id}"),
    "create contact": ("post", "/v1/contacts"),
    "list contacts": ("get", "/v1/contacts"),
    "get contact": ("get", "/v1/contacts/{contact_id}"),
    "update contact": ("patch", "/v1/contacts/{contact_id}"),
    "create contract": ("post", "/v1/contracts"),
    "list contracts": ("get", "/v1/contracts"),
    "get contract": ("get", "/v1/contracts/{contract_id}"),
    "update contract": ("patch", "/v1/contracts/{contract_id}"),
    "create asset": ("post", "/v1/assets"),
    "list assets": ("get", "/v1/assets"),
    "get asset": ("get", "/v1/assets/{asset_id}"),
    "update asset": ("patch", "/v1/assets/{asset_id}"),
    "create ticket": ("post", "/v1/tickets"),
    "list tickets": ("get", "/v1/tickets"),
    "get ticket": ("get", "/v1/tickets/{ticket_id}"),
    "update ticket": ("patch", "/v1/tickets/{ticket_id}"),
    "change severity": ("patch", "/v1/tickets/{ticket_id}"),
    "act on ticket": ("post", "/v1/tickets/{ticket_id}/transitions"),
    "confirm ticket": ("post", "/v1/tickets/{ticket_id}/confirmation"),
    "merge ticket": ("post", "/v1/tickets/{ticket_id}/merge"),
    "list messages": ("get", "/v1/tickets/{ticket_id}/messages"),
    "add message": ("post", "/v1/tickets/{ticket_id}/messages"),
    "timeline": ("get", "/v1/tickets/{ticket_id}/timeline"),
    "list attachments": ("get", "/v1/tickets/{ticket_id}/attachments"),
    "add attachment": ("post", "/v1/tickets/{ticket_id}/attachments"),
    "download attachment": ("get", "/v1/tickets/{ticket_id}/attachments/{attachment_id}"),
    "receive email": ("post", "/v1/inbound/email"),
    "receive cti event": ("post", "/v1/inbound/cti"),
    "receive message": ("post", "/v1/inbound/message"),
    "list calls": ("get", "/v1/calls"),
    "get call": ("get", "/v1/calls/{call_id}"),
    "link call": ("post", "/v1/calls/{call_id}/ticket"),
}


def test_the_matrix_covers_every_operation_of_the_api(app):
    operations = {
        (method, path)
        for path, item in app.openapi()["paths"].items()
        if path.startswith("/v1")
        for method in item
    }

    assert set(OPERATIONS) == set(EXPECTED)
    assert set(OPERATIONS.values()) == operations


@pytest.mark.parametrize(("route", "role"), CASES, ids=[f"{r}-{o}" for r, o in CASES])
async def test_route_by_role(route, role, client, auth, world, stranger_org):
    method, url, kwargs = await prepare(route, client, world)
    headers = {}
    if role == "customer":
        headers = auth("customer", "c-own", world.org["id"])
    elif role == "stranger":
        headers = auth("customer", "c-other", stranger_org["id"])
    elif role != "anonymous":
        headers = auth(role, f"{role}-1")
    if method == "PATCH" and role != "anonymous":
        current = await client.get(url, headers=admin_headers())
        headers["If-Match"] = current.headers["etag"]

    headers.update(kwargs.pop("headers", {}))
    response = await client.request(method, url, headers=headers, **kwargs)

    if role == "anonymous":
        assert response.status_code == 401
        return
    expected = EXPECTED[route][role]
    if expected is None:
        if method == "GET" and url.rstrip("/").split("/")[-1] in (
            "organizations",
            "contacts",
            "contracts",
            "assets",
            "tickets",
        ):
            assert response.status_code == 200
            assert world.org["id"] not in response.text
        else:
            assert response.status_code == 404, response.text
    else:
        assert response.status_code == expected, response.text
    if role == "stranger" and response.status_code == 200 and method == "GET":
        assert world.org["id"] not in response.text
