"""Assignment and task order life cycles (dispatch/states.py), and the purity rule: the
decision modules import no I/O library (STYLE rule 2)."""

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch import states
from dispatch.states import IllegalTransition

PURE_MODULES = ("routing.py", "duty.py", "states.py")
IO_LIBRARIES = {
    "sqlalchemy",
    "sqlmodel",
    "asyncpg",
    "aio_pika",
    "fastapi",
    "starlette",
    "httpx",
    "shared",
}


def test_an_assignment_is_accepted_then_handed_back():
    accepted = states.assignment_next("assigned", "accept")

    assert accepted == "accepted"
    assert states.assignment_next(accepted, "hand_back") == "handed_back"
    assert not states.is_active("handed_back")


def test_declining_is_only_possible_before_accepting():
    with pytest.raises(IllegalTransition) as raised:
        states.assignment_next("accepted", "decline")

    assert "hand_back" in raised.value.allowed
    assert "decline" not in raised.value.allowed


def test_checking_in_needs_an_accepted_assignment():
    with pytest.raises(IllegalTransition):
        states.assignment_next("assigned", "check_in")

    assert states.assignment_next("accepted", "check_in") == "accepted"


def test_a_rejected_task_order_can_be_revised_into_a_draft():
    rejected = states.workorder_next("draft", "reject")

    assert states.workorder_next(rejected, "revise") == "draft"
    with pytest.raises(IllegalTransition):
        states.workorder_next(rejected, "approve")


@given(
    st.lists(
        st.sampled_from(["accept", "decline", "hand_back", "check_in", "reassign", "release"]),
        max_size=8,
    )
)
def test_an_assignment_ends_at_most_once(actions):
    status, endings = "assigned", 0
    for action in actions:
        try:
            new = states.assignment_next(status, action)
        except IllegalTransition as exc:
            assert exc.allowed == states.assignment_actions(status)
            continue
        endings += states.is_active(status) and not states.is_active(new)
        status = new

    assert endings <= 1
    assert endings == (0 if states.is_active(status) else 1)


@pytest.mark.parametrize("module", PURE_MODULES)
def test_decision_modules_import_no_io_library(module):
    source = Path(__file__).resolve().parents[1] / "dispatch" / module
    tree = ast.parse(source.read_text())

    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])

    assert not imported & IO_LIBRARIES
