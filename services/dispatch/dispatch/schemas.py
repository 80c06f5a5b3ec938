"""Dispatch's API bodies (STYLE rule 6): ``<Noun>Create``, ``<Noun>Update``, ``<Noun>Read``."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from dispatch.routing import expand_reason, normalise
from shared.http import Page


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai)")
    return value


def _tags(values: list[str]) -> list[str]:
    return list(dict.fromkeys(t for t in (normalise(v) for v in values) if t))


def _codes(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v.strip().upper() for v in values if v.strip()))


TimeZone = Annotated[str, AfterValidator(_zone)]
Tags = Annotated[list[str], AfterValidator(_tags)]
RegionCodes = Annotated[list[str], AfterValidator(_codes)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=10_000)]
Tier12 = Literal[1, 2]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ---- branches -----------------------------------------------------------------------------


class BranchCreate(_Body):
    id: uuid.UUID | None = Field(
        None, description="A client-chosen id (imports, fixed demo data); default: a new UUIDv7"
    )
    code: str = Field(min_length=1, max_length=50, description="Short unique code, e.g. SH")
    name: Name
    tier: Tier12 = Field(1, description="1 local branch, 2 headquarters")
    regions: RegionCodes = Field(
        default_factory=list,
        description="Region codes served: exact (CN-SH), prefix pattern (CN-SH*) or * (all)",
    )
    time_zone: TimeZone = "Asia/Shanghai"
    manager_user_id: str | None = Field(None, description="The branch manager's login")
    phone: str | None = None
    email: str | None = None
    active: bool = True


class BranchUpdate(_Body):
    name: Name | None = None
    regions: RegionCodes | None = None
    time_zone: TimeZone | None = None
    manager_user_id: str | None = None
    phone: str | None = None
    email: str | None = None
    active: bool | None = None


class BranchRead(_Read):
    id: uuid.UUID
    code: str
    name: str
    tier: int
    regions: list[str]
    time_zone: str
    manager_user_id: str | None
    phone: str | None
    email: str | None
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


BranchPage = Page[BranchRead]


# ---- engineers ----------------------------------------------------------------------------


class EngineerCreate(_Body):
    id: uuid.UUID | None = Field(
        None, description="A client-chosen id (imports, fixed demo data); default: a new UUIDv7"
    )
    user_id: str = Field(min_length=1, max_length=200, description="Login: the token's `sub`")
    name: Name
    phone: str | None = None
    email: str | None = None
    branch_id: uuid.UUID
    tier: Tier12 | None = Field(None, description="Defaults to the branch's tier, must equal it")
    skills: Tags = Field(default_factory=list, description="Product and category tags")
    languages: list[str] = Field(default_factory=lambda: ["zh-CN"])
    max_open: int = Field(5, ge=0, le=1000, description="Most open assignments at once")
    active: bool = True


class EngineerUpdate(_Body):
    name: Name | None = None
    phone: str | None = None
    email: str | None = None
    branch_id: uuid.UUID | None = None
    skills: Tags | None = None
    languages: list[str] | None = None
    max_open: int | None = Field(None, ge=0, le=1000)
    active: bool | None = None


class EngineerRead(_Read):
    id: uuid.UUID
    user_id: str
    name: str
    phone: str | None
    email: str | None
    branch_id: uuid.UUID
    tier: int
    skills: list[str]
    languages: list[str]
    max_open: int
    open_count: int = 0
    last_assigned_at: datetime | None = None
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


EngineerPage = Page[EngineerRead]


class OnDutyRead(BaseModel):
    engineer_id: uuid.UUID
    user_id: str
    name: str
    phone: str | None
    branch_id: uuid.UUID
    branch_name: str
    tier: int
    on_shift: bool
    on_call: bool
    why: str
    open_count: int
    max_open: int


class OnDutyList(BaseModel):
    at: datetime
    region: str | None
    items: list[OnDutyRead]


# ---- shifts, exceptions, on-call -----------------------------------------------------------


class ShiftCreate(_Body):
    engineer_id: uuid.UUID
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        min_length=1, description="ISO weekdays the shift starts on: 1 Monday … 7 Sunday"
    )
    starts: time = Field(description="Local start, e.g. 08:30")
    ends: time = Field(description="Local end; not after the start means the next day")
    time_zone: TimeZone | None = Field(None, description="Defaults to the branch's time zone")
    valid_from: date | None = None
    valid_until: date | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _dates(self) -> ShiftCreate:
        self.weekdays = sorted(set(self.weekdays))
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class ShiftUpdate(_Body):
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] | None = Field(None, min_length=1)
    starts: time | None = None
    ends: time | None = None
    time_zone: TimeZone | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    note: str | None = None


class ShiftRead(_Read):
    id: uuid.UUID
    engineer_id: uuid.UUID
    weekdays: list[int]
    starts: time
    ends: time
    time_zone: str
    valid_from: date | None
    valid_until: date | None
    note: str | None
    version: int
    created_at: datetime
    updated_at: datetime


ShiftPage = Page[ShiftRead]

ExceptionKind = Literal["leave", "extra_duty", "closure"]


class ShiftExceptionCreate(_Body):
    kind: ExceptionKind = Field(
        description="leave / extra_duty (of an engineer) or closure (of a whole branch)"
    )
    engineer_id: uuid.UUID | None = None
    branch_id: uuid.UUID | None = None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str | None = Field(None, max_length=1000)

    @model_validator(mode="after")
    def _scope(self) -> ShiftExceptionCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.kind == "closure" and (self.branch_id is None or self.engineer_id is not None):
            raise ValueError("a closure names a branch_id and no engineer_id")
        if self.kind != "closure" and (self.engineer_id is None or self.branch_id is not None):
            raise ValueError(f"{self.kind} names an engineer_id and no branch_id")
        return self


class ShiftExceptionUpdate(_Body):
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    reason: str | None = Field(None, max_length=1000)


class ShiftExceptionRead(_Read):
    id: uuid.UUID
    kind: str
    engineer_id: uuid.UUID | None
    branch_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime


ShiftExceptionPage = Page[ShiftExceptionRead]


class OnCallCreate(_Body):
    branch_id: uuid.UUID
    engineer_id: uuid.UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    note: str | None = None

    @model_validator(mode="after")
    def _order(self) -> OnCallCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class OnCallUpdate(_Body):
    engineer_id: uuid.UUID | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    note: str | None = None


class OnCallRead(_Read):
    id: uuid.UUID
    branch_id: uuid.UUID
    engineer_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    note: str | None
    version: int
    created_at: datetime
    updated_at: datetime


OnCallPage = Page[OnCallRead]


# ---- vendors ------------------------------------------------------------------------------

EscalationChannel = Literal["phone", "email", "portal", "api", "other"]


class VendorCreate(_Body):
    id: uuid.UUID | None = Field(
        None, description="A client-chosen id (imports, fixed demo data); default: a new UUIDv7"
    )
    name: Name
    products: Tags = Field(default_factory=list, description="Product tags it supports")
    contact_name: str | None = None
    phone: str | None = None
    email: str | None = None
    escalation_channel: EscalationChannel = "phone"
    escalation_address: str | None = Field(
        None, description="Hotline, mailbox or portal URL where cases are opened"
    )
    active: bool = True


class VendorUpdate(_Body):
    name: Name | None = None
    products: Tags | None = None
    contact_name: str | None = None
    phone: str | None = None
    email: str | None = None
    escalation_channel: EscalationChannel | None = None
    escalation_address: str | None = None
    active: bool | None = None


class VendorRead(_Read):
    id: uuid.UUID
    name: str
    products: list[str]
    contact_name: str | None
    phone: str | None
    email: str | None
    escalation_channel: str
    escalation_address: str | None
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


VendorPage = Page[VendorRead]


def changes(body: BaseModel) -> dict[str, Any]:
    """The fields a PATCH body actually sent."""
    return body.model_dump(exclude_unset=True)


# ---- assignments --------------------------------------------------------------------------


class AssignmentCreate(_Body):
    ticket_id: uuid.UUID
    engineer_id: uuid.UUID
    reason: str | None = Field(None, max_length=1000)


class ReasonBody(_Body):
    reason: str = Field(min_length=1, max_length=1000)


class ReassignBody(_Body):
    engineer_id: uuid.UUID | None = Field(
        None, description="The new engineer; none lets the rules choose another one"
    )
    reason: str | None = Field(None, max_length=1000)


class CheckInBody(_Body):
    checked_in_at: AwareDatetime | None = Field(None, description="Default: now")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    workorder_id: uuid.UUID | None = None
    note: str | None = Field(None, max_length=2000)


class VisitRead(_Read):
    id: uuid.UUID
    ticket_id: uuid.UUID
    assignment_id: uuid.UUID
    engineer_id: uuid.UUID
    workorder_id: uuid.UUID | None
    latitude: float | None
    longitude: float | None
    note: str | None
    checked_in_at: datetime


class ReminderRead(_Read):
    id: uuid.UUID
    timer_kind: str
    threshold: float | None
    due_at: datetime | None
    note: str
    created_at: datetime


class DecisionRead(_Read):
    id: uuid.UUID
    ticket_id: uuid.UUID
    trigger: str
    outcome: str
    tier: int
    engineer_id: uuid.UUID | None
    reason: dict[str, Any] = Field(
        description="summary, rule, winner, branches, required/waived skills, notes, and every "
        "candidate with its exclusion or rank and load"
    )
    decided_at: datetime

    @field_validator("reason", mode="before")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        """Reasons are stored compactly (``Decision.stored_reason``); shown in full."""
        return expand_reason(value) if isinstance(value, dict) else value


DecisionPage = Page[DecisionRead]


class AssignmentRead(_Read):
    id: uuid.UUID
    ticket_id: uuid.UUID
    ticket_number: int | None = None
    engineer_id: uuid.UUID
    engineer_name: str | None = None
    tier: int
    role: str = Field(description="primary (responsible) or support (stays attached)")
    status: str
    allowed_actions: list[str] = Field(default_factory=list)
    by: str
    rule: str | None
    assigned_by: str | None
    previous_engineer_id: uuid.UUID | None
    assigned_at: datetime
    accepted_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    end_detail: str | None
    version: int
    decision: DecisionRead | None = Field(None, description="Why the rules chose this engineer")
    reminders: list[ReminderRead] = Field(default_factory=list)
    visits: list[VisitRead] = Field(default_factory=list)


AssignmentPage = Page[AssignmentRead]


class QueuedTicketRead(_Read):
    ticket_id: uuid.UUID
    ticket_number: int | None
    subject: str | None
    severity: int
    region: str | None
    product: str | None
    tier: int
    queued_at: datetime
    evaluated_at: datetime | None
    reason: dict[str, Any] | None = Field(None, description="The decision that queued it")

    @field_validator("reason", mode="before")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        """Reasons are stored compactly (``Decision.stored_reason``); shown in full."""
        return expand_reason(value) if isinstance(value, dict) else value


QueuedTicketPage = Page[QueuedTicketRead]


# ---- escalations and vendor cases ---------------------------------------------------------


class EscalationCreate(_Body):
    ticket_id: uuid.UUID
    reason: str = Field(min_length=1, max_length=2000)
    trigger: Literal["manual", "customer_unsatisfied"] = "manual"
    vendor_id: uuid.UUID | None = Field(None, description="At tier 2 → 3: the vendor to engage")
    vendor_case_ref: str | None = Field(None, description="The vendor's case number, if known")


class EscalationRead(_Read):
    id: uuid.UUID
    ticket_id: uuid.UUID
    from_tier: int
    to_tier: int
    trigger: str
    reason: str
    timer_id: uuid.UUID | None
    from_engineer_id: uuid.UUID | None
    vendor_case_id: uuid.UUID | None
    escalated_by: str | None
    escalated_at: datetime


EscalationPage = Page[EscalationRead]


class VendorCaseUpdate(_Body):
    vendor_id: uuid.UUID | None = None
    vendor_case_ref: str | None = Field(None, max_length=200)
    status: Literal["open", "closed"] | None = None
    note: str | None = Field(None, max_length=2000)


class VendorCaseRead(_Read):
    id: uuid.UUID
    ticket_id: uuid.UUID
    vendor_id: uuid.UUID | None
    vendor_case_ref: str | None
    status: str
    note: str | None
    opened_by: str | None
    opened_at: datetime
    closed_at: datetime | None
    version: int


VendorCasePage = Page[VendorCaseRead]


# ---- task orders and service records ------------------------------------------------------

ServiceMethod = Literal["on_site", "remote", "consultation", "other"]


class WorkorderCreate(_Body):
    ticket_id: uuid.UUID
    task: str = Field(min_length=1, max_length=10_000, description="Task content")
    leader_engineer_id: uuid.UUID = Field(description="The team leader")
    engineer_ids: list[uuid.UUID] = Field(
        default_factory=list, description="The team; the leader is added if missing"
    )
    issue_date: date | None = Field(None, description="Default: today")
    due_at: AwareDatetime | None = Field(None, description="The time requirement")
    product: str | None = None
    site_address: str | None = None
    customer_name: str | None = Field(None, description="Default: the ticket's organisation")
    contract_number: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_fax: str | None = None
    contact_email: str | None = None


class WorkorderUpdate(_Body):
    task: str | None = Field(None, min_length=1, max_length=10_000)
    leader_engineer_id: uuid.UUID | None = None
    engineer_ids: list[uuid.UUID] | None = None
    due_at: AwareDatetime | None = None
    product: str | None = None
    site_address: str | None = None
    customer_name: str | None = None
    contract_number: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_fax: str | None = None
    contact_email: str | None = None


class WorkorderRead(_Read):
    id: uuid.UUID
    number: str
    ticket_id: uuid.UUID
    status: str
    issue_date: date
    due_at: datetime | None
    task: str
    product: str | None
    site_address: str | None
    customer_name: str | None
    contract_number: str | None
    contact_name: str | None
    contact_phone: str | None
    contact_fax: str | None
    contact_email: str | None
    leader_engineer_id: uuid.UUID
    engineer_ids: list[uuid.UUID]
    requested_by: str | None
    decided_by: str | None
    decided_at: datetime | None
    reject_reason: str | None
    completed_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


WorkorderPage = Page[WorkorderRead]


class ServiceRecordCreate(_Body):
    engineer_id: uuid.UUID | None = Field(None, description="Default: the caller's engineer")
    service_date: date | None = Field(None, description="Default: today")
    serial: str | None = None
    problem: str = Field(min_length=1, max_length=10_000)
    method: ServiceMethod
    solved: bool = False
    parts: list[str] = Field(default_factory=list)
    started_at: AwareDatetime | None = None


class ServiceRecordUpdate(_Body):
    serial: str | None = None
    problem: str | None = Field(None, min_length=1, max_length=10_000)
    method: ServiceMethod | None = None
    solved: bool | None = None
    parts: list[str] | None = None
    started_at: AwareDatetime | None = None


class WorkLogEntryCreate(_Body):
    at: AwareDatetime | None = Field(None, description="Default: now")
    text: str = Field(min_length=1, max_length=10_000, description="A step and its result")


class WorkLogEntryRead(_Read):
    id: uuid.UUID
    at: datetime
    text: str
    author: str | None


class SignOff(_Body):
    customer_name: str = Field(min_length=1, max_length=200, description="Who signed")
    opinion: str | None = Field(None, max_length=5000, description="The customer's opinion")
    evaluation: int | None = Field(
        None, ge=1, le=5, description="The customer's evaluation (1-5), for remote work"
    )
    signed_at: AwareDatetime | None = Field(None, description="Default: now")


class Review(_Body):
    comment: str | None = Field(None, max_length=5000)


class ServiceRecordRead(_Read):
    id: uuid.UUID
    workorder_id: uuid.UUID
    ticket_id: uuid.UUID
    engineer_id: uuid.UUID
    service_date: date
    serial: str | None
    problem: str
    method: str
    solved: bool
    parts: list[str]
    started_at: datetime | None
    work_log: list[WorkLogEntryRead] = Field(default_factory=list)
    customer_opinion: str | None
    evaluation: int | None
    signed_by_name: str | None
    signed_at: datetime | None
    reviewed_by: str | None
    review_comment: str | None
    reviewed_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


# ---- reports ------------------------------------------------------------------------------


class EngineerMonth(BaseModel):
    engineer_id: uuid.UUID
    name: str
    branch_id: uuid.UUID
    tier: int
    assignments: int = Field(description="Assignments received in the month")
    accepted: int
    declined: int
    handed_back: int
    visits: int = Field(description="On-site visits (check-ins)")
    median_accept_seconds: float | None = Field(
        description="Median time from assignment to acceptance, of those accepted in the month"
    )
    escalations: int = Field(description="Escalations of tickets they were responsible for")
    service_records_signed: int


class EngineerReport(BaseModel):
    month: str
    time_zone: str
    starts_at: datetime
    ends_at: datetime
    items: list[EngineerMonth]
    next_cursor: str | None = None
