"""The life of an assignment and of a task order. Pure: no I/O.

An assignment is **active** while it is ``assigned`` (waiting for the engineer) or ``accepted``
(the engineer took it: the first response). It ends exactly once, by one of: ``declined`` (the
engineer refused it before accepting), ``handed_back`` (the engineer gave it back after
accepting), ``reassigned`` (a manager moved it), ``released`` (the ticket was resolved, closed,
merged or cancelled, so the work is over). Checking in on site needs an accepted assignment.

A task order is ``draft`` until a manager ``approved`` or ``rejected`` it; a rejected draft can
be revised, which makes it a ``draft`` again. An approved order is ``completed`` once its
service record is signed by the customer and reviewed by a manager.
"""

from __future__ import annotations

from typing import Literal

AssignmentStatus = Literal[
    "assigned", "accepted", "declined", "handed_back", "reassigned", "released"
]
AssignmentAction = Literal["accept", "decline", "hand_back", "check_in", "reassign", "release"]
WorkorderStatus = Literal["draft", "approved", "rejected", "completed"]
WorkorderAction = Literal["revise", "approve", "reject", "record", "complete"]

ACTIVE: frozenset[str] = frozenset({"assigned", "accepted"})

ASSIGNMENT_GRAPH: dict[str, dict[str, str]] = {
    "assigned": {
        "accept": "accepted",
        "decline": "declined",
        "reassign": "reassigned",
        "release": "released",
    },
    "accepted": {
        "accept": "accepted",
        "check_in": "accepted",
        "hand_back": "handed_back",
        "reassign": "reassigned",
        "release": "released",
    },
}

WORKORDER_GRAPH: dict[str, dict[str, str]] = {
    "draft": {"revise": "draft", "approve": "approved", "reject": "rejected"},
    "rejected": {"revise": "draft"},
    "approved": {"record": "approved", "complete": "completed"},
    "completed": {"record": "completed"},
}


class IllegalTransition(ValueError):
    """The action is not allowed from the current state; ``allowed`` lists what is."""

    def __init__(self, kind: str, state: str, action: str, allowed: list[str]) -> None:
        shown = ", ".join(allowed) or "nothing (it has ended)"
        super().__init__(f"cannot {action.replace('_', ' ')} a {state} {kind}; allowed: {shown}")
        self.state = state
        self.action = action
        self.allowed = allowed


def assignment_next(status: str, action: AssignmentAction) -> str:
    return _next("assignment", ASSIGNMENT_GRAPH, status, action)


def workorder_next(status: str, action: WorkorderAction) -> str:
    return _next("task order", WORKORDER_GRAPH, status, action)


def assignment_actions(status: str) -> list[str]:
    return sorted(ASSIGNMENT_GRAPH.get(status, {}))


def is_active(status: str) -> bool:
    return status in ACTIVE


def _next(kind: str, graph: dict[str, dict[str, str]], state: str, action: str) -> str:
    moves = graph.get(state, {})
    if action not in moves:
        raise IllegalTransition(kind, state, action, sorted(moves))
    return moves[action]
