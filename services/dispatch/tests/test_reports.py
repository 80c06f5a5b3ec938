"""GET /v1/reports/engineers: the month's figures per engineer."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tests.factories import (
    MANAGER,
    assignments_of,
    deliver,
    new_branch,
    new_engineer,
    ticket_created,
    unique,
)


async def test_the_month_counts_what_each_engineer_did(app, client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    hq = await new_branch(client, auth, tier=2, regions=[region])
    await new_engineer(client, auth, hq)
    engineer = await new_engineer(client, auth, branch)
    idle = await new_engineer(client, auth, branch, max_open=0)
    me = auth("agent", engineer["user_id"])
    first, second = ticket_created(region=region), ticket_created(region=region)
    await deliver(app, first, second)
    a1, a2 = [(await assignments_of(client, auth, t.subject))[0] for t in (first, second)]
    await client.post(f"/v1/assignments/{a1['id']}/accept", headers=me)
    await client.post(f"/v1/assignments/{a1['id']}/check-in", json={}, headers=me)
    await client.post(
        "/v1/assignments/escalations",
        json={"ticket_id": str(first.subject), "reason": "needs HQ"},
        headers=me,
    )
    await client.post(f"/v1/assignments/{a2['id']}/decline", json={"reason": "busy"}, headers=me)
    month = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")

    response = await client.get(
        "/v1/reports/engineers",
        params={"month": month, "branch_id": branch["id"]},
        headers=auth(**MANAGER),
    )

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["time_zone"] == "Asia/Shanghai"
    rows = {r["engineer_id"]: r for r in report["items"]}
    assert set(rows) == {engineer["id"], idle["id"]}
    mine = rows[engineer["id"]]
    assert (mine["assignments"], mine["accepted"], mine["declined"]) == (2, 1, 1)
    assert (mine["visits"], mine["escalations"]) == (1, 1)
    assert mine["median_accept_seconds"] is not None and mine["median_accept_seconds"] >= 0
    assert rows[idle["id"]]["assignments"] == 0


async def test_reports_are_for_managers_and_need_a_month(client, auth):
    agent = await client.get("/v1/reports/engineers?month=2026-03", headers=auth())
    bad = await client.get("/v1/reports/engineers?month=2026-13", headers=auth(**MANAGER))
    missing = await client.get("/v1/reports/engineers", headers=auth(**MANAGER))

    assert agent.status_code == 403
    assert bad.status_code == 422 and bad.json()["type"].endswith("/invalid-month")
    assert missing.status_code == 422
