"""Events emitted by dispatch: who works on a ticket, where, and under which task order (DESIGN §4).

The subject of every dispatch event is the ticket id, so ``seq`` orders what dispatch says about one
ticket. Engineers are dispatch's records: ``engineer_id`` is dispatch's id, ``engineer_user_id`` the
engineer's login (the ``sub`` of their token), and name and contact details travel with the event
because no other service keeps engineers.
"""

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import Event, EventData
from shared.events.types import (
    TICKET_ID,
    TICKET_NUMBER,
    ServiceMethod,
    TicketNumber,
    Tier,
    UtcDatetime,
)


class TicketAssignedData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    assignment_id: uuid.UUID = Field(description="The assignment record in dispatch.")
    engineer_id: uuid.UUID = Field(description="The engineer now responsible.")
    engineer_user_id: str | None = Field(None, description="The engineer's login (token `sub`).")
    engineer_name: str = Field(description="The engineer's name, for display and messages.")
    engineer_phone: str | None = Field(None, description="The engineer's phone, for the customer.")
    engineer_email: str | None = Field(None, description="The engineer's email.")
    branch_id: uuid.UUID | None = Field(None, description="The engineer's branch.")
    branch_name: str | None = Field(None, description="The branch's name.")
    tier: Tier = Field(
        description="Support tier: 1 local branch, 2 headquarters experts, 3 vendor support."
    )
    by: Literal["rule", "manual"] = Field(description="Chosen by the routing rules or by hand.")
    rule: str | None = Field(
        None, description="Which routing rule matched (skill, region, on-call ...), when by rule."
    )
    previous_engineer_id: uuid.UUID | None = Field(
        None, description="The engineer it was taken from, on a reassignment."
    )
    assigned_by: str | None = Field(None, description="User who assigned it by hand.")
    assigned_at: UtcDatetime = Field(description="When it was assigned.")


class TicketAssigned(Event):
    """An engineer is responsible for the ticket, by rule or by hand."""

    emitted_by: ClassVar[str] = "dispatch"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["ticket.assigned"] = "ticket.assigned"
    source: str = "dispatch"
    data: TicketAssignedData


class TicketUnassignedData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    reason: Literal["no_engineer_available", "engineer_released", "manual"] = Field(
        description="Nobody with the skill, region, shift and capacity is free; the engineer "
        "gave it back or became unavailable; or a manager took it away."
    )
    detail: str | None = Field(None, description="Details, in words.")
    previous_engineer_id: uuid.UUID | None = Field(
        None, description="The engineer who had it, if any."
    )
    branch_id: uuid.UUID | None = Field(None, description="The branch whose queue it waits in.")
    branch_name: str | None = Field(None, description="The branch's name.")
    tier: Tier = Field(description="The tier whose queue it waits in.")
    unassigned_by: str | None = Field(None, description="User who unassigned it by hand.")
    unassigned_at: UtcDatetime = Field(description="When it became unassigned.")


class TicketUnassigned(Event):
    """No engineer can take the ticket now; it waits in its branch queue."""

    emitted_by: ClassVar[str] = "dispatch"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["ticket.unassigned"] = "ticket.unassigned"
    source: str = "dispatch"
    data: TicketUnassignedData


class TicketAcknowledgedData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    assignment_id: uuid.UUID = Field(description="The assignment that was acknowledged.")
    engineer_id: uuid.UUID = Field(description="The engineer who took it.")
    engineer_name: str = Field(description="The engineer's name.")
    tier: Tier = Field(description="The engineer's tier on this ticket.")
    acknowledged_at: UtcDatetime = Field(
        description="When the engineer took it; the first response, which stops the response clock."
    )


class TicketAcknowledged(Event):
    """The assigned engineer took the ticket (first response)."""

    emitted_by: ClassVar[str] = "dispatch"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["ticket.acknowledged"] = "ticket.acknowledged"
    source: str = "dispatch"
    data: TicketAcknowledgedData


class TicketEscalatedData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    from_tier: Tier = Field(description="Tier before.")
    to_tier: Tier = Field(description="Tier after, normally `from_tier + 1`.")
    trigger: Literal["manual", "sla_breached", "customer_unsatisfied"] = Field(
        description="An engineer or manager asked for it, a deadline passed, or the customer "
        "was not satisfied."
    )
    reason: str = Field(description="Why, in words.")
    vendor: str | None = Field(None, description="The vendor engaged, at tier 3.")
    vendor_case_ref: str | None = Field(None, description="The vendor's case number, at tier 3.")
    escalated_by: str | None = Field(None, description="User who escalated it.")
    escalated_at: UtcDatetime = Field(description="When it was escalated.")


class TicketEscalated(Event):
    """The ticket went up a support tier; a `ticket.assigned` for the new tier follows."""

    emitted_by: ClassVar[str] = "dispatch"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["ticket.escalated"] = "ticket.escalated"
    source: str = "dispatch"
    data: TicketEscalatedData


class VisitCheckedInData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    visit_id: uuid.UUID = Field(description="The visit.")
    workorder_id: uuid.UUID | None = Field(None, description="The task order it carries out.")
    engineer_id: uuid.UUID = Field(description="The engineer on site.")
    engineer_name: str = Field(description="The engineer's name.")
    latitude: float | None = Field(None, ge=-90, le=90, description="Check-in position (WGS 84).")
    longitude: float | None = Field(
        None, ge=-180, le=180, description="Check-in position (WGS 84)."
    )
    checked_in_at: UtcDatetime = Field(
        description="When the engineer arrived; stops the on-site clock."
    )


class VisitCheckedIn(Event):
    """The engineer arrived on site."""

    emitted_by: ClassVar[str] = "dispatch"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["visit.checked_in"] = "visit.checked_in"
    source: str = "dispatch"
    data: VisitCheckedInData


class WorkorderCreatedData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    workorder_id: uuid.UUID = Field(description="The task order.")
    workorder_number: str = Field(description="The task order's printed number.")
    task: str = Field(description="Task content: what is to be done.")
    site_address: str | None = Field(None, description="Where the work is done.")
    due_at: UtcDatetime | None = Field(None, description="The time requirement, if any.")
    leader_engineer_id: uuid.UUID = Field(description="The team leader.")
    engineer_ids: list[uuid.UUID] = Field(
        default_factory=list, description="All engineers of the team, the leader included."
    )
    requested_by: str | None = Field(None, description="User who requested the task order.")
    approved_by: str | None = Field(None, description="Manager who approved it.")
    created_at: UtcDatetime = Field(description="When it was issued.")


class WorkorderCreated(Event):
    """A task order was issued for the ticket."""

    emitted_by: ClassVar[str] = "dispatch"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["workorder.created"] = "workorder.created"
    source: str = "dispatch"
    data: WorkorderCreatedData


class WorkorderCompletedData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    workorder_id: uuid.UUID = Field(description="The task order.")
    workorder_number: str = Field(description="The task order's printed number.")
    service_record_id: uuid.UUID = Field(description="The signed service record.")
    engineer_id: uuid.UUID = Field(description="The engineer who recorded the work.")
    method: ServiceMethod = Field(description="How the work was done.")
    work_log: str = Field(description="Steps taken and their result.")
    solved: bool = Field(description="Whether the problem is solved by this work.")
    parts: list[str] = Field(
        default_factory=list, description="Spare parts used or replaced (part numbers)."
    )
    customer_opinion: str | None = Field(
        None, description="The customer's opinion, or their evaluation of remote work."
    )
    customer_signed: bool = Field(description="Whether the customer signed the record.")
    started_at: UtcDatetime | None = Field(None, description="When the work started.")
    completed_at: UtcDatetime = Field(description="When the record was signed.")


class WorkorderCompleted(Event):
    """The task order's work is done and its service record is signed."""

    emitted_by: ClassVar[str] = "dispatch"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["workorder.completed"] = "workorder.completed"
    source: str = "dispatch"
    data: WorkorderCompletedData
