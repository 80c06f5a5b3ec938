"""/v1/sla/schedules: RRULE schedules; each occurrence emits schedule.due once."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from shared.ids import new_id
from shared.testing import wait_until


def schedule_body(**overrides) -> dict:
    body = {
        "purpose": "inspection",
        "rrule": "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1",
        "dtstart": "2026-01-01T09:00:00",
        "time_zone": "Asia/Shanghai",
        "organization_id": str(new_id()),
        "contract_id": str(new_id()),
        "payload": {"product": "Core network", "site": "Pudong"},
    }
    body.update(overrides)
    return body


async def test_a_quarterly_inspection_lists_its_next_occurrences(client, auth):
    response = await client.post("/v1/sla/schedules", json=schedule_body(), headers=auth("manager"))

    assert response.status_code == 201, response.text
    upcoming = response.json()["upcoming"]
    assert len(upcoming) == 5
    months = [datetime.fromisoformat(u.replace("Z", "+00:00")).month for u in upcoming]
    assert len(set(months) & {1, 4, 7, 10}) >= 3
    assert all(u.endswith("T01:00:00Z") for u in upcoming)  # 09:00 in Shanghai


async def test_a_bad_rule_is_a_422_naming_it(client, auth):
    response = await client.post(
        "/v1/sla/schedules", json=schedule_body(rrule="FREQ=SOMETIMES"), headers=auth("admin")
    )

    assert response.status_code == 422
    assert response.json()["type"].endswith("/invalid-schedule")


async def test_each_occurrence_emits_schedule_due_once(client, auth, app):
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    body = schedule_body(
        rrule="FREQ=SECONDLY;INTERVAL=1;COUNT=3",
        dtstart=first.isoformat(),
        time_zone="UTC",
    )
    created = (await client.post("/v1/sla/schedules", json=body, headers=auth("admin"))).json()

    async def fired():
        async with app.state.sessionmaker() as session:
            rows = (
                await session.execute(
                    text("SELECT payload FROM outbox WHERE subject = :s AND type = 'schedule.due'"),
                    {"s": created["id"]},
                )
            ).scalars()
            found = list(rows)
        return found if len(found) >= 3 else None

    events = await wait_until(fired, timeout=20)
    await __import__("asyncio").sleep(1.5)

    assert len(await fired()) == 3
    occurrences = sorted(e["data"]["occurrence_at"] for e in events)
    assert len(set(occurrences)) == 3
    assert events[0]["data"]["payload"] == {"product": "Core network", "site": "Pudong"}
    final = (await client.get(f"/v1/sla/schedules/{created['id']}", headers=auth())).json()
    assert final["next_occurrence_at"] is None


async def test_update_and_delete_need_the_etag(client, auth):
    created = await client.post("/v1/sla/schedules", json=schedule_body(), headers=auth("admin"))
    url = created.headers["location"]

    stale = await client.patch(
        url, json={"active": False}, headers={**auth("admin"), "If-Match": '"7"'}
    )
    paused = await client.patch(
        url, json={"active": False}, headers={**auth("admin"), "If-Match": '"1"'}
    )
    deleted = await client.delete(url, headers={**auth("admin"), "If-Match": '"2"'})

    assert stale.status_code == 412
    assert paused.json()["upcoming"] == []
    assert deleted.status_code == 204


async def test_schedules_are_filtered_and_paginated(client, auth):
    org = str(new_id())
    for _ in range(3):
        await client.post(
            "/v1/sla/schedules", json=schedule_body(organization_id=org), headers=auth("admin")
        )

    page = (
        await client.get(
            "/v1/sla/schedules", params={"organization_id": org, "limit": 2}, headers=auth()
        )
    ).json()
    rest = (
        await client.get(
            "/v1/sla/schedules",
            params={"organization_id": org, "limit": 2, "cursor": page["next_cursor"]},
            headers=auth(),
        )
    ).json()

    assert len(page["items"]) == 2
    assert len(rest["items"]) == 1
