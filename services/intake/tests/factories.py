"""Small async factories that create what a test needs through the API, with unique values."""

import uuid
from datetime import date, timedelta

from shared.auth import issue_token
from shared.settings import ServiceSettings

_ADMIN = None


def admin_headers() -> dict[str, str]:
    global _ADMIN
    if _ADMIN is None:
        _ADMIN = {
            "Authorization": "Bearer "
            + issue_token(ServiceSettings(), role="admin", sub="admin-test")
        }
    return _ADMIN


def unique(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def ticket_body(**overrides) -> dict:
    body = {
        "subject": f"Core switch down {unique()}",
        "description": "All floors lost network access at 09:12.",
        "severity": 1,
    }
    body.update(overrides)
    return body


async def new_organization(client, **overrides) -> dict:
    body = {"name": unique("Org "), "region_code": "310000", **overrides}
    response = await client.post("/v1/organizations", json=body, headers=admin_headers())
    assert response.status_code == 201, response.text
    return response.json()


async def new_contact(client, organization_id, **overrides) -> dict:
    body = {
        "organization_id": str(organization_id),
        "name": unique("Contact "),
        "emails": [f"{unique()}@customer.example.cn"],
        "phones": [{"number": f"138{uuid.uuid4().int % 10**8:08d}", "kind": "mobile"}],
        **overrides,
    }
    response = await client.post("/v1/contacts", json=body, headers=admin_headers())
    assert response.status_code == 201, response.text
    return response.json()


async def new_contract(client, organization_id, **overrides) -> dict:
    today = date.today()
    body = {
        "number": unique("C-"),
        "organization_id": str(organization_id),
        "coverage": "business_hours",
        "calendar_id": "cn-office",
        "policy_key": "fault-levels",
        "start_date": str(today - timedelta(days=30)),
        "end_date": str(today + timedelta(days=335)),
        "service_region": "310000",
        **overrides,
    }
    response = await client.post("/v1/contracts", json=body, headers=admin_headers())
    assert response.status_code == 201, response.text
    return response.json()


async def new_asset(client, organization_id, **overrides) -> dict:
    body = {
        "serial": unique("SN"),
        "product": "Huawei S5735 switch",
        "organization_id": str(organization_id),
        "site_address": "Building B, 88 Century Avenue",
        "region": "310115",
        "warranty_end_date": str(date.today() + timedelta(days=100)),
        **overrides,
    }
    response = await client.post("/v1/assets", json=body, headers=admin_headers())
    assert response.status_code == 201, response.text
    return response.json()


async def new_ticket(client, headers, **overrides) -> dict:
    if not any(
        k in overrides
        for k in ("organization_id", "contact_id", "contract_id", "asset_id", "serial")
    ):
        overrides["organization_id"] = (await new_organization(client))["id"]
    response = await client.post("/v1/tickets", json=ticket_body(**overrides), headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()
