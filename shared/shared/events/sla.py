"""Events emitted by sla-timer: deadlines near and missed, observation ended, schedules fired.

The subject of a timer event is the ticket id, so ``seq`` orders what sla-timer says about one
ticket; ``timer_id`` names the clock. Deadlines count business time on the ticket's calendar and
exclude time spent waiting on the customer, so ``due_at`` can move; a warning or breach is about
the ``due_at`` it carries. The subject of ``schedule.due`` is the schedule id.
"""

import uuid
from typing import Any, ClassVar, Literal

from pydantic import Field

from shared.events.base import Event, EventData
from shared.events.types import (
    TICKET_ID,
    TICKET_NUMBER,
    Severity,
    TicketKind,
    TicketNumber,
    TimerKind,
    UtcDatetime,
)


class TimerData(EventData):
    """The fields `sla.warning` and `sla.breached` share: the clock and what routes the alarm."""

    timer_id: uuid.UUID = Field(description="The clock in sla-timer.")
    timer_kind: TimerKind = Field(description="Which commitment the clock measures.")
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    due_at: UtcDatetime = Field(description="The deadline, as computed when this was emitted.")
    target_seconds: int = Field(
        ge=0, description="The commitment, in business seconds (e.g. 3600 for a 1 h response)."
    )
    severity: Severity = Field(description="The ticket's severity.")
    kind: TicketKind = Field(description="The ticket's kind.")
    organization_id: uuid.UUID = Field(description="The customer organisation.")
    policy_key: str = Field(description="The SLA policy that set the target.")


class SlaWarningData(TimerData):
    threshold: float = Field(
        gt=0, lt=1, description="Share of the budget used up: 0.75 or 0.9 by default."
    )


class SlaWarning(Event):
    """A deadline is near (by default at 75 % and 90 % of its budget)."""

    emitted_by: ClassVar[str] = "sla-timer"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["sla.warning"] = "sla.warning"
    source: str = "sla-timer"
    data: SlaWarningData


class SlaBreachedData(TimerData):
    breached_at: UtcDatetime = Field(description="When the deadline passed unmet.")


class SlaBreached(Event):
    """A deadline passed unmet."""

    emitted_by: ClassVar[str] = "sla-timer"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["sla.breached"] = "sla.breached"
    source: str = "sla-timer"
    data: SlaBreachedData


class SlaObservationElapsedData(EventData):
    timer_id: uuid.UUID = Field(description="The observation clock in sla-timer.")
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    started_at: UtcDatetime = Field(description="When observation started (the resolution).")
    elapsed_at: UtcDatetime = Field(description="When the observation period ended.")


class SlaObservationElapsed(Event):
    """The observation period ended with no recurrence; intake closes the ticket."""

    emitted_by: ClassVar[str] = "sla-timer"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["sla.observation_elapsed"] = "sla.observation_elapsed"
    source: str = "sla-timer"
    data: SlaObservationElapsedData


class ScheduleDueData(EventData):
    schedule_id: uuid.UUID = Field(description="The schedule; equals the envelope `subject`.")
    purpose: str = Field(description="What to do, e.g. `inspection`.")
    occurrence_at: UtcDatetime = Field(
        description="The occurrence that fired; with `schedule_id` it identifies it uniquely."
    )
    organization_id: uuid.UUID | None = Field(None, description="The customer it is for.")
    contract_id: uuid.UUID | None = Field(None, description="The contract that requires it.")
    payload: dict[str, Any] = Field(
        default_factory=dict,
        description="What the schedule's owner stored for the consumer (product, site, subject).",
    )


class ScheduleDue(Event):
    """A recurring schedule fired (e.g. a contract's quarterly inspection)."""

    emitted_by: ClassVar[str] = "sla-timer"
    subject_field: ClassVar[str] = "schedule_id"
    type: Literal["schedule.due"] = "schedule.due"
    source: str = "sla-timer"
    data: ScheduleDueData
