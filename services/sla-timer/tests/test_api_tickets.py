"""GET /v1/sla/tickets/{id}: every clock with its arithmetic in words; changes recompute."""

from datetime import UTC, datetime, timedelta

from shared.testing import wait_until
from tests.factories import Story
from tests.helpers import deliver, timers_of


async def test_a_tickets_clocks_explain_themselves(client, auth, app):
    start = datetime(2026, 2, 13, 8, 0, tzinfo=UTC)  # Fri 16:00 in Shanghai
    story = Story(start=start, severity=1)
    await deliver(app, story.created(coverage="business_hours"))
    await deliver(app, story.status(30, "new", "pending_customer"))
    await deliver(app, story.status(60 * 17 + 30, "pending_customer", "in_progress"))  # Sat 09:30

    response = await client.get(f"/v1/sla/tickets/{story.ticket_id}", headers=auth())

    assert response.status_code == 200
    body = response.json()
    assert body["calendar"] == "cn-office-hours"
    response_clock = next(t for t in body["timers"] if t["kind"] == "response")
    # 30 min on Friday; paused until Sat 09:30 (a make-up workday); 30 min more.
    assert response_clock["due_at"] == "2026-02-14T02:00:00Z"
    assert response_clock["working_seconds_paused"] == 30 * 60 + 60 * 60
    text = " ".join(response_clock["explanation"])
    assert "fault-levels" in text
    assert "Paused from" in text
    assert "make-up workday" in text
    assert "Mon-Fri 08:30-12:00, 13:00-17:00" in text


async def test_customers_see_their_own_tickets_clocks_only(client, auth, app):
    story = Story(start=datetime.now(UTC))
    await deliver(app, story.created())

    own = await client.get(
        f"/v1/sla/tickets/{story.ticket_id}", headers=auth("customer", "c", story.organization_id)
    )
    other = await client.get(
        f"/v1/sla/tickets/{story.ticket_id}", headers=auth("customer", "c", Story().ticket_id)
    )

    assert own.status_code == 200
    assert other.status_code == 404


async def test_a_calendar_change_moves_open_deadlines_and_keeps_used_time(client, auth, app):
    key = f"cal-{Story().number}"
    hours = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    made = await client.post(
        "/v1/sla/calendars",
        json={"key": key, "name": "Nine to five", "time_zone": "UTC", "weekly_hours": hours},
        headers=auth("admin"),
    )
    start = datetime.now(UTC) + timedelta(days=30)
    story = Story(start=start.replace(hour=10, minute=0, second=0, microsecond=0))
    await deliver(app, story.created(calendar_id=key, coverage="business_hours"))
    before = (await timers_of(app, story.ticket_id))["resolution", 1]["due_at"]

    shorter = {d: [["09:00", "11:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    changed = await client.patch(
        made.headers["location"],
        json={"weekly_hours": shorter},
        headers={**auth("admin"), "If-Match": '"1"'},
    )
    assert changed.status_code == 200

    async def moved():
        due = (await timers_of(app, story.ticket_id))["resolution", 1]["due_at"]
        return due if due != before else None

    after = await wait_until(moved, timeout=20)
    assert after != before


async def test_an_unknown_ticket_is_404(client, auth):
    response = await client.get(f"/v1/sla/tickets/{Story().ticket_id}", headers=auth())

    assert response.status_code == 404


async def test_a_new_contract_calendar_is_followed(client, auth, app):
    start = datetime(2026, 3, 6, 8, 0, tzinfo=UTC)  # Fri 16:00 in Shanghai
    story = Story(start=start)
    await deliver(app, story.created())
    await deliver(app, story.updated(1, calendar_id=(None, "cn-office-hours")))

    body = (await client.get(f"/v1/sla/tickets/{story.ticket_id}", headers=auth())).json()

    resolution = next(t for t in body["timers"] if t["kind"] == "resolution")
    assert body["calendar"] == "cn-office-hours"
    assert resolution["calendar"] == "cn-office-hours"
    # 5 h: Fri 16:00-17:00, Mon 08:30-12:00, then 30 min after lunch.
    assert resolution["due_at"] == "2026-03-09T05:30:00Z"
