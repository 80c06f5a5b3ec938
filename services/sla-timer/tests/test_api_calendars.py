"""/v1/sla/calendars through HTTP: CRUD, arithmetic anyone can check, holiday imports."""

import uuid

from tests.factories import T0

ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:a@test
DTSTART;VALUE=DATE:20260501
DTEND;VALUE=DATE:20260506
SUMMARY:Labour Day
END:VEVENT
BEGIN:VEVENT
UID:b@test
DTSTART;VALUE=DATE:20260509
DTEND;VALUE=DATE:20260510
SUMMARY:\xe8\xa1\xa5\xe7\x8f\xad
END:VEVENT
BEGIN:VEVENT
UID:c@test
DTSTART;VALUE=DATE:20261225
SUMMARY:Christmas
RRULE:FREQ=YEARLY
END:VEVENT
END:VCALENDAR
"""


def calendar_body(**overrides) -> dict:
    body = {
        "key": f"test-{uuid.uuid4().hex[:8]}",
        "name": "Test office hours",
        "time_zone": "Asia/Shanghai",
        "weekly_hours": {d: [["08:30", "12:00"], ["13:00", "17:00"]] for d in
                         ("mon", "tue", "wed", "thu", "fri")},
        "holidays": [{"start": "2026-02-15", "end": "2026-02-23", "name": "Spring Festival"}],
        "workdays": [{"date": "2026-02-14", "name": "make-up"}],
    }  # fmt: skip
    body.update(overrides)
    return body


async def test_the_seeded_calendars_are_there(client, auth):
    response = await client.get("/v1/sla/calendars", headers=auth())

    keys = [c["key"] for c in response.json()["items"]]
    assert {"24x7", "cn-office-hours"} <= set(keys)
    office = (await client.get("/v1/sla/calendars/cn-office-hours", headers=auth())).json()
    assert office["hours"] == "Mon-Fri 08:30-12:00, 13:00-17:00"
    assert len(office["workdays"]) == 6


async def test_creating_a_calendar_answers_201_with_location_and_etag(client, auth):
    response = await client.post("/v1/sla/calendars", json=calendar_body(), headers=auth("manager"))

    assert response.status_code == 201
    created = response.json()
    assert response.headers["location"] == f"/v1/sla/calendars/{created['id']}"
    assert response.headers["etag"] == '"1"'
    by_id = await client.get(response.headers["location"], headers=auth())
    assert by_id.json()["key"] == created["key"]


async def test_agents_read_but_only_managers_and_admins_write(client, auth):
    assert (await client.get("/v1/sla/calendars", headers=auth("agent"))).status_code == 200
    refused = await client.post("/v1/sla/calendars", json=calendar_body(), headers=auth("agent"))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    customer = auth("customer", "c-1", uuid.uuid4())
    assert (await client.get("/v1/sla/calendars", headers=customer)).status_code == 403


async def test_an_invalid_calendar_is_a_422_that_says_what_is_wrong(client, auth):
    body = calendar_body(weekly_hours={"mon": [["08:00", "12:00"], ["11:00", "13:00"]]})

    response = await client.post("/v1/sla/calendars", json=body, headers=auth("admin"))

    assert response.status_code == 422
    assert "overlap" in response.json()["detail"]
    bad_zone = await client.post(
        "/v1/sla/calendars", json=calendar_body(time_zone="Mars/Base"), headers=auth("admin")
    )
    assert bad_zone.status_code == 422
    assert bad_zone.json()["type"].endswith("/invalid-calendar")


async def test_a_taken_key_is_409(client, auth):
    body = calendar_body()
    await client.post("/v1/sla/calendars", json=body, headers=auth("admin"))

    again = await client.post("/v1/sla/calendars", json=body, headers=auth("admin"))

    assert again.status_code == 409
    assert again.json()["type"].endswith("/key-taken")


async def test_the_same_idempotency_key_replays_the_first_answer(client, auth):
    body, key = calendar_body(), f"k-{uuid.uuid4()}"
    headers = {**auth("admin"), "Idempotency-Key": key}

    first = await client.post("/v1/sla/calendars", json=body, headers=headers)
    second = await client.post("/v1/sla/calendars", json=body, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["idempotent-replay"] == "true"


async def test_updates_need_the_current_etag(client, auth):
    created = await client.post("/v1/sla/calendars", json=calendar_body(), headers=auth("admin"))
    url = created.headers["location"]

    missing = await client.patch(url, json={"name": "Renamed"}, headers=auth("admin"))
    stale = await client.patch(
        url, json={"name": "Renamed"}, headers={**auth("admin"), "If-Match": '"9"'}
    )
    ok = await client.patch(
        url, json={"name": "Renamed"}, headers={**auth("admin"), "If-Match": '"1"'}
    )

    assert missing.status_code == 428
    assert stale.status_code == 412
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"2"'
    assert ok.json()["name"] == "Renamed"


async def test_due_and_elapsed_let_anyone_check_the_arithmetic(client, auth):
    created = await client.post("/v1/sla/calendars", json=calendar_body(), headers=auth("admin"))
    key = created.json()["key"]
    start = "2026-02-13T08:00:00Z"  # Fri 16:00 in Shanghai

    due = await client.get(
        f"/v1/sla/calendars/{key}/due", params={"start": start, "minutes": 540}, headers=auth()
    )
    elapsed = await client.get(
        f"/v1/sla/calendars/{key}/elapsed",
        params={"start": start, "end": due.json()["due_at"]},
        headers=auth(),
    )

    assert due.status_code == 200
    assert due.json()["due_at"] == "2026-02-24T01:00:00Z"  # Tue 24 Feb 09:00
    assert any("Spring Festival" in line for line in due.json()["explanation"])
    assert elapsed.json()["working_minutes"] == 540


async def test_due_refuses_a_start_without_a_time_zone(client, auth):
    response = await client.get(
        "/v1/sla/calendars/24x7/due",
        params={"start": "2026-02-13T08:00:00", "minutes": 60},
        headers=auth(),
    )

    assert response.status_code == 422


async def test_an_unknown_calendar_is_404(client, auth):
    response = await client.get("/v1/sla/calendars/nope/due", params={
        "start": T0.isoformat(), "minutes": 5}, headers=auth())  # fmt: skip

    assert response.status_code == 404
    assert response.json()["type"].endswith("/calendar-not-found")


async def test_ics_import_adds_holidays_and_make_up_workdays(client, auth):
    created = await client.post(
        "/v1/sla/calendars", json=calendar_body(holidays=[], workdays=[]), headers=auth("admin")
    )
    url = created.headers["location"]

    response = await client.post(
        f"{url}/holidays/ics",
        content=ICS,
        params={"years": [2026]},
        headers={**auth("admin"), "If-Match": '"1"', "content-type": "text/calendar"},
    )

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["holidays_added"] == 2
    assert result["workdays_added"] == 1
    assert {"start": "2026-05-01", "end": "2026-05-05", "name": "Labour Day"} in result["calendar"][
        "holidays"
    ]
    assert result["calendar"]["workdays"][0]["date"] == "2026-05-09"


async def test_country_import_uses_the_holidays_package(client, auth):
    created = await client.post(
        "/v1/sla/calendars", json=calendar_body(holidays=[], workdays=[]), headers=auth("admin")
    )
    url = created.headers["location"]

    response = await client.post(
        f"{url}/holidays/country",
        json={"country": "CN", "years": [2026]},
        headers={**auth("admin"), "If-Match": '"1"'},
    )

    assert response.status_code == 200, response.text
    result = response.json()
    days = {h["start"] for h in result["calendar"]["holidays"]}
    assert "2026-10-01" in days
    assert {w["date"] for w in result["calendar"]["workdays"]} >= {"2026-02-14", "2026-10-10"}


async def test_list_is_cursor_paginated(client, auth):
    for _ in range(3):
        await client.post("/v1/sla/calendars", json=calendar_body(), headers=auth("admin"))

    first = (await client.get("/v1/sla/calendars", params={"limit": 2}, headers=auth())).json()
    second = (
        await client.get(
            "/v1/sla/calendars", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth()
        )
    ).json()

    assert len(first["items"]) == 2
    assert first["next_cursor"]
    assert not {c["key"] for c in first["items"]} & {c["key"] for c in second["items"]}


async def test_a_calendar_in_use_cannot_be_deleted_but_a_free_one_can(client, auth):
    created = await client.post("/v1/sla/calendars", json=calendar_body(), headers=auth("admin"))
    url = created.headers["location"]

    gone = await client.delete(url, headers={**auth("admin"), "If-Match": '"1"'})

    assert gone.status_code == 204
    assert (await client.get(url, headers=auth())).status_code == 404


async def test_a_forged_cursor_is_a_400_problem(client, auth):
    calendars = await client.get("/v1/sla/calendars", params={"cursor": "WzEsMl0"}, headers=auth())
    schedules = await client.get("/v1/sla/schedules", params={"cursor": "WyJ4Il0"}, headers=auth())

    assert calendars.status_code == 400
    assert schedules.status_code == 400
    assert calendars.json()["type"].endswith("/invalid-cursor")
