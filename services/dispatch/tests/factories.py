"""Small factories for dispatch's tests: unique names per call, created through the API."""

import uuid
from datetime import UTC, datetime

from shared import events
from shared.ids import new_id

MANAGER = {"role": "manager", "sub": "mgr-test"}
ALL_WEEK = [1, 2, 3, 4, 5, 6, 7]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def new_branch(client, auth, **overrides) -> dict:
    body = {
        "code": unique("BR"),
        "name": unique("Branch"),
        "tier": 1,
        "regions": [unique("R")],
        "time_zone": "Asia/Shanghai",
    }
    body.update(overrides)
    response = await client.post("/v1/branches", json=body, headers=auth(**MANAGER))
    assert response.status_code == 201, response.text
    return response.json()


async def new_engineer(client, auth, branch: dict, *, shift: bool = True, **overrides) -> dict:
    """An engineer of ``branch``; with ``shift`` on duty around the clock, every day."""
    body = {
        "user_id": unique("eng"),
        "name": unique("Engineer"),
        "branch_id": branch["id"],
        "skills": [],
        "max_open": 5,
    }
    body.update(overrides)
    response = await client.post("/v1/engineers", json=body, headers=auth(**MANAGER))
    assert response.status_code == 201, response.text
    engineer = response.json()
    if shift:
        await new_shift(client, auth, engineer, weekdays=ALL_WEEK, starts="00:00", ends="00:00")
    return engineer


async def new_shift(client, auth, engineer: dict, **overrides) -> dict:
    body = {"engineer_id": engineer["id"], "weekdays": [1, 2, 3, 4, 5], "starts": "08:30",
            "ends": "17:00"}  # fmt: skip
    body.update(overrides)
    response = await client.post("/v1/shifts", json=body, headers=auth(**MANAGER))
    assert response.status_code == 201, response.text
    return response.json()


def ticket_created(*, region: str | None, seq: int = 1, **data) -> events.TicketCreated:
    ticket_id = data.pop("ticket_id", None) or new_id()
    fields = {
        "ticket_id": ticket_id,
        "ticket_number": 100001,
        "severity": 2,
        "organization_id": new_id(),
        "organization_name": "Shanghai Metro",
        "subject": "Core switch down",
        "region": region,
        "created_at": datetime.now(UTC),
    }
    fields.update(data)
    return events.TicketCreated(subject=ticket_id, seq=seq, data=events.TicketCreatedData(**fields))
