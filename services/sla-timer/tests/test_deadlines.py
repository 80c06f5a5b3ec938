"""The clocks of a ticket, derived from its facts (pure)."""

import random
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sla_timer import deadlines, policies
from sla_timer.calendars import Calendar, Holiday, parse_intervals
from tests.factories import T0, Story

OFFICE = parse_intervals([["08:30", "12:00"], ["13:00", "17:00"]])
CN_OFFICE = Calendar(
    "Asia/Shanghai",
    {i: OFFICE for i in range(5)},
    holidays=[Holiday(date(2026, 4, 4), date(2026, 4, 6), "Qingming Festival")],
)
FAULTS = policies.Policy(
    key="fault-levels",
    name="Four fault levels",
    rows=(
        policies.Row("fault", 1, response=60, on_site=120, resolution=300, progress=120),
        policies.Row("fault", 2, response=120, on_site=1440, resolution=2880, progress=1440),
    ),
    channel_overrides={"phone": {"response": 15}},
    observation=7 * 1440,
)


def targets_for(attrs):
    return policies.targets(FAULTS, kind=attrs.kind, severity=attrs.severity, channel=attrs.channel)


def derive(story: Story, calendar=CN_OFFICE):
    created, *rest = story.events
    d = created.data
    opening = deadlines.Opening(
        ticket_id=d.ticket_id,
        ticket_number=d.ticket_number,
        organization_id=d.organization_id,
        kind=d.kind,
        severity=d.severity,
        channel=d.channel,
        policy_key=d.policy_key,
        calendar_key=d.calendar_id,
        coverage=d.coverage,
        on_site_required=d.on_site_required,
        started_at=d.reported_at or d.created_at,
    )
    facts = [
        deadlines.Fact(e.source, e.seq, e.type, _at(e), e.data.model_dump(mode="json"))
        for e in rest
    ]
    return {(p.kind, p.round): p for p in deadlines.plan(
        opening, facts, targets_for=targets_for, calendar=calendar
    )}  # fmt: skip


def _at(event):
    return deadlines.fact_time(event)


def at(hours: float, minutes: float = 0):
    return T0 + timedelta(hours=hours, minutes=minutes)


def test_a_new_severity_1_fault_runs_response_resolution_and_progress():
    story = Story()
    story.created()

    plans = derive(story)

    assert set(plans) == {("response", 1), ("resolution", 1), ("progress", 1)}
    assert plans["response", 1].due_at == at(1)  # Mon 09:00 + 1 h
    assert plans["resolution", 1].due_at == at(5, 60)  # 5 h with the 12:00-13:00 lunch break
    assert plans["response", 1].state == "running"
    assert [t for t, _ in plans["response", 1].warnings] == [0.75, 0.9]
    assert plans["response", 1].warnings[0][1] == at(0, 45)


def test_on_site_clock_only_when_a_visit_is_needed_and_check_in_stops_it():
    story = Story(on_site_required=True)
    story.created()
    story.checked_in(100)

    plans = derive(story)

    on_site = plans["on_site", 1]
    assert on_site.state == "stopped"
    assert on_site.stopped_at == at(0, 100)
    assert not on_site.reached


def test_the_phone_channel_target_is_stricter_than_the_matrix():
    story = Story(channel="phone")
    story.created()

    plans = derive(story)

    assert plans["response", 1].target == timedelta(minutes=15)


def test_an_acknowledgement_after_the_deadline_is_a_breach_at_the_deadline():
    story = Story()
    story.created()
    story.acknowledged(90)

    response = derive(story)["response", 1]

    assert response.state == "stopped"
    assert response.reached
    assert response.breach_at == at(1)


def test_waiting_on_the_customer_pauses_and_only_working_time_counts():
    story = Story()
    story.created()
    story.status(10, "new", "in_progress")
    story.status(30, "in_progress", "pending_customer")
    story.status(30 + 24 * 60, "pending_customer", "in_progress")  # Tue 09:30

    resolution = derive(story)["resolution", 1]

    # 30 min used on Monday; 4 h 30 min left from Tue 09:30: 09:30-12:00, 13:00-15:00.
    assert resolution.pauses == [(at(0, 30), at(24, 30))]
    assert resolution.due_at == at(24 + 6)
    assert resolution.state == "running"


def test_a_pause_still_open_has_no_deadline_yet():
    story = Story()
    story.created()
    story.status(20, "new", "pending_customer")

    resolution = derive(story)["resolution", 1]

    assert resolution.state == "paused"
    assert resolution.due_at is None
    assert resolution.warnings == []


def test_a_severity_change_keeps_the_time_already_used():
    story = Story(severity=2)
    story.created()
    story.updated(60, severity=(2, 1))

    resolution = derive(story)["resolution", 1]

    assert resolution.target == timedelta(hours=5)
    assert resolution.due_at == at(6)  # same start, new target, lunch skipped
    assert resolution.target_set_at == at(1)
    assert "severity 2 → 1" in resolution.notes[0]


def test_a_change_that_makes_a_deadline_passed_breaches_when_it_was_made():
    story = Story(severity=2)
    story.created()
    story.updated(100, severity=(2, 1))  # response target 2 h → 1 h after 1 h 40 min

    response = derive(story)["response", 1]

    assert response.due_at == at(1)
    assert response.state == "running"
    # Not a breach at 10:00 (the target was 2 h then); at the change.
    points = [max(response.due_at, response.target_set_at)]
    assert points == [at(0, 100)]


def test_a_change_after_a_clock_stopped_does_not_touch_it():
    story = Story(severity=2)
    story.created()
    story.acknowledged(90)
    story.updated(120, severity=(2, 1))

    response = derive(story)["response", 1]

    assert response.target == timedelta(hours=2)
    assert not response.reached


def test_resolution_starts_observation_and_a_reopen_cancels_it_and_resumes_resolution():
    story = Story()
    story.created()
    story.resolved(60)
    story.reopened(120)
    story.resolved(180)

    plans = derive(story)

    assert plans["observation", 1].state == "cancelled"
    assert plans["observation", 2].state == "running"
    assert plans["observation", 2].due_at == at(3) + timedelta(days=7)
    resolution = plans["resolution", 1]
    assert resolution.state == "stopped"
    assert resolution.segments == [(at(0), at(1)), (at(2), at(3))]
    assert resolution.stopped_at == at(3)


def test_a_resolution_answers_an_open_response_and_makes_a_visit_moot():
    story = Story(on_site_required=True)
    story.created()
    story.resolved(30)

    plans = derive(story)

    assert plans["response", 1].state == "stopped"
    assert plans["on_site", 1].state == "cancelled"


def test_a_public_agent_message_is_a_response_and_a_later_one_reports_progress():
    story = Story()
    story.created()
    story.message(5, author="customer")
    story.message(10, public=False)
    story.message(20)
    story.message(50)

    plans = derive(story)

    assert plans["response", 1].stopped_at == at(0, 20)
    assert plans["progress", 1].stopped_at == at(0, 50)


def test_holidays_are_skipped_in_the_deadline():
    friday = datetime(2026, 4, 3, 8, 30, tzinfo=UTC)  # 16:30 in Shanghai; 4-6 Apr are Qingming
    story = Story(start=friday)
    story.created()

    response = derive(story)["response", 1]

    assert response.due_at == datetime(2026, 4, 7, 1, 0, tzinfo=UTC)  # Tue 09:00


def build_story():
    story = Story(on_site_required=True)
    story.created()
    story.status(5, "new", "assigned")
    story.acknowledged(20)
    story.status(21, "assigned", "in_progress")
    story.updated(40, severity=(1, 2))
    story.status(60, "in_progress", "pending_customer")
    story.message(61)
    story.status(200, "pending_customer", "in_progress")
    story.checked_in(210)
    story.resolved(400)
    story.status(400, "in_progress", "resolved")
    story.reopened(500)
    story.status(500, "resolved", "reopened")
    story.resolved(700)
    story.status(700, "reopened", "resolved")
    return story


def snapshot(plans):
    return {
        key: (p.state, p.due_at, p.stopped_at, p.target, p.reached, p.segments, p.warnings)
        for key, p in plans.items()
    }


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_any_delivery_order_with_duplicates_gives_the_same_clocks(seed):
    story = build_story()
    expected = snapshot(derive(story))
    created, *rest = story.events
    rng = random.Random(seed)
    shuffled = rest + rng.sample(rest, k=len(rest) // 2)
    rng.shuffle(shuffled)
    unique = list({e.id: e for e in shuffled}.values())
    story.events = [created, *unique]

    assert snapshot(derive(story)) == expected


def test_a_merged_ticket_cancels_its_running_clocks():
    story = Story()
    story.created()
    story.acknowledged(10)
    story.status(30, "new", "merged")

    plans = derive(story)

    assert plans["response", 1].state == "stopped"
    assert plans["resolution", 1].state == "cancelled"
    assert plans["progress", 1].state == "cancelled"
    assert plans["resolution", 1].stopped_at == at(0, 30)
