"""Sla timer's API bodies."""

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from shared.events.types import Channel, TicketKind, TimerKind

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
HourPair = tuple[str, str]
KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
TargetKind = Literal["response", "on_site", "resolution", "progress"]


class HolidayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date
    end: date | None = Field(None, description="Last closed date; the start date when omitted")
    name: str = Field("", max_length=200)


class WorkdayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: date
    name: str = Field("", max_length=200)


class CalendarFields(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    time_zone: str = Field("Asia/Shanghai", description="IANA time zone")
    weekly_hours: dict[Weekday, list[HourPair]] = Field(
        default_factory=dict,
        description='Working intervals per weekday, e.g. {"mon": [["08:30","12:00"],'
        ' ["13:00","17:00"]]}; "24:00" ends a day',
    )
    workday_hours: list[HourPair] | None = Field(
        None, description="Hours of a make-up workday; the first weekday with hours if omitted"
    )
    holidays: list[HolidayIn] = Field(default_factory=list, max_length=2000)
    workdays: list[WorkdayIn] = Field(
        default_factory=list, max_length=1000, description="Make-up working days"
    )


class CalendarCreate(CalendarFields):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN, description="What contracts and tickets refer to")


class CalendarUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    time_zone: str | None = None
    weekly_hours: dict[Weekday, list[HourPair]] | None = None
    workday_hours: list[HourPair] | None = None
    holidays: list[HolidayIn] | None = Field(None, max_length=2000)
    workdays: list[WorkdayIn] | None = Field(None, max_length=1000)


class CalendarRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    name: str
    description: str
    time_zone: str
    weekly_hours: dict[str, list[HourPair]]
    workday_hours: list[HourPair] | None
    holidays: list[dict[str, Any]]
    workdays: list[dict[str, Any]]
    hours: str = Field(description="The weekly hours in words")
    version: int
    created_at: datetime
    updated_at: datetime


class CountryImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    country: str = Field(min_length=2, max_length=3, description="ISO 3166 code, e.g. CN")
    years: list[int] = Field(min_length=1, max_length=10)
    subdivision: str | None = None
    replace: bool = Field(False, description="Replace the holidays of those years")

    @field_validator("years")
    @classmethod
    def _years(cls, value: list[int]) -> list[int]:
        if any(not 1970 <= y <= 2100 for y in value):
            raise ValueError("years must be between 1970 and 2100")
        return value


class ImportResult(BaseModel):
    calendar: CalendarRead
    holidays_added: int
    workdays_added: int


class DueRead(BaseModel):
    calendar: str
    start: datetime
    minutes: float
    due_at: datetime
    due_local: str
    explanation: list[str]


class ElapsedRead(BaseModel):
    calendar: str
    start: datetime
    end: datetime
    working_seconds: float
    working_minutes: float
    explanation: list[str]


class PolicyRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: TicketKind
    severity: int | None = Field(None, ge=1, le=4, description="None: every severity")
    response: int | None = Field(None, ge=0, description="Minutes")
    on_site: int | None = Field(None, ge=0, description="Minutes, when a visit is needed")
    resolution: int | None = Field(None, ge=0, description="Minutes")
    progress: int | None = Field(None, ge=0, description="Minutes to a progress report")


class PolicyFields(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=4000)
    rows: list[PolicyRow] = Field(default_factory=list, max_length=200)
    channel_overrides: dict[Channel, dict[TargetKind, int]] = Field(default_factory=dict)
    complaint_response_minutes: int | None = Field(None, ge=0)
    default_response_minutes: int | None = Field(1440, ge=0)
    observation_minutes: int | None = Field(None, ge=0)
    warning_thresholds: list[float] = Field(default_factory=lambda: [0.75, 0.9], max_length=5)


class PolicyCreate(PolicyFields):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN)


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=4000)
    rows: list[PolicyRow] | None = Field(None, max_length=200)
    channel_overrides: dict[Channel, dict[TargetKind, int]] | None = None
    complaint_response_minutes: int | None = Field(None, ge=0)
    default_response_minutes: int | None = Field(None, ge=0)
    observation_minutes: int | None = Field(None, ge=0)
    warning_thresholds: list[float] | None = Field(None, max_length=5)


class PolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    name: str
    description: str
    rows: list[dict[str, Any]]
    channel_overrides: dict[str, dict[str, int]]
    complaint_response_minutes: int | None
    default_response_minutes: int | None
    observation_minutes: int | None
    warning_thresholds: list[float]
    version: int
    created_at: datetime
    updated_at: datetime


class ScheduleFields(BaseModel):
    purpose: str = Field(min_length=1, max_length=100, description="e.g. inspection")
    description: str = Field("", max_length=2000)
    rrule: str = Field(
        min_length=1,
        max_length=1000,
        description="RFC 5545 RRULE, e.g. FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1",
    )
    dtstart: datetime = Field(
        description="First occurrence as local wall time in time_zone (an offset is converted)"
    )
    time_zone: str = "Asia/Shanghai"
    organization_id: uuid.UUID | None = None
    contract_id: uuid.UUID | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    active: bool = True


class ScheduleCreate(ScheduleFields):
    model_config = ConfigDict(extra="forbid")


class ScheduleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    rrule: str | None = Field(None, min_length=1, max_length=1000)
    dtstart: datetime | None = None
    time_zone: str | None = None
    organization_id: uuid.UUID | None = None
    contract_id: uuid.UUID | None = None
    payload: dict[str, Any] | None = None
    active: bool | None = None


class ScheduleRead(BaseModel):
    id: uuid.UUID
    purpose: str
    description: str
    rrule: str
    dtstart: datetime
    time_zone: str
    organization_id: uuid.UUID | None
    contract_id: uuid.UUID | None
    payload: dict[str, Any]
    active: bool
    next_occurrence_at: datetime | None
    last_occurrence_at: datetime | None
    upcoming: list[datetime] = Field(description="The next occurrences, in UTC")
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime


class TimerRead(BaseModel):
    id: uuid.UUID
    kind: TimerKind
    round: int
    state: Literal["running", "paused", "stopped", "cancelled"]
    outcome: Literal["met", "breached", "elapsed"] | None
    target_seconds: int
    target_minutes: float
    calendar: str
    policy: str
    started_at: datetime
    due_at: datetime | None
    stopped_at: datetime | None
    breached_at: datetime | None
    working_seconds_used: float
    working_seconds_paused: float
    remaining_seconds: float | None
    fired: list[dict[str, Any]]
    explanation: list[str]


class TicketSlaRead(BaseModel):
    ticket_id: uuid.UUID
    ticket_number: int | None
    organization_id: uuid.UUID
    kind: str
    severity: int
    channel: str
    policy: str
    calendar: str
    as_of: datetime
    timers: list[TimerRead]
    explanation: str


class ComplianceRow(BaseModel):
    group: str
    timer_kind: TimerKind
    met: int
    breached: int
    open: int
    total: int
    met_rate: float | None = Field(description="met / (met + breached); None when both are 0")


class ComplianceReport(BaseModel):
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    group_by: str
    rows: list[ComplianceRow]

    model_config = ConfigDict(populate_by_name=True)
