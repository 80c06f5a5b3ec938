"""Routing decisions (dispatch/routing.py): pure, no fixtures."""

import random
import uuid
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given
from hypothesis import strategies as st

from dispatch import routing
from dispatch.duty import Duty
from dispatch.routing import Branch, Candidate, TicketFacts

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
ON_SHIFT = Duty(True, False, "shift Mon-Fri 08:30-17:00 Asia/Shanghai")
ON_CALL = Duty(False, True, "on call until 2026-03-03T00:00Z")
OFF = Duty(False, False, "off shift")

SH = Branch(uuid.UUID(int=1), "Shanghai", 1, ("CN-SH",))
PUDONG = Branch(uuid.UUID(int=2), "Pudong", 1, ("CN-SH-PD",))
EAST = Branch(uuid.UUID(int=3), "East China", 1, ("CN-SH*", "CN-JS*"))
HQ = Branch(uuid.UUID(int=4), "Headquarters", 2, ("*",))


def ticket(**overrides) -> TicketFacts:
    fields = {"ticket_id": uuid.UUID(int=99), "tier": 1, "region": "CN-SH", "coverage": "24x7"}
    fields.update(overrides)
    return TicketFacts(**fields)


def engineer(name: str, **overrides) -> Candidate:
    fields = {
        "engineer_id": uuid.uuid5(uuid.NAMESPACE_DNS, name),
        "name": name,
        "branch_id": SH.id,
        "tier": 1,
        "skills": frozenset(),
        "languages": frozenset({"zh-CN"}),
        "active": True,
        "max_open": 5,
        "open_count": 0,
        "last_assigned_at": None,
        "duty": ON_SHIFT,
    }
    fields.update(overrides)
    return Candidate(**fields)


def by_name(decision, name):
    return next(c for c in decision.considered if c.name == name)


def test_region_codes_match_exactly_or_by_prefix_pattern():
    assert routing.covers(["CN-SH"], "cn-sh")
    assert not routing.covers(["CN-SH"], "CN-SH-PD")
    assert routing.covers(["CN-SH*"], "CN-SH-PD")
    assert routing.covers(["*"], None)
    assert not routing.covers(["CN-SH*"], None)


def test_covering_branches_are_of_the_tier_and_most_specific_first():
    found = routing.covering_branches([HQ, EAST, SH, PUDONG], tier=1, region="CN-SH")

    assert found == [SH, EAST]
    assert routing.covering_branches([HQ, EAST], tier=2, region=None) == [HQ]


def test_least_loaded_wins():
    busy = engineer("Wang", open_count=3)
    free = engineer("Li", open_count=1)

    decision = routing.choose_engineer(ticket(), [SH], [busy, free])

    assert decision.outcome == "assigned"
    assert decision.winner == free.engineer_id
    assert decision.rule == "on_shift"
    assert [c.rank for c in (by_name(decision, "Li"), by_name(decision, "Wang"))] == [1, 2]


def test_load_is_relative_to_capacity():
    small = engineer("Zhao", open_count=2, max_open=4)
    large = engineer("Sun", open_count=3, max_open=10)

    assert routing.choose_engineer(ticket(), [SH], [small, large]).winner == large.engineer_id


def test_equal_load_goes_to_the_longest_idle_then_never_assigned_first():
    recent = engineer("Chen", last_assigned_at=NOW - timedelta(minutes=5))
    earlier = engineer("Zhou", last_assigned_at=NOW - timedelta(hours=3))
    never = engineer("Wu")

    assert routing.choose_engineer(ticket(), [SH], [recent, earlier]).winner == earlier.engineer_id
    assert routing.choose_engineer(ticket(), [SH], [recent, earlier, never]).winner == (
        never.engineer_id
    )


def test_every_excluded_candidate_carries_its_reason():
    cands = [
        engineer("Inactive", active=False),
        engineer("Off", duty=OFF, skills=frozenset({"core-network"})),
        engineer("Full", open_count=5),
        engineer("NoSkill", skills=frozenset({"storage"})),
        engineer("Router", skills=frozenset({"core-network"})),
        engineer("Declined", skills=frozenset({"core-network"})),
    ]
    exclude = {cands[5].engineer_id: "declined: at another site"}

    decision = routing.choose_engineer(ticket(product="Core Network"), [SH], cands, exclude=exclude)

    codes = {c.name: c.excluded for c in decision.considered}
    assert codes == {
        "Inactive": "inactive",
        "Off": "off_duty",
        "Full": "skills",
        "NoSkill": "skills",
        "Router": None,
        "Declined": "excluded",
    }
    assert decision.winner == cands[4].engineer_id
    assert by_name(decision, "Off").detail == "off shift"
    reason = decision.as_reason()
    assert reason["winner"] == str(cands[4].engineer_id)
    assert reason["candidates"][0]["name"] == "Router"
    assert reason["required_skills"] == ["core-network"]


def test_capacity_excludes_when_skills_match():
    full = engineer("Full", open_count=5, max_open=5)

    decision = routing.choose_engineer(ticket(), [SH], [full])

    assert decision.outcome == "queued"
    assert by_name(decision, "Full").excluded == "capacity"
    assert decision.queue_branch == SH


def test_a_skill_nobody_lists_is_waived_and_recorded():
    decision = routing.choose_engineer(ticket(product="Mainframe X9"), [SH], [engineer("Li")])

    assert decision.outcome == "assigned"
    assert decision.waived_skills == ["mainframe-x9"]
    assert any("waived" in n for n in decision.notes)


def test_on_call_only_when_nobody_on_shift_can_take_it():
    shift = engineer("Day", duty=ON_SHIFT, open_count=4)
    call = engineer("Night", duty=ON_CALL)

    with_shift = routing.choose_engineer(ticket(), [SH], [shift, call])
    without = routing.choose_engineer(ticket(), [SH], [engineer("Day", duty=OFF), call])

    assert with_shift.winner == shift.engineer_id
    assert by_name(with_shift, "Night").excluded == "on_call_not_needed"
    assert without.winner == call.engineer_id
    assert without.rule == "on_call"


def test_on_call_covers_only_7x24_contracts():
    call = engineer("Night", duty=ON_CALL)

    decision = routing.choose_engineer(ticket(coverage="business_hours"), [SH], [call])

    assert decision.outcome == "queued"
    assert by_name(decision, "Night").excluded == "on_call_not_covered"


def test_a_speaker_of_the_customers_language_is_preferred_but_not_required():
    zh = engineer("Liu", open_count=0)
    en = engineer("Smith", open_count=2, languages=frozenset({"en", "zh-CN"}))

    english = routing.choose_engineer(ticket(language="en-GB"), [SH], [zh, en])
    french = routing.choose_engineer(ticket(language="fr"), [SH], [zh, en])

    assert english.winner == en.engineer_id
    assert by_name(english, "Liu").excluded == "language"
    assert french.winner == zh.engineer_id


def test_reopened_ticket_goes_back_to_the_previous_engineer_when_possible():
    previous = engineer("Old", open_count=4, branch_id=EAST.id)
    other = engineer("New")

    back = routing.choose_engineer(ticket(), [SH], [other], previous_engineer=previous)
    gone = routing.choose_engineer(
        ticket(), [SH], [other], previous_engineer=engineer("Old", duty=OFF)
    )

    assert back.winner == previous.engineer_id and back.rule == "previous_engineer"
    assert by_name(back, "New").excluded == "not_needed"
    assert gone.winner == other.engineer_id and gone.rule == "on_shift"
    assert any("not on duty" in n for n in gone.notes)


def test_no_branch_for_the_region_queues_with_no_branch():
    decision = routing.choose_engineer(ticket(region="US-CA"), [], [])

    assert decision.outcome == "queued"
    assert decision.queue_branch is None
    assert "no engineer" in decision.summary()


candidate_lists = st.lists(
    st.builds(
        lambda i, open_count, cap, duty, active, idle: engineer(
            f"e{i}",
            open_count=min(open_count, cap),
            max_open=cap,
            duty=duty,
            active=active,
            last_assigned_at=None if idle is None else NOW - timedelta(minutes=idle),
        ),
        st.integers(0, 10_000),
        st.integers(0, 6),
        st.integers(1, 6),
        st.sampled_from([ON_SHIFT, ON_CALL, OFF]),
        st.booleans(),
        st.none() | st.integers(0, 600),
    ),
    max_size=12,
    unique_by=lambda c: c.engineer_id,
)


@given(candidates=candidate_lists, coverage=st.sampled_from(["24x7", "business_hours"]))
def test_the_winner_is_eligible_and_none_ranked_beats_it(candidates, coverage):
    decision = routing.choose_engineer(ticket(coverage=coverage), [SH], candidates)

    if decision.winner is None:
        assert all(c.excluded for c in decision.considered)
        return
    winner = next(c for c in candidates if c.engineer_id == decision.winner)
    assert winner.active and winner.open_count < winner.max_open
    assert winner.duty.on_shift or (coverage == "24x7" and winner.duty.on_call)
    ranked = [c for c in candidates if c.engineer_id in decision.ranked]
    assert all(routing.rank_key(winner) <= routing.rank_key(c) for c in ranked)
    assert len(decision.considered) == len(candidates)


@given(candidates=candidate_lists, seed=st.integers())
def test_the_decision_does_not_depend_on_candidate_order(candidates, seed):
    shuffled = list(candidates)
    random.Random(seed).shuffle(shuffled)

    first = routing.choose_engineer(ticket(), [SH], candidates)
    second = routing.choose_engineer(ticket(), [SH], shuffled)

    assert first.ranked == second.ranked
    assert first.as_reason() == second.as_reason()


@given(candidates=candidate_lists, coverage=st.sampled_from(["24x7", "business_hours"]))
def test_the_stored_reason_expands_to_the_reason_shown(candidates, coverage):
    decision = routing.choose_engineer(ticket(coverage=coverage), [SH], candidates)
    decision.notes.append("a note")
    stored = orjson.loads(orjson.dumps(decision.stored_reason()))

    assert routing.expand_reason(stored) == orjson.loads(orjson.dumps(decision.as_reason()))
    # Reasons stored whole (before the compact form) are shown as they are.
    assert routing.expand_reason(decision.as_reason()) == decision.as_reason()
