"""GET /v1/sla/reports/compliance: met and breached per group and timer kind, JSON and CSV."""

from datetime import UTC, datetime, timedelta

from shared.ids import new_id
from tests.factories import Story
from tests.helpers import deliver


async def test_compliance_counts_met_and_breached_per_severity(client, auth, app):
    org = new_id()
    start = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)
    on_time = Story(start=start, organization_id=org)
    late = Story(start=start, organization_id=org)
    await deliver(app, on_time.created())
    await deliver(app, on_time.acknowledged(30))
    await deliver(app, late.created())
    await deliver(app, late.acknowledged(90))
    params = {
        "from": "2025-06-01T00:00:00Z",
        "to": "2025-07-01T00:00:00Z",
        "group_by": "organization",
        "organization_id": str(org),
    }

    report = (await client.get("/v1/sla/reports/compliance", params=params, headers=auth())).json()
    csv = await client.get(
        "/v1/sla/reports/compliance", params={**params, "format": "csv"}, headers=auth()
    )

    rows = {r["timer_kind"]: r for r in report["rows"]}
    assert rows["response"]["met"] == 1
    assert rows["response"]["breached"] == 1
    assert rows["response"]["met_rate"] == 0.5
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0] == "organization,timer_kind,met,breached,open,total,met_rate"
    assert f"{org},response,1,1,0,2,0.5000" in lines


async def test_month_grouping_and_a_bad_period(client, auth):
    bad = await client.get(
        "/v1/sla/reports/compliance",
        params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        headers=auth(),
    )
    month = await client.get(
        "/v1/sla/reports/compliance",
        params={
            "from": (datetime.now(UTC) - timedelta(days=400)).isoformat(),
            "to": datetime.now(UTC).isoformat(),
            "group_by": "month",
        },
        headers=auth(),
    )

    assert bad.status_code == 400
    assert month.status_code == 200
    assert all(len(r["group"]) == 7 for r in month.json()["rows"])
