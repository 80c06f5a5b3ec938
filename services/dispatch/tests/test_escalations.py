"""Deadlines and escalation: reminders, tier 1 → 2 → 3, manual escalation, vendor cases."""

from shared import events
from tests.factories import (
    MANAGER,
    assignments_of,
    deliver,
    new_branch,
    new_engineer,
    outbox_events,
    sla_event,
    ticket_created,
    unique,
)


async def setup_tiers(client, auth, *, product: str | None = None):
    """A region served by a local branch and a headquarters branch, one engineer each, and a
    vendor for ``product``."""
    region = unique("CN")
    local = await new_branch(client, auth, regions=[region])
    hq = await new_branch(client, auth, tier=2, regions=[region])
    field = await new_engineer(client, auth, local)
    expert = await new_engineer(client, auth, hq)
    vendor = None
    if product:
        vendor = (
            await client.post(
                "/v1/vendors",
                json={"name": unique("Vendor"), "products": [product]},
                headers=auth(**MANAGER),
            )
        ).json()
    return region, field, expert, vendor


async def test_a_response_warning_records_a_reminder_for_the_engineer(app, client, auth):
    region, field, _, _ = await setup_tiers(client, auth)
    event = ticket_created(region=region)
    await deliver(app, event)

    await deliver(app, sla_event(events.SlaWarning, event.subject, threshold=0.9))

    [assignment] = await assignments_of(client, auth, event.subject)
    detail = (await client.get(f"/v1/assignments/{assignment['id']}", headers=auth())).json()
    assert [r["timer_kind"] for r in detail["reminders"]] == ["response"]
    assert "90%" in detail["reminders"][0]["note"]
    assert detail["engineer_id"] == field["id"]


async def test_a_response_breach_escalates_to_headquarters_keeping_the_branch_engineer(
    app, client, auth
):
    region, field, expert, _ = await setup_tiers(client, auth)
    event = ticket_created(region=region)
    await deliver(app, event)
    breach = sla_event(events.SlaBreached, event.subject, "response")

    await deliver(app, breach)
    again = sla_event(events.SlaBreached, event.subject, "response", timer_id=breach.data.timer_id)
    await deliver(app, again)

    active = {
        a["engineer_id"]: a
        for a in await assignments_of(client, auth, event.subject, active="true")
    }
    assert set(active) == {field["id"], expert["id"]}
    assert (active[expert["id"]]["role"], active[expert["id"]]["tier"]) == ("primary", 2)
    assert active[field["id"]]["role"] == "support"
    emitted = await outbox_events(app, event.subject)
    assert [e["type"] for e in emitted] == [
        "ticket.assigned",
        "ticket.escalated",
        "ticket.assigned",
    ]
    escalated = emitted[1]["data"]
    assert (escalated["from_tier"], escalated["to_tier"], escalated["trigger"]) == (
        1,
        2,
        "sla_breached",
    )
    assert "response deadline" in escalated["reason"]
    listed = (
        await client.get(
            "/v1/assignments/escalations", params={"ticket_id": str(event.subject)}, headers=auth()
        )
    ).json()
    assert len(listed["items"]) == 1
    assert listed["items"][0]["from_engineer_id"] == field["id"]


async def test_a_resolution_breach_at_tier_2_opens_a_vendor_case(app, client, auth):
    product = unique("Firewall")
    region, _, expert, vendor = await setup_tiers(client, auth, product=product)
    event = ticket_created(region=region, product=product)
    await deliver(app, event)
    await deliver(app, sla_event(events.SlaBreached, event.subject, "response"))

    await deliver(app, sla_event(events.SlaBreached, event.subject, "resolution"))

    last = (await outbox_events(app, event.subject))[-1]
    assert last["type"] == "ticket.escalated"
    assert (last["data"]["to_tier"], last["data"]["vendor"]) == (3, vendor["name"])
    cases = (
        await client.get(
            "/v1/vendors/cases", params={"ticket_id": str(event.subject)}, headers=auth()
        )
    ).json()["items"]
    assert [c["vendor_id"] for c in cases] == [vendor["id"]]
    primary = [
        a
        for a in await assignments_of(client, auth, event.subject, active="true")
        if a["role"] == "primary"
    ]
    assert [a["engineer_id"] for a in primary] == [expert["id"]]

    recorded = await client.patch(
        f"/v1/vendors/cases/{cases[0]['id']}",
        json={"vendor_case_ref": "TAC-778812"},
        headers={**auth(**MANAGER), "If-Match": '"1"'},
    )
    assert recorded.status_code == 200 and recorded.json()["vendor_case_ref"] == "TAC-778812"

    await deliver(app, sla_event(events.SlaBreached, event.subject, "resolution"))
    assert (await outbox_events(app, event.subject))[-1]["type"] == "ticket.escalated"


async def test_an_engineer_escalates_their_own_ticket_by_hand_and_others_may_not(app, client, auth):
    region, field, expert, _ = await setup_tiers(client, auth)
    event = ticket_created(region=region)
    await deliver(app, event)
    body = {"ticket_id": str(event.subject), "reason": "needs a core network expert"}

    stranger = await client.post(
        "/v1/assignments/escalations", json=body, headers=auth("agent", unique("other"))
    )
    own = await client.post(
        "/v1/assignments/escalations", json=body, headers=auth("agent", field["user_id"])
    )

    assert stranger.status_code == 403
    assert own.status_code == 201
    assert (own.json()["from_tier"], own.json()["to_tier"], own.json()["trigger"]) == (
        1,
        2,
        "manual",
    )
    escalated = [
        e for e in await outbox_events(app, event.subject) if e["type"] == "ticket.escalated"
    ]
    assert escalated[0]["data"]["escalated_by"] == field["user_id"]
    assert escalated[0]["data"]["reason"] == "needs a core network expert"
    primary = [
        a
        for a in await assignments_of(client, auth, event.subject, active="true")
        if a["role"] == "primary"
    ]
    assert primary[0]["engineer_id"] == expert["id"]


async def test_manual_escalation_to_the_vendor_with_its_reference(app, client, auth):
    region, _, _, _ = await setup_tiers(client, auth)
    vendor = (
        await client.post("/v1/vendors", json={"name": unique("Vendor")}, headers=auth(**MANAGER))
    ).json()
    event = ticket_created(region=region)
    await deliver(app, event)
    escalate = {"ticket_id": str(event.subject), "reason": "hardware defect"}
    await client.post("/v1/assignments/escalations", json=escalate, headers=auth(**MANAGER))

    to_vendor = await client.post(
        "/v1/assignments/escalations",
        json={**escalate, "vendor_id": vendor["id"], "vendor_case_ref": "SR 3-2231"},
        headers=auth(**MANAGER),
    )
    beyond = await client.post(
        "/v1/assignments/escalations", json=escalate, headers=auth(**MANAGER)
    )

    assert to_vendor.status_code == 201
    last = (await outbox_events(app, event.subject))[-1]["data"]
    assert (last["vendor"], last["vendor_case_ref"]) == (vendor["name"], "SR 3-2231")
    assert beyond.status_code == 409
    assert beyond.json()["type"].endswith("/at-top-tier")


async def test_closing_the_ticket_releases_everyone_and_closes_the_vendor_case(app, client, auth):
    product = unique("Storage")
    region, field, expert, _ = await setup_tiers(client, auth, product=product)
    event = ticket_created(region=region, product=product)
    await deliver(app, event)
    await deliver(app, sla_event(events.SlaBreached, event.subject, "response"))
    await deliver(app, sla_event(events.SlaBreached, event.subject, "resolution"))

    from tests.factories import status_event

    await deliver(app, status_event(events.TicketClosed, event.subject, seq=9))

    assert await assignments_of(client, auth, event.subject, active="true") == []
    cases = (
        await client.get(
            "/v1/vendors/cases", params={"ticket_id": str(event.subject)}, headers=auth()
        )
    ).json()["items"]
    assert [c["status"] for c in cases] == ["closed"]
    for engineer in (field, expert):
        me = (await client.get(f"/v1/engineers/{engineer['id']}", headers=auth())).json()
        assert me["open_count"] == 0
