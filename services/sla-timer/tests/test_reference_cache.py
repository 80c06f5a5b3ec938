"""Calendars and policies are cached per row version: a change is used by the very next event,
whoever made it (the API, or SQL that does not bump ``version``)."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from sla_timer import reference, sql
from tests.factories import Story
from tests.helpers import deliver, timers_of

MONDAY_10 = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)  # a Monday; UTC calendars below
NINE_TO_FIVE = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
NINE_TO_ELEVEN = {d: [["09:00", "11:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


async def make_calendar(client, auth, hours) -> tuple[str, str]:
    key = f"cache-{uuid.uuid4().hex[:8]}"
    made = await client.post(
        "/v1/sla/calendars",
        json={"key": key, "name": "Cached", "time_zone": "UTC", "weekly_hours": hours},
        headers=auth("admin"),
    )
    assert made.status_code == 201
    return key, made.headers["location"]


async def resolution_due(app, **opening) -> datetime:
    """A new severity-1 fault (fault-levels: resolved in 5 h) opened Monday 10:00 UTC."""
    story = Story(start=MONDAY_10, severity=1)
    await deliver(app, story.created(coverage="business_hours", **opening))
    return (await timers_of(app, story.ticket_id))["resolution", 1]["due_at"]


async def test_a_calendar_changed_through_the_api_is_used_by_the_next_ticket(client, auth, app):
    key, url = await make_calendar(client, auth, NINE_TO_FIVE)
    assert await resolution_due(app, calendar_id=key) == datetime(2030, 3, 4, 15, tzinfo=UTC)
    # Cached now; a second ticket on the same row version gives the same deadline.
    assert await resolution_due(app, calendar_id=key) == datetime(2030, 3, 4, 15, tzinfo=UTC)

    changed = await client.patch(
        url, json={"weekly_hours": NINE_TO_ELEVEN}, headers={**auth("admin"), "If-Match": '"1"'}
    )
    assert changed.status_code == 200

    # 1 h on Monday, 2 h on Tuesday, 2 h on Wednesday.
    assert await resolution_due(app, calendar_id=key) == datetime(2030, 3, 6, 11, tzinfo=UTC)


async def test_a_calendar_changed_by_sql_without_a_new_version_is_seen(client, auth, app):
    key, _ = await make_calendar(client, auth, NINE_TO_FIVE)
    assert await resolution_due(app, calendar_id=key) == datetime(2030, 3, 4, 15, tzinfo=UTC)

    async with app.state.sessionmaker() as session:
        await session.execute(
            text("UPDATE calendar SET weekly_hours = CAST(:h AS jsonb) WHERE key = :k"),
            {"h": sql.dumps(NINE_TO_ELEVEN), "k": key},
        )
        await session.commit()

    assert await resolution_due(app, calendar_id=key) == datetime(2030, 3, 6, 11, tzinfo=UTC)


async def test_a_calendar_deleted_and_created_again_under_its_key_is_seen(client, auth, app):
    key, url = await make_calendar(client, auth, NINE_TO_FIVE)
    async with app.state.sessionmaker() as session:
        first, _ = await reference.lookup(await sql.driver(session), {key}, ())
    deleted = await client.delete(url, headers={**auth("admin"), "If-Match": '"1"'})
    assert deleted.status_code == 204
    again = await client.post(
        "/v1/sla/calendars",
        json={"key": key, "name": "Again", "time_zone": "UTC", "weekly_hours": NINE_TO_ELEVEN},
        headers=auth("admin"),
    )
    assert again.status_code == 201

    async with app.state.sessionmaker() as session:
        second, _ = await reference.lookup(await sql.driver(session), {key}, ())
    assert second[key].name == "Again"
    assert second[key].id != first[key].id
    assert await resolution_due(app, calendar_id=key) == datetime(2030, 3, 6, 11, tzinfo=UTC)


async def test_an_unchanged_row_is_converted_once(client, auth, app):
    key, url = await make_calendar(client, auth, NINE_TO_FIVE)

    async def look():
        async with app.state.sessionmaker() as session:
            return await reference.lookup(await sql.driver(session), {key}, {"fault-levels"})

    (cal_a, pol_a), (cal_b, pol_b) = await look(), await look()
    assert cal_a[key] is cal_b[key]
    assert pol_a["fault-levels"] is pol_b["fault-levels"]

    await client.patch(url, json={"name": "Renamed"}, headers={**auth("admin"), "If-Match": '"1"'})
    cal_c, _ = await look()
    assert cal_c[key] is not cal_a[key]
    assert cal_c[key].name == "Renamed"


async def test_a_changed_policy_is_used_by_the_next_ticket(client, auth, app):
    key = f"p-{uuid.uuid4().hex[:8]}"
    body = {
        "key": key,
        "name": "Gold",
        "rows": [{"kind": "fault", "severity": 1, "response": 30, "resolution": 240}],
    }
    created = await client.post("/v1/sla/policies", json=body, headers=auth("admin"))
    assert created.status_code == 201

    async def response_target() -> int:
        story = Story(start=MONDAY_10, severity=1)
        await deliver(app, story.created(policy_key=key))
        return (await timers_of(app, story.ticket_id))["response", 1]["target_seconds"]

    assert await response_target() == 30 * 60
    assert await response_target() == 30 * 60

    rows = [{"kind": "fault", "severity": 1, "response": 45, "resolution": 240}]
    changed = await client.patch(
        created.headers["location"],
        json={"rows": rows},
        headers={**auth("admin"), "If-Match": '"1"'},
    )
    assert changed.status_code == 200
    assert await response_target() == 45 * 60

    async with app.state.sessionmaker() as session:
        await session.execute(
            text("UPDATE policy SET rows = CAST(:r AS jsonb) WHERE key = :k"),
            {"r": sql.dumps([{**rows[0], "response": 20}]), "k": key},
        )
        await session.commit()
    assert await response_target() == 20 * 60
