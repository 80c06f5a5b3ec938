"""The ticket state machine, tested directly (no fixtures)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake import states
from intake.states import ACTIONS, FINAL, GRAPH, STATUSES, IllegalTransition, transition

actions = st.lists(st.sampled_from(ACTIONS), max_size=40)


def test_the_happy_path_of_a_fault():
    path = ["assign", "start", "wait_customer", "resume", "resolve", "close"]
    status = "new"

    for action in path:
        status = transition(status, action)

    assert status == "closed"


def test_a_rejected_solution_reopens_and_can_be_resolved_again():
    status = transition(transition("in_progress", "resolve"), "reopen")

    assert status == "reopened"
    assert transition(transition(status, "start"), "resolve") == "resolved"


@pytest.mark.parametrize("final", sorted(FINAL))
def test_final_states_allow_nothing(final):
    for action in ACTIONS:
        with pytest.raises(IllegalTransition) as refused:
            transition(final, action)
        assert refused.value.allowed == {}


def test_an_illegal_action_names_what_is_allowed():
    with pytest.raises(IllegalTransition) as refused:
        transition("new", "close")

    assert refused.value.allowed == {
        "assign": "assigned",
        "start": "in_progress",
        "resolve": "resolved",
        "merge": "merged",
        "cancel": "cancelled",
    }
    assert "assign → assigned" in str(refused.value)


def test_resolved_tickets_only_close_or_reopen():
    assert set(GRAPH["resolved"]) == {"close", "reopen"}


def test_every_state_is_reachable_from_new():
    seen, frontier = {"new"}, ["new"]
    while frontier:
        for target in GRAPH[frontier.pop()].values():
            if target not in seen:
                seen.add(target)
                frontier.append(target)

    assert seen == set(STATUSES)


@given(actions)
def test_random_action_sequences_never_reach_an_unknown_state(sequence):
    status = "new"
    for action in sequence:
        try:
            status = transition(status, action)
        except IllegalTransition as exc:
            assert action not in GRAPH[status]
            assert exc.allowed == GRAPH[status]
        assert status in STATUSES


@given(actions)
def test_once_final_a_ticket_stays_final(sequence):
    status, was_final = "new", False
    for action in sequence:
        status = states.apply_if_allowed(status, action)
        was_final = was_final or status in FINAL
        if was_final:
            assert status in FINAL


@given(actions)
def test_apply_if_allowed_agrees_with_transition(sequence):
    status = "new"
    for action in sequence:
        try:
            expected = transition(status, action)
        except IllegalTransition:
            expected = status
        status_after = states.apply_if_allowed(status, action)
        assert status_after == expected
        status = status_after


@given(actions)
def test_a_ticket_is_resolved_before_it_closes(sequence):
    status, previous = "new", None
    for action in sequence:
        previous, status = status, states.apply_if_allowed(status, action)
        if status == "closed" and previous != "closed":
            assert previous == "resolved"
