"""Events intake consumes: each has its effect once, and shuffled or duplicated deliveries of
dispatch's events end in the same state as the ordered ones (DESIGN §4)."""

import itertools
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from intake.handlers import HANDLERS
from intake.models import Ticket
from shared import events, inbox
from shared.bus import handler_transaction
from shared.ids import new_id
from tests.factories import new_contract, new_organization, new_ticket

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def deliver(app, event: events.Event) -> None:
    """What the bus consumer does: inbox claim, handler and commit in one transaction (straight
    on asyncpg for a driver-only handler, as the consumer runs it)."""
    handler = HANDLERS[type(event)]
    async with handler_transaction(app.state.sessionmaker, [handler]) as session:
        if await inbox.claim(session, event):
            await handler(session, event)


async def load(app, ticket_id) -> Ticket:
    async with app.state.sessionmaker() as session:
        return (await session.execute(select(Ticket).where(Ticket.id == ticket_id))).scalar_one()


def assigned(ticket, seq, engineer="Wang Qiang", tier=1) -> events.TicketAssigned:
    return events.TicketAssigned(
        subject=ticket["id"],
        seq=seq,
        source="dispatch",
        data=events.TicketAssignedData(
            ticket_id=ticket["id"],
            ticket_number=ticket["number"],
            assignment_id=new_id(),
            engineer_id=_engineer(engineer),
            engineer_name=engineer,
            tier=tier,
            by="rule",
            assigned_at=T0 + timedelta(minutes=seq),
        ),
    )


def acknowledged(ticket, seq, engineer="Wang Qiang", tier=1) -> events.TicketAcknowledged:
    return events.TicketAcknowledged(
        subject=ticket["id"],
        seq=seq,
        source="dispatch",
        data=events.TicketAcknowledgedData(
            ticket_id=ticket["id"],
            ticket_number=ticket["number"],
            assignment_id=new_id(),
            engineer_id=_engineer(engineer),
            engineer_name=engineer,
            tier=tier,
            acknowledged_at=T0 + timedelta(minutes=seq),
        ),
    )


def escalated(ticket, seq, to_tier) -> events.TicketEscalated:
    return events.TicketEscalated(
        subject=ticket["id"],
        seq=seq,
        source="dispatch",
        data=events.TicketEscalatedData(
            ticket_id=ticket["id"],
            ticket_number=ticket["number"],
            from_tier=to_tier - 1,
            to_tier=to_tier,
            trigger="sla_breached",
            reason="resolution deadline passed",
            escalated_at=T0 + timedelta(minutes=seq),
        ),
    )


_ENGINEERS: dict[str, object] = {}


def _engineer(name):
    return _ENGINEERS.setdefault(name, new_id())


async def test_assignment_then_acknowledgement_moves_the_ticket_to_in_progress(app, client, auth):
    ticket = await new_ticket(client, auth())

    await deliver(app, assigned(ticket, 1))
    after_assign = await load(app, ticket["id"])
    await deliver(app, acknowledged(ticket, 2))
    after_ack = await load(app, ticket["id"])

    assert (after_assign.status, after_assign.assignee_name) == ("assigned", "Wang Qiang")
    assert after_ack.status == "in_progress"


async def test_dispatch_events_in_any_order_and_repeated_reach_the_same_state(app, client, auth):
    tickets = [await new_ticket(client, auth()) for _ in range(6)]
    outcomes = []
    for ticket in tickets:
        story = [
            assigned(ticket, 1, "Wang Qiang"),
            acknowledged(ticket, 2, "Wang Qiang"),
            escalated(ticket, 3, to_tier=2),
            assigned(ticket, 4, "Zhao Min", tier=2),
            acknowledged(ticket, 5, "Zhao Min", tier=2),
        ]
        deliveries = story + random.sample(story, 3)
        random.shuffle(deliveries)
        for event in deliveries:
            await deliver(app, event)
        t = await load(app, ticket["id"])
        outcomes.append((t.status, t.assignee_name, t.tier, t.assignment_seq, t.tier_seq))

    assert set(outcomes) == {("in_progress", "Zhao Min", 2, 5, 5)}


async def test_every_order_of_a_short_story_ends_the_same(app, client, auth):
    finals = set()
    for order in itertools.permutations(range(3)):
        ticket = await new_ticket(client, auth())
        story = [assigned(ticket, 1), acknowledged(ticket, 2), escalated(ticket, 3, 2)]
        for i in order:
            await deliver(app, story[i])
        t = await load(app, ticket["id"])
        finals.add((t.status, t.assignee_name, t.tier))

    assert finals == {("in_progress", "Wang Qiang", 2)}


async def test_a_breach_marks_the_ticket_legacy_once(app, client, auth):
    ticket = await new_ticket(client, auth())
    breach = events.SlaBreached(
        subject=ticket["id"],
        seq=1,
        source="sla-timer",
        data=events.SlaBreachedData(
            timer_id=new_id(),
            timer_kind="resolution",
            ticket_id=ticket["id"],
            ticket_number=ticket["number"],
            due_at=T0,
            target_seconds=18000,
            severity=1,
            kind="fault",
            organization_id=ticket["organization_id"],
            policy_key="fault-levels",
            breached_at=T0,
        ),
    )

    await deliver(app, breach)
    await deliver(app, breach)

    assert (await load(app, ticket["id"])).legacy is True
    timeline = (await client.get(f"/v1/tickets/{ticket['id']}/timeline", headers=auth())).json()
    assert [e["kind"] for e in timeline["entries"]].count("sla_breached") == 1


async def resolve(client, auth, ticket) -> dict:
    response = await client.post(
        f"/v1/tickets/{ticket['id']}/transitions",
        json={"action": "resolve", "resolution": "Fixed"},
        headers=auth(),
    )
    return response.json()


def observation(ticket, started_at) -> events.SlaObservationElapsed:
    return events.SlaObservationElapsed(
        subject=ticket["id"],
        seq=9,
        source="sla-timer",
        data=events.SlaObservationElapsedData(
            timer_id=new_id(),
            ticket_id=ticket["id"],
            ticket_number=ticket["number"],
            started_at=started_at,
            elapsed_at=datetime.now(UTC),
        ),
    )


async def test_an_elapsed_observation_closes_the_resolved_ticket(app, client, auth):
    ticket = await new_ticket(client, auth())
    resolved = await resolve(client, auth, ticket)

    await deliver(app, observation(ticket, datetime.fromisoformat(resolved["resolved_at"])))

    assert (await load(app, ticket["id"])).status == "closed"


async def test_an_observation_of_an_earlier_resolution_closes_nothing(app, client, auth):
    ticket = await new_ticket(client, auth())
    first = await resolve(client, auth, ticket)
    await client.post(
        f"/v1/tickets/{ticket['id']}/transitions",
        json={"action": "reopen", "reason": "it happened again"},
        headers=auth(),
    )
    await client.post(
        f"/v1/tickets/{ticket['id']}/transitions", json={"action": "start"}, headers=auth()
    )
    await resolve(client, auth, ticket)

    await deliver(app, observation(ticket, datetime.fromisoformat(first["resolved_at"])))

    assert (await load(app, ticket["id"])).status == "resolved"


async def test_an_inspection_schedule_opens_one_inspection_ticket(app, client, auth):
    org = await new_organization(client)
    contract = await new_contract(client, org["id"])
    due = events.ScheduleDue(
        subject=new_id(),
        seq=1,
        source="sla-timer",
        data=events.ScheduleDueData(
            schedule_id=new_id(),
            purpose="inspection",
            occurrence_at=T0,
            contract_id=contract["id"],
            organization_id=org["id"],
        ),
    )
    again = due.model_copy(update={"id": new_id()})  # a second event for the same occurrence

    await deliver(app, due)
    await deliver(app, again)

    found = (
        await client.get(
            "/v1/tickets",
            params={"organization_id": org["id"], "kind": "inspection"},
            headers=auth(),
        )
    ).json()["items"]
    assert len(found) == 1
    assert (found[0]["contract_id"], found[0]["on_site_required"]) == (contract["id"], True)


async def test_a_poor_survey_opens_a_linked_complaint_and_a_good_one_does_not(app, client, auth):
    ticket = await new_ticket(client, auth())

    for score in (5, 2, 2):
        await deliver(app, _survey(ticket, score, survey_id=_SURVEY if score == 2 else new_id()))

    complaints = (
        await client.get(
            "/v1/tickets",
            params={"organization_id": ticket["organization_id"], "kind": "complaint"},
            headers=auth(),
        )
    ).json()["items"]
    assert [c["complaint_about_id"] for c in complaints] == [ticket["id"]]


_SURVEY = new_id()


def _survey(ticket, score, survey_id):
    return events.SurveyAnswered(
        subject=ticket["id"],
        seq=1,
        source="notify",
        data=events.SurveyAnsweredData(
            survey_id=survey_id,
            ticket_id=ticket["id"],
            ticket_number=ticket["number"],
            score=score,
            comment="The engineer never called back",
            answered_at=T0,
        ),
    )


async def test_status_changes_caused_by_events_are_published_with_their_cause(app, client, auth):
    ticket = await new_ticket(client, auth())
    event = assigned(ticket, 1)

    await deliver(app, event)

    async with app.state.sessionmaker() as session:
        payload = (
            await session.execute(
                text(
                    "SELECT payload FROM outbox "
                    "WHERE subject = :id AND type = 'ticket.status_changed'"
                ),
                {"id": ticket["id"]},
            )
        ).scalar_one()
    assert payload["causation_id"] == str(event.id)
    assert (payload["data"]["from_status"], payload["data"]["to_status"]) == ("new", "assigned")
