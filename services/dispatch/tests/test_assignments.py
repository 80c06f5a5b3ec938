"""Routing tickets to engineers, the engineers' actions and the managers' moves, end to end
through the handlers and the API against the real database."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from dispatch import assignments, requeue, sql
from dispatch.handlers import on_ticket_created
from shared import events
from shared.db import transaction
from shared.ids import new_id
from shared.testing import wait_until
from tests.factories import (
    ALL_WEEK,
    MANAGER,
    assignments_of,
    deliver,
    deliver_batch,
    new_branch,
    new_engineer,
    outbox_events,
    status_event,
    ticket_created,
    unique,
)


def types(payloads: list[dict]) -> list[str]:
    return [p["type"] for p in payloads]


async def only_active(client, auth, ticket_id) -> dict:
    active = await assignments_of(client, auth, ticket_id, active="true")
    assert len(active) == 1, active
    return active[0]


async def load_of(app, engineer_id) -> int:
    async with app.state.sessionmaker() as session:
        return (
            await session.execute(
                text("SELECT open_count FROM engineer_load WHERE engineer_id = :id"),
                {"id": engineer_id},
            )
        ).scalar_one()


async def test_a_batch_of_new_tickets_is_spread_as_one_by_one_routing_would(app, client, auth):
    """A consumer batch prepares its run of ticket.created together (locks, inserts, loads);
    each decision must still see the assignments made before it in the run."""
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    engineers = [await new_engineer(client, auth, branch, max_open=10) for _ in range(3)]
    known = ticket_created(region=region)
    await deliver(app, known)  # routed alone: one engineer has one ticket already
    run = [ticket_created(region=region) for _ in range(7)]
    # The known ticket's creation again (another event id) and a repeat of one event.
    again = ticket_created(region=region, ticket_id=known.subject)

    await deliver_batch(app, run[0], again, *run[1:], run[3])

    for event in [known, *run]:
        await only_active(client, auth, event.subject)
    loads = sorted([await load_of(app, uuid.UUID(e["id"])) for e in engineers])
    assert loads == [2, 3, 3]  # 8 tickets over 3 engineers, never more than one apart
    for event in run:
        active = await only_active(client, auth, event.subject)
        shown = (await client.get(f"/v1/assignments/{active['id']}", headers=auth())).json()
        assert shown["decision"]["outcome"] == "assigned"
        assert shown["decision"]["reason"]["winner"] == active["engineer_id"]


def runs_routed(outcome: str) -> float:
    value = REGISTRY.get_sample_value("aftercare_dispatch_batch_runs_total", {"outcome": outcome})
    return value or 0.0


async def test_a_batch_of_new_tickets_is_decided_and_written_together_in_order(app, client, auth):
    """A run of new tickets is decided in order in memory and written in one statement: the
    reasons name the engineers assigned, the events go out in the run's order, the loads count
    every assignment, and a ticket nobody can take any more in the run waits in the queue."""
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    engineers = [await new_engineer(client, auth, branch, max_open=2) for _ in range(2)]
    run = [ticket_created(region=region) for _ in range(5)]
    planned = runs_routed("planned")

    await deliver_batch(app, *run)

    assert runs_routed("planned") == planned + 1
    for event in run[:4]:
        active = await only_active(client, auth, event.subject)
        shown = (await client.get(f"/v1/assignments/{active['id']}", headers=auth())).json()
        reason = shown["decision"]["reason"]
        assert reason["winner"] == active["engineer_id"]
        assert reason["notes"] == []
        emitted = await outbox_events(app, event.subject)
        assert types(emitted) == ["ticket.assigned"]
        assert emitted[0]["data"]["assignment_id"] == active["id"]
    # Two engineers of two places each: the fifth ticket waits, and says why.
    assert await assignments_of(client, auth, run[4].subject) == []
    assert types(await outbox_events(app, run[4].subject)) == ["ticket.unassigned"]
    assert sorted([await load_of(app, uuid.UUID(e["id"])) for e in engineers]) == [2, 2]
    # Alternating, as one by one: each decision saw the assignments before it in the run.
    winners = [(await only_active(client, auth, e.subject))["engineer_id"] for e in run[:4]]
    assert winners[0] != winners[1] and winners[2] != winners[3]
    async with app.state.sessionmaker() as session:
        order = await session.execute(
            text(
                "SELECT subject FROM outbox WHERE subject = ANY(:ids) AND type = "
                "'ticket.assigned' ORDER BY position"
            ),
            {"ids": [e.subject for e in run]},
        )
        assert [r.subject for r in order] == [e.subject for e in run[:4]]


async def test_a_run_lets_go_of_what_it_prepared_once_its_last_ticket_is_handled(app, client, auth):
    """The run's decisions and loads hang off the session, which sits in reference cycles:
    kept there, they waited for the cyclic collector, in pauses of several ms under load."""
    from dispatch import handlers
    from shared import inbox
    from shared.bus import handle_claimed

    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    await new_engineer(client, auth, branch, max_open=10)
    run = [ticket_created(region=region) for _ in range(3)]
    async with app.state.sessionmaker() as session:
        assert all(await inbox.claim_many(session, run))
        await handle_claimed(session, [(None, e, on_ticket_created) for e in run[:2]])
        assert handlers._PREPARED not in session.info  # a run of two: both handled
        await handle_claimed(session, [(None, e, on_ticket_created) for e in run[2:]])
        await session.commit()
    for event in run:
        await only_active(client, auth, event.subject)


async def test_a_batch_whose_planned_engineer_is_taken_meanwhile_is_routed_one_by_one(
    app, client, auth
):
    """Another transaction holds the load row of an engineer the run planned to assign: the
    run's statement writes nothing, and each ticket is then routed as route() does, passing
    over the engineer being assigned elsewhere (and saying so)."""
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    engineers = [await new_engineer(client, auth, branch, max_open=10) for _ in range(3)]
    held = engineers[0]
    run = [ticket_created(region=region) for _ in range(3)]
    contended = runs_routed("contended")

    async with transaction(app.state.engine) as other_worker:
        await other_worker.conn.execute(
            "SELECT 1 FROM engineer_load WHERE engineer_id = $1 FOR UPDATE",
            uuid.UUID(held["id"]),
        )
        await deliver_batch(app, *run)

    assert runs_routed("contended") == contended + 1
    winners = []
    for event in run:
        active = await only_active(client, auth, event.subject)
        shown = (await client.get(f"/v1/assignments/{active['id']}", headers=auth())).json()
        assert shown["decision"]["reason"]["winner"] == active["engineer_id"]
        winners.append(active["engineer_id"])
    assert held["id"] not in winners
    assert await load_of(app, uuid.UUID(held["id"])) == 0
    loads = [await load_of(app, uuid.UUID(e["id"])) for e in engineers[1:]]
    assert sorted(loads) == [1, 2]


async def test_a_new_ticket_goes_to_the_least_loaded_engineer_with_a_visible_reason(
    app, client, auth
):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    busy = await new_engineer(client, auth, branch, name=unique("Busy"))
    free = await new_engineer(client, auth, branch, name=unique("Free"))
    await deliver(app, ticket_created(region=region))  # goes to one of them
    first = await only_active(client, auth, (await _last_ticket(app, region)))
    loaded = busy if first["engineer_id"] == busy["id"] else free
    other = free if loaded is busy else busy
    event = ticket_created(region=region)

    await deliver(app, event)

    assignment = await only_active(client, auth, event.subject)
    assert assignment["engineer_id"] == other["id"]
    detail = (await client.get(f"/v1/assignments/{assignment['id']}", headers=auth())).json()
    reason = detail["decision"]["reason"]
    assert reason["winner"] == other["id"]
    assert reason["rule"] == "on_shift"
    assert [c["name"] for c in reason["candidates"]] == [other["name"], loaded["name"]]
    assert [c["rank"] for c in reason["candidates"]] == [1, 2]
    assert "least loaded" in reason["summary"]
    emitted = await outbox_events(app, event.subject)
    assert types(emitted) == ["ticket.assigned"]
    assert emitted[0]["data"]["engineer_id"] == other["id"]
    assert emitted[0]["data"]["rule"] == "on_shift"
    assert emitted[0]["causation_id"] == str(event.id)
    assert await load_of(app, other["id"]) == 1


@pytest.mark.parametrize("product", [None, "no-one-knows-this-product"])
async def test_an_engineer_being_assigned_elsewhere_is_passed_over_and_the_reason_says_so(
    app, client, auth, product
):
    """The best-ranked engineer's load row is held by another transaction (another worker is
    assigning them): the ticket goes to the next one at once, and the stored reason names the
    winner and adds a note, after any the decision already had (a waived skill)."""
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    first = await new_engineer(client, auth, branch, name=unique("A"))
    second = await new_engineer(client, auth, branch, name=unique("B"))
    await deliver(app, ticket_created(region=region))
    loaded = await only_active(client, auth, await _last_ticket(app, region))
    best = second if loaded["engineer_id"] == first["id"] else first  # ranked first: no load
    passed_to = first if best is second else second
    event = ticket_created(region=region, product=product)

    async with transaction(app.state.engine) as other_worker:
        await other_worker.conn.execute(
            "SELECT 1 FROM engineer_load WHERE engineer_id = $1 FOR UPDATE",
            uuid.UUID(best["id"]),
        )
        await deliver(app, event)

    assignment = await only_active(client, auth, event.subject)
    assert assignment["engineer_id"] == passed_to["id"]
    shown = (await client.get(f"/v1/assignments/{assignment['id']}", headers=auth())).json()
    reason = shown["decision"]["reason"]
    assert reason["winner"] == passed_to["id"]
    assert [c["name"] for c in reason["candidates"]] == [best["name"], passed_to["name"]]
    skipped = "1" + assignments.SKIPPED_NOTE
    if product is None:
        assert reason["notes"] == [skipped]
    else:
        assert len(reason["notes"]) == 2 and reason["notes"][0].startswith("waived: ")
        assert reason["notes"][1] == skipped


async def test_the_capacity_statement_is_planned_once_not_for_every_decision(app, client, auth):
    """Its estimate varies with the number of ranked engineers, and PostgreSQL's heuristic then
    kept planning it again for every execution (a quarter of the database's CPU per
    decision); routing runs it on a generic plan from the first execution."""
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    for _ in range(3):
        await new_engineer(client, auth, branch, max_open=10)
    async with app.state.sessionmaker() as session:
        for _ in range(6):  # PostgreSQL plans the first five executions for their values anyway
            await on_ticket_created(session, ticket_created(region=region))
        plans = await (await sql.driver(session)).fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
            assignments._TAKE_ASSIGN,
        )
        await session.commit()
    assert plans is not None
    assert plans["custom_plans"] == 0 and plans["generic_plans"] >= 6, dict(plans)


async def test_nobody_available_queues_the_ticket_then_a_new_shift_takes_it(app, client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    off = await new_engineer(client, auth, branch, shift=False)
    event = ticket_created(region=region)

    await deliver(app, event)

    assert await assignments_of(client, auth, event.subject) == []
    emitted = await outbox_events(app, event.subject)
    assert types(emitted) == ["ticket.unassigned"]
    assert emitted[0]["data"]["reason"] == "no_engineer_available"
    assert emitted[0]["data"]["branch_id"] == branch["id"]
    queue = (await client.get(f"/v1/branches/{branch['id']}/queue", headers=auth())).json()
    assert [q["ticket_id"] for q in queue["items"]] == [str(event.subject)]
    why = queue["items"][0]["reason"]["candidates"][0]
    assert (why["name"], why["excluded"]) == (off["name"], "off_duty")

    await client.post(
        "/v1/shifts",
        json={"engineer_id": off["id"], "weekdays": ALL_WEEK, "starts": "00:00", "ends": "00:00"},
        headers=auth(**MANAGER),
    )

    assigned = await wait_until(lambda: assignments_of(client, auth, event.subject), timeout=20)
    assert assigned[0]["engineer_id"] == off["id"]
    assert types(await outbox_events(app, event.subject)) == [
        "ticket.unassigned",
        "ticket.assigned",
    ]
    queue = (await client.get(f"/v1/branches/{branch['id']}/queue", headers=auth())).json()
    assert queue["items"] == []


async def test_accepting_acknowledges_once_and_only_the_engineer_may(app, client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    engineer = await new_engineer(client, auth, branch)
    event = ticket_created(region=region)
    await deliver(app, event)
    assignment = await only_active(client, auth, event.subject)
    url = f"/v1/assignments/{assignment['id']}/accept"

    stranger = await client.post(url, headers=auth("agent", unique("someone")))
    accepted = await client.post(url, headers=auth("agent", engineer["user_id"]))
    again = await client.post(url, headers=auth("agent", engineer["user_id"]))

    assert stranger.status_code == 403
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted" and accepted.json()["accepted_at"]
    assert again.status_code == 200
    assert types(await outbox_events(app, event.subject)) == [
        "ticket.assigned",
        "ticket.acknowledged",
    ]


async def test_declining_routes_to_the_next_candidate_and_never_back(app, client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    one = await new_engineer(client, auth, branch)
    two = await new_engineer(client, auth, branch)
    by_id = {one["id"]: one, two["id"]: two}
    event = ticket_created(region=region)
    await deliver(app, event)
    first = await only_active(client, auth, event.subject)
    decliner = by_id[first["engineer_id"]]

    declined = await client.post(
        f"/v1/assignments/{first['id']}/decline",
        json={"reason": "on another site all day"},
        headers=auth("agent", decliner["user_id"]),
    )

    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    second = await only_active(client, auth, event.subject)
    assert second["engineer_id"] != decliner["id"]
    assert second["previous_engineer_id"] == decliner["id"]
    reason = (await client.get(f"/v1/assignments/{second['id']}", headers=auth())).json()
    excluded = {c["name"]: c for c in reason["decision"]["reason"]["candidates"]}
    assert excluded[decliner["name"]]["excluded"] == "excluded"
    assert "on another site" in excluded[decliner["name"]]["detail"]
    assert await load_of(app, decliner["id"]) == 0

    other = by_id[second["engineer_id"]]
    await client.post(
        f"/v1/assignments/{second['id']}/accept", headers=auth("agent", other["user_id"])
    )
    handed = await client.post(
        f"/v1/assignments/{second['id']}/hand-back",
        json={"reason": "needs a storage specialist"},
        headers=auth("agent", other["user_id"]),
    )

    assert handed.status_code == 200 and handed.json()["status"] == "handed_back"
    assert await assignments_of(client, auth, event.subject, active="true") == []
    last = (await outbox_events(app, event.subject))[-1]
    assert last["type"] == "ticket.unassigned"
    assert last["data"]["reason"] == "engineer_released"
    assert last["data"]["previous_engineer_id"] == other["id"]


async def test_an_illegal_action_is_a_409_naming_the_allowed_ones(app, client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    engineer = await new_engineer(client, auth, branch)
    event = ticket_created(region=region)
    await deliver(app, event)
    assignment = await only_active(client, auth, event.subject)

    early = await client.post(
        f"/v1/assignments/{assignment['id']}/check-in",
        json={},
        headers=auth("agent", engineer["user_id"]),
    )

    assert early.status_code == 409
    assert set(early.json()["allowed"]) == {"accept", "decline", "reassign", "release"}


async def test_checking_in_records_the_visit_and_emits_visit_checked_in(app, client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    engineer = await new_engineer(client, auth, branch)
    event = ticket_created(region=region, on_site_required=True)
    await deliver(app, event)
    assignment = await only_active(client, auth, event.subject)
    me = auth("agent", engineer["user_id"])
    await client.post(f"/v1/assignments/{assignment['id']}/accept", headers=me)
    at = datetime(2026, 3, 2, 3, 5, tzinfo=UTC)

    visit = await client.post(
        f"/v1/assignments/{assignment['id']}/check-in",
        json={"checked_in_at": at.isoformat(), "latitude": 31.23, "longitude": 121.47},
        headers={**me, "Idempotency-Key": unique("visit")},
    )

    assert visit.status_code == 201
    assert visit.json()["latitude"] == 31.23
    checked = (await outbox_events(app, event.subject))[-1]
    assert checked["type"] == "visit.checked_in"
    assert checked["data"]["checked_in_at"] == "2026-03-02T03:05:00Z"
    detail = (await client.get(f"/v1/assignments/{assignment['id']}", headers=auth())).json()
    assert [v["id"] for v in detail["visits"]] == [visit.json()["id"]]


async def test_a_manager_reassigns_by_name_within_tier_and_capacity(app, client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    hq = await new_branch(client, auth, tier=2, regions=[unique("HQ")])
    first = await new_engineer(client, auth, branch, max_open=3)
    full = await new_engineer(client, auth, branch, max_open=0)
    expert = await new_engineer(client, auth, hq)
    target = await new_engineer(client, auth, branch, max_open=0, shift=False)
    event = ticket_created(region=region)
    await deliver(app, event)
    current = await only_active(client, auth, event.subject)
    url = f"/v1/assignments/{current['id']}/reassign"

    wrong_tier = await client.post(url, json={"engineer_id": expert["id"]}, headers=auth(**MANAGER))
    at_capacity = await client.post(url, json={"engineer_id": full["id"]}, headers=auth(**MANAGER))
    by_agent = await client.post(url, json={"engineer_id": first["id"]}, headers=auth())
    await client.patch(
        f"/v1/engineers/{target['id']}",
        json={"max_open": 2},
        headers={**auth(**MANAGER), "If-Match": '"1"'},
    )
    moved = await client.post(
        url, json={"engineer_id": target["id"], "reason": "knows the site"}, headers=auth(**MANAGER)
    )

    assert wrong_tier.status_code == 422
    assert at_capacity.status_code == 409
    assert by_agent.status_code == 403
    assert moved.status_code == 200
    new = moved.json()
    assert (new["engineer_id"], new["by"], new["previous_engineer_id"]) == (
        target["id"],
        "manual",
        first["id"],
    )
    assert new["assigned_by"] == MANAGER["sub"]
    old = (await client.get(f"/v1/assignments/{current['id']}", headers=auth())).json()
    assert (old["status"], old["end_detail"]) == ("reassigned", "knows the site")


async def test_capacity_cannot_be_lowered_below_open_assignments(app, client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    engineer = await new_engineer(client, auth, branch, max_open=2)
    for _ in range(2):
        await deliver(app, ticket_created(region=region))

    response = await client.patch(
        f"/v1/engineers/{engineer['id']}",
        json={"max_open": 1},
        headers={**auth(**MANAGER), "If-Match": '"1"'},
    )
    full = await deliver(app, third := ticket_created(region=region))

    assert response.status_code == 409
    assert response.json()["open_count"] == 2
    assert full is None
    assert await assignments_of(client, auth, third.subject) == []


async def test_resolving_frees_the_engineer_and_a_reopen_goes_back_to_them(app, client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    await new_engineer(client, auth, branch)
    await new_engineer(client, auth, branch)
    event = ticket_created(region=region)
    await deliver(app, event)
    first = await only_active(client, auth, event.subject)

    await deliver(app, status_event(events.TicketResolved, event.subject, seq=3))

    assert await assignments_of(client, auth, event.subject, active="true") == []
    assert await load_of(app, first["engineer_id"]) == 0

    await deliver(app, status_event(events.TicketReopened, event.subject, seq=5))

    again = await only_active(client, auth, event.subject)
    assert again["engineer_id"] == first["engineer_id"]
    assert again["rule"] == "previous_engineer"


async def test_a_ticket_closed_before_its_creation_arrived_is_never_assigned(app, client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    await new_engineer(client, auth, branch)
    event = ticket_created(region=region)

    await deliver(app, status_event(events.TicketClosed, event.subject, seq=4), event)

    assert await assignments_of(client, auth, event.subject) == []
    assert await outbox_events(app, event.subject) == []


async def test_a_later_update_wins_over_an_earlier_creation_whatever_the_order(app, client, auth):
    region, other = unique("CN"), unique("CN")
    branch = await new_branch(client, auth, regions=[other])
    engineer = await new_engineer(client, auth, branch)
    created = ticket_created(region=region)
    moved = events.TicketUpdated(
        subject=created.subject,
        seq=2,
        data=events.TicketUpdatedData(
            ticket_id=created.subject,
            ticket_number=100001,
            changes={"region": events.FieldChange(old=region, new=other)},
            severity=1,
            kind="fault",
            updated_at=datetime.now(UTC),
        ),
    )

    await deliver(app, moved, created)

    assignment = await only_active(client, auth, created.subject)
    assert assignment["engineer_id"] == engineer["id"]


async def test_a_24x7_ticket_goes_to_on_call_when_nobody_is_on_shift(app, client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    night = await new_engineer(client, auth, branch, shift=False)
    now = datetime.now(UTC)
    await client.post(
        "/v1/shifts/oncall",
        json={
            "branch_id": branch["id"],
            "engineer_id": night["id"],
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=8)).isoformat(),
        },
        headers=auth(**MANAGER),
    )
    urgent = ticket_created(region=region, coverage="24x7")
    office = ticket_created(region=region, coverage="business_hours")

    await deliver(app, urgent, office)

    assignment = await only_active(client, auth, urgent.subject)
    assert (assignment["engineer_id"], assignment["rule"]) == (night["id"], "on_call")
    assert await assignments_of(client, auth, office.subject) == []


async def test_no_branch_for_the_region_waits_unrouted(app, client, auth):
    event = ticket_created(region=unique("NOWHERE"))

    await deliver(app, event)

    unrouted = (await client.get("/v1/assignments/unrouted?limit=200", headers=auth())).json()
    assert str(event.subject) in [t["ticket_id"] for t in unrouted["items"]]
    emitted = await outbox_events(app, event.subject)
    assert emitted[0]["data"]["branch_id"] is None


async def test_a_manager_assigns_a_queued_ticket_by_hand(app, client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    engineer = await new_engineer(client, auth, branch, shift=False)
    event = ticket_created(region=region)
    await deliver(app, event)
    body = {"ticket_id": str(event.subject), "engineer_id": engineer["id"], "reason": "call him"}
    key = unique("assign")

    first = await client.post(
        "/v1/assignments", json=body, headers={**auth(**MANAGER), "Idempotency-Key": key}
    )
    replay = await client.post(
        "/v1/assignments", json=body, headers={**auth(**MANAGER), "Idempotency-Key": key}
    )
    unknown = await client.post(
        "/v1/assignments",
        json={**body, "ticket_id": str(new_id())},
        headers=auth(**MANAGER),
    )

    assert first.status_code == 201 and first.json()["by"] == "manual"
    assert replay.json()["id"] == first.json()["id"]
    assert unknown.status_code == 404
    queue = (await client.get(f"/v1/branches/{branch['id']}/queue", headers=auth())).json()
    assert queue["items"] == []


async def _last_ticket(app, region):
    async with app.state.sessionmaker() as session:
        return (
            await session.execute(
                text("SELECT id FROM ticket WHERE region = :r ORDER BY consumed_at DESC LIMIT 1"),
                {"r": region},
            )
        ).scalar_one()


async def test_a_freed_place_goes_to_the_ticket_waiting_in_the_queue(app, client, auth):
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    engineer = await new_engineer(client, auth, branch, max_open=1)
    first, waiting = ticket_created(region=region), ticket_created(region=region)
    await deliver(app, first, waiting)
    assert await assignments_of(client, auth, waiting.subject) == []

    await deliver(app, status_event(events.TicketResolved, first.subject, seq=3))

    taken = await wait_until(lambda: assignments_of(client, auth, waiting.subject), timeout=20)
    assert taken[0]["engineer_id"] == engineer["id"]
    assert taken[0]["decision"] is None  # list view; the detail shows the decision
    detail = (await client.get(f"/v1/assignments/{taken[0]['id']}", headers=auth())).json()
    assert detail["decision"]["trigger"] == "requeue"


async def _evaluated_at(app, ticket_id):
    async with app.state.sessionmaker() as session:
        return (
            await session.execute(
                text("SELECT evaluated_at, queued_at FROM ticket WHERE id = :id"), {"id": ticket_id}
            )
        ).one()


async def test_a_queue_pass_re_routes_under_lock_only_the_tickets_someone_can_take(
    app, client, auth, monkeypatch
):
    nobody = unique("CN")
    await new_branch(client, auth, regions=[nobody])
    region = unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    engineer = await new_engineer(client, auth, branch, max_open=1)
    stuck, first, waiting = (ticket_created(region=r) for r in (nobody, region, region))
    await deliver(app, stuck, first, waiting)
    assert await assignments_of(client, auth, waiting.subject) == []
    before = await _evaluated_at(app, stuck.subject)
    locked = []
    one = requeue._one

    async def recording(sessionmaker, ticket_id):
        locked.append(ticket_id)
        return await one(sessionmaker, ticket_id)

    monkeypatch.setattr(requeue, "_one", recording)  # the worker's passes too
    room = await client.patch(
        f"/v1/engineers/{engineer['id']}",
        json={"max_open": 2},
        headers={**auth(**MANAGER), "If-Match": f'"{engineer["version"]}"'},
    )
    assert room.status_code == 200
    await requeue.evaluate(app.state.sessionmaker, batch=100_000)

    taken = await wait_until(lambda: assignments_of(client, auth, waiting.subject), timeout=20)
    assert taken[0]["engineer_id"] == engineer["id"]
    assert waiting.subject in locked
    # Nobody covers the other ticket's region: it was looked at, not locked and re-routed.
    assert stuck.subject not in locked
    after = await _evaluated_at(app, stuck.subject)
    assert after.queued_at == before.queued_at is not None
    assert after.evaluated_at > before.evaluated_at


async def test_a_queue_pass_gives_a_reopened_ticket_back_to_its_engineer_of_another_branch(
    app, client, auth
):
    """The dry run of a queue pass weighs the previous engineer too, outside the pool."""
    region, elsewhere = unique("CN"), unique("CN")
    branch = await new_branch(client, auth, regions=[region])
    other_branch = await new_branch(client, auth, regions=[elsewhere])
    engineer = await new_engineer(client, auth, branch, max_open=1)
    event = ticket_created(region=region)
    await deliver(app, event)
    assert (await only_active(client, auth, event.subject))["engineer_id"] == engineer["id"]
    await deliver(app, status_event(events.TicketResolved, event.subject, seq=3))
    moved = await client.patch(
        f"/v1/engineers/{engineer['id']}",
        json={"branch_id": other_branch["id"]},
        headers={**auth(**MANAGER), "If-Match": f'"{engineer["version"]}"'},
    )
    assert moved.status_code == 200, moved.text
    busy = ticket_created(region=elsewhere)
    await deliver(app, busy)  # the engineer is full now
    await deliver(app, status_event(events.TicketReopened, event.subject, seq=5))
    assert await assignments_of(client, auth, event.subject, active="true") == []

    await deliver(app, status_event(events.TicketResolved, busy.subject, seq=3))

    back = await wait_until(
        lambda: assignments_of(client, auth, event.subject, active="true"), timeout=20
    )
    assert (back[0]["engineer_id"], back[0]["rule"]) == (engineer["id"], "previous_engineer")


async def test_a_transaction_holding_an_engineer_row_never_waits_for_another(app, client, auth):
    branch = await new_branch(client, auth, regions=[unique("CN")])
    engineer = await new_engineer(client, auth, branch)
    busy = uuid.UUID(engineer["id"])

    async with app.state.sessionmaker() as holder, app.state.sessionmaker() as batch:
        await (await sql.driver(holder)).execute(
            "UPDATE engineer_load SET open_count = open_count WHERE engineer_id = $1", busy
        )
        with pytest.raises(assignments.RoutingContention):
            await assignments._take_capacity(await sql.driver(batch), [busy], holding=True)
        await holder.rollback()
        taken = await assignments._take_capacity(await sql.driver(batch), [busy], holding=True)
        await batch.rollback()

    assert taken == (busy, 0)
