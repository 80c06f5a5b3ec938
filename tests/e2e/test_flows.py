"""Flows that cross services, through the gateway: a ticket's SLA clocks start from its
contract's policy and calendar, and the arithmetic endpoints answer."""

from shared.testing import wait_until


def bearer(token, role="agent", sub="eng-system"):
    return {"Authorization": f"Bearer {token(role, sub)}"}


async def test_a_severe_fault_gets_the_contracts_one_hour_response_clock(gateway, token):
    admin = bearer(token, "admin", "admin-system")
    org = (
        await gateway.post("/v1/organizations", json={"name": "SLA Flow Customer"}, headers=admin)
    ).json()
    contract = await gateway.post(
        "/v1/contracts",
        headers=admin,
        json={
            "number": f"SLA-{org['id'][-8:]}",
            "organization_id": org["id"],
            "coverage": "24x7",
            "calendar_id": "24x7",
            "policy_key": "fault-levels",
            "start_date": "2026-01-01",
            "end_date": "2030-12-31",
        },
    )
    assert contract.status_code == 201, contract.text
    ticket = (
        await gateway.post(
            "/v1/tickets",
            headers=bearer(token),
            json={"subject": "Core router down", "severity": 1, "organization_id": org["id"]},
        )
    ).json()

    async def clocks():
        r = await gateway.get(f"/v1/sla/tickets/{ticket['id']}", headers=bearer(token))
        return r.json() if r.status_code == 200 and r.json()["timers"] else None

    sla = await wait_until(clocks, timeout=20)

    assert (sla["policy"], sla["calendar"]) == ("fault-levels", "24x7")
    response = next(t for t in sla["timers"] if t["kind"] == "response")
    assert response["target_minutes"] == 60
    assert sla["explanation"]


async def test_the_calendar_arithmetic_is_open_to_check(gateway, token):
    response = await gateway.get(
        "/v1/sla/calendars/cn-office-hours/due",
        params={"start": "2026-11-18T16:00:00+08:00", "minutes": 120},
        headers=bearer(token),
    )

    assert response.status_code == 200
    # Wednesday 16:00 + 2 working hours: one hour that day, the next from 08:30 on Thursday.
    assert response.json()["due_at"].startswith("2026-11-19T01:30")
