"""The ticket state machine (DESIGN §5).

States: ``new → assigned → in_progress ⇄ pending_customer → resolved → closed``,
``resolved → reopened → (assigned | in_progress)``, and the ends ``merged`` and ``cancelled``.
Actions name what happened; ``transition`` answers the next state or raises
:class:`IllegalTransition` naming the actions and states allowed from here. Closed, merged and
cancelled are final: a closed ticket with a new problem gets a new ticket.

Events from other services (an assignment arriving after the ticket was resolved, say) use
``apply_if_allowed``: the fact is recorded on the ticket, the status moves only when the graph
allows it, so the final state is the same whatever order the events arrive in.
"""

from __future__ import annotations

from typing import Literal, get_args

Status = Literal[
    "new",
    "assigned",
    "in_progress",
    "pending_customer",
    "resolved",
    "reopened",
    "closed",
    "merged",
    "cancelled",
]
Action = Literal[
    "assign",  # dispatch (or a manager) gave it to an engineer
    "unassign",  # nobody can take it now / handed back: it waits in the queue again
    "start",  # an engineer works on it (acknowledged, or an agent took it directly)
    "wait_customer",  # waiting for the customer: SLA clocks pause
    "resume",  # the customer answered
    "resolve",  # a solution was given
    "close",  # confirmed by the customer, or the observation period elapsed
    "reopen",  # recurrence during observation, or the customer rejected the solution
    "merge",  # a duplicate joined another ticket
    "cancel",  # withdrawn or opened by mistake
]

STATUSES: tuple[Status, ...] = get_args(Status)
ACTIONS: tuple[Action, ...] = get_args(Action)
OPEN: frozenset[Status] = frozenset(
    {"new", "assigned", "in_progress", "pending_customer", "reopened"}
)
FINAL: frozenset[Status] = frozenset({"closed", "merged", "cancelled"})

GRAPH: dict[Status, dict[Action, Status]] = {
    "new": {
        "assign": "assigned",
        "start": "in_progress",
        "resolve": "resolved",
        "merge": "merged",
        "cancel": "cancelled",
    },
    "assigned": {
        "assign": "assigned",
        "unassign": "new",
        "start": "in_progress",
        "resolve": "resolved",
        "merge": "merged",
        "cancel": "cancelled",
    },
    "in_progress": {
        "assign": "assigned",
        "unassign": "new",
        "wait_customer": "pending_customer",
        "resolve": "resolved",
        "merge": "merged",
        "cancel": "cancelled",
    },
    "pending_customer": {
        "resume": "in_progress",
        "resolve": "resolved",
        "merge": "merged",
        "cancel": "cancelled",
    },
    "resolved": {"close": "closed", "reopen": "reopened"},
    "reopened": {
        "assign": "assigned",
        "start": "in_progress",
        "resolve": "resolved",
        "merge": "merged",
        "cancel": "cancelled",
    },
    "closed": {},
    "merged": {},
    "cancelled": {},
}


class IllegalTransition(ValueError):
    """``action`` is not allowed in ``status``; ``allowed`` maps the allowed actions to states."""

    def __init__(self, status: Status, action: str) -> None:
        self.status = status
        self.action = action
        self.allowed = dict(GRAPH[status])
        options = ", ".join(f"{a} → {s}" for a, s in self.allowed.items()) or "none (final)"
        super().__init__(f"cannot {action} a ticket that is {status}; allowed: {options}")


def transition(status: Status, action: Action) -> Status:
    """The state after ``action``, or :class:`IllegalTransition`."""
    try:
        return GRAPH[status][action]
    except KeyError:
        raise IllegalTransition(status, action) from None


def apply_if_allowed(status: Status, action: Action) -> Status:
    """The state after ``action`` if the graph allows it, else ``status`` unchanged."""
    return GRAPH[status].get(action, status)


def allowed_actions(status: Status) -> list[Action]:
    return list(GRAPH[status])


def is_open(status: Status) -> bool:
    return status in OPEN
