"""Intake's API bodies: ``<Noun>Create``, ``<Noun>Update`` (PATCH), ``<Noun>Read``."""

import uuid
from datetime import date, datetime
from typing import Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from intake.states import Action, Status

Kind = Literal["consultation", "fault", "complaint", "change", "upgrade", "inspection", "rma"]
Channel = Literal[
    "phone",
    "email",
    "web",
    "fax",
    "sms",
    "wechat",
    "wecom",
    "dingtalk",
    "walk_in",
    "letter",
    "other",
]
Category = Literal[
    "software", "operator_error", "configuration_loss", "virus", "intrusion", "hardware", "other"
]
ServiceType = Literal["pre_sales", "after_sales", "other"]
Coverage = Literal["24x7", "business_hours"]
Language = Literal["zh-CN", "en"]
AuthorKind = Literal["customer", "agent", "system"]

Name = Field(min_length=1, max_length=200)
Severity = Field(ge=1, le=4, description="1 system down · 2 risk of outage · 3 degraded · 4 minor")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _check_zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai)")
    return value


_ZONES = available_timezones()


# Organisations ---------------------------------------------------------------------------


class OrganizationCreate(Strict):
    id: uuid.UUID | None = Field(default=None, description="Keep an id from another system")
    name: str = Name
    region_code: str | None = Field(default=None, max_length=20, description="e.g. 310000")
    address: str | None = Field(default=None, max_length=500)
    language: Language = "zh-CN"
    time_zone: str = "Asia/Shanghai"

    _zone = field_validator("time_zone")(_check_zone)


class OrganizationUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    region_code: str | None = Field(default=None, max_length=20)
    address: str | None = Field(default=None, max_length=500)
    language: Language | None = None
    time_zone: str | None = None

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _check_zone(value)


class OrganizationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    region_code: str | None
    address: str | None
    language: str
    time_zone: str
    version: int
    created_at: datetime
    updated_at: datetime


# Contacts --------------------------------------------------------------------------------


class PhoneIn(Strict):
    number: str = Field(min_length=3, max_length=40)
    kind: Literal["phone", "mobile", "fax"] = "phone"


class PhoneRead(BaseModel):
    e164: str
    raw: str
    kind: str


class ContactCreate(Strict):
    organization_id: uuid.UUID
    name: str = Name
    title: str | None = Field(default=None, max_length=200)
    emails: list[EmailStr] = Field(default_factory=list, max_length=10)
    phones: list[PhoneIn] = Field(default_factory=list, max_length=10)
    preferred_language: Language | None = None
    preferred_channel: Channel | None = None


class ContactUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    emails: list[EmailStr] | None = Field(default=None, max_length=10)
    phones: list[PhoneIn] | None = Field(default=None, max_length=10)
    preferred_language: Language | None = None
    preferred_channel: Channel | None = None
    active: bool | None = None


class ContactRead(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    title: str | None
    emails: list[str]
    phones: list[PhoneRead]
    preferred_language: str | None
    preferred_channel: str | None
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


# Contracts -------------------------------------------------------------------------------


class ContractCreate(Strict):
    number: str = Field(min_length=1, max_length=100)
    organization_id: uuid.UUID
    coverage: Coverage = "24x7"
    calendar_id: str | None = Field(default=None, max_length=100)
    policy_key: str | None = Field(default=None, max_length=100)
    start_date: date
    end_date: date
    service_region: str | None = Field(default=None, max_length=20)
    on_site_included: bool = True


class ContractUpdate(Strict):
    coverage: Coverage | None = None
    calendar_id: str | None = Field(default=None, max_length=100)
    policy_key: str | None = Field(default=None, max_length=100)
    start_date: date | None = None
    end_date: date | None = None
    service_region: str | None = Field(default=None, max_length=20)
    on_site_included: bool | None = None


class ContractRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    organization_id: uuid.UUID
    coverage: str
    calendar_id: str | None
    policy_key: str | None
    start_date: date
    end_date: date
    service_region: str | None
    on_site_included: bool
    version: int
    created_at: datetime
    updated_at: datetime


# Assets ----------------------------------------------------------------------------------


class AssetCreate(Strict):
    serial: str = Field(min_length=1, max_length=100)
    product: str = Field(min_length=1, max_length=200)
    model: str | None = Field(default=None, max_length=200)
    vendor: str | None = Field(default=None, max_length=200)
    organization_id: uuid.UUID
    contract_id: uuid.UUID | None = None
    site_address: str | None = Field(default=None, max_length=500)
    region: str | None = Field(default=None, max_length=20)
    install_date: date | None = None
    warranty_end_date: date | None = None


class AssetUpdate(Strict):
    product: str | None = Field(default=None, min_length=1, max_length=200)
    model: str | None = Field(default=None, max_length=200)
    vendor: str | None = Field(default=None, max_length=200)
    contract_id: uuid.UUID | None = None
    site_address: str | None = Field(default=None, max_length=500)
    region: str | None = Field(default=None, max_length=20)
    install_date: date | None = None
    warranty_end_date: date | None = None


class WarrantyExtensionRead(BaseModel):
    ticket_number: int
    downtime_days: float
    extension_days: float
    reason: str


class WarrantyRead(BaseModel):
    base_end_date: date | None
    effective_end_date: date | None
    under_warranty: bool
    extensions: list[WarrantyExtensionRead]


class AssetRead(BaseModel):
    id: uuid.UUID
    serial: str
    product: str
    model: str | None
    vendor: str | None
    organization_id: uuid.UUID
    contract_id: uuid.UUID | None
    site_address: str | None
    region: str | None
    install_date: date | None
    warranty_end_date: date | None
    warranty: WarrantyRead
    version: int
    created_at: datetime
    updated_at: datetime


# Tickets ---------------------------------------------------------------------------------


class TicketCreate(Strict):
    subject: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=100_000)
    severity: int = Field(default=3, ge=1, le=4)
    organization_id: uuid.UUID | None = Field(
        default=None, description="Required unless a contact, contract or asset implies it"
    )
    contact_id: uuid.UUID | None = None
    contract_id: uuid.UUID | None = None
    asset_id: uuid.UUID | None = None
    serial: str | None = Field(default=None, max_length=100, description="Finds the asset")
    product: str | None = Field(default=None, max_length=200)
    kind: Kind = "fault"
    service_type: ServiceType = "after_sales"
    channel: Channel = "web"
    category: Category | None = None
    site_address: str | None = Field(default=None, max_length=500)
    region: str | None = Field(default=None, max_length=20)
    on_site_required: bool = False
    answer: str | None = Field(default=None, max_length=100_000, description="Answer given")
    needs_follow_up: bool = True
    complaint_about_id: uuid.UUID | None = Field(
        default=None, description="For a complaint: the ticket it complains about"
    )
    join_duplicates: bool = Field(
        default=True,
        description="Join an open ticket of the same contact and asset instead of opening one",
    )
    call_id: str | None = Field(
        default=None,
        max_length=200,
        description="A call of the call log (its id or the PBX callId) this ticket records; "
        "its caller becomes the contact and the channel defaults to phone",
    )


class TicketUpdate(Strict):
    subject: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=100_000)
    severity: int | None = Field(default=None, ge=1, le=4)
    kind: Kind | None = None
    category: Category | None = None
    product: str | None = Field(default=None, max_length=200)
    site_address: str | None = Field(default=None, max_length=500)
    on_site_required: bool | None = None
    answer: str | None = Field(default=None, max_length=100_000)
    needs_follow_up: bool | None = None
    reason: str | None = Field(default=None, max_length=1000)


class TicketRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: int
    reference: str = Field(description="The human ticket number, as written in mail subjects")
    organization_id: uuid.UUID
    contact_id: uuid.UUID | None
    contract_id: uuid.UUID | None
    asset_id: uuid.UUID | None
    channel: str
    kind: str
    service_type: str
    severity: int
    category: str | None
    subject: str
    description: str
    product: str | None
    serial: str | None
    site_address: str | None
    region: str | None
    on_site_required: bool
    answer: str | None
    needs_follow_up: bool
    coverage: str
    calendar_id: str | None
    policy_key: str | None
    status: Status
    allowed_actions: list[Action]
    tier: int
    assignee_id: uuid.UUID | None
    assignee_name: str | None
    legacy: bool
    paid: bool
    under_warranty: bool | None
    complaint_about_id: uuid.UUID | None
    merged_into_id: uuid.UUID | None
    resolution: str | None
    resolved_at: datetime | None
    closed_at: datetime | None
    reopen_count: int
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime


class TransitionCreate(Strict):
    action: Action
    reason: str | None = Field(default=None, max_length=2000)
    resolution: str | None = Field(default=None, max_length=100_000)
    category: Category | None = None
    method: Literal["on_site", "remote", "consultation", "other"] | None = None


class ConfirmationCreate(Strict):
    accepted: bool
    reason: str | None = Field(default=None, max_length=2000)


class MergeCreate(Strict):
    into_ticket_id: uuid.UUID
    reason: str | None = Field(default=None, max_length=2000)


class MessageCreate(Strict):
    body: str = Field(min_length=1, max_length=100_000)
    public: bool = True
    channel: Channel = "web"


class AttachmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    public: bool
    content_id: str | None
    created_at: datetime


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    ticket_id: uuid.UUID
    author_kind: str
    author_id: str | None
    author_name: str | None
    channel: str
    public: bool
    body: str
    created_at: datetime
    attachments: list[AttachmentRead] = []


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str | None
    public: bool
    summary: str
    data: dict


class Timeline(BaseModel):
    ticket_id: uuid.UUID
    number: int
    entries: list[TimelineEntry]


# Inbound channels ------------------------------------------------------------------------

MailDisposition = Literal[
    "ticket_created", "message_added", "auto_reply_stored", "auto_reply_logged"
]


class InboundAttachmentRead(BaseModel):
    filename: str
    content_type: str
    size: int
    content_id: str | None = None
    stored: bool
    refused: str | None = Field(default=None, description="Why the file was not stored")


class InboundMailRead(BaseModel):
    id: uuid.UUID
    message_id: str
    gateway: str
    duplicate: bool = Field(description="A retry: this Message-ID was received before")
    disposition: MailDisposition
    reason: str | None
    loop_signal: str | None
    from_email: str
    from_name: str
    subject: str | None
    contact_id: uuid.UUID | None
    ticket_id: uuid.UUID | None
    ticket_number: int | None
    ticket_message_id: uuid.UUID | None
    attachments: list[InboundAttachmentRead]
    received_at: datetime


InboundChannel = Literal["sms", "wechat", "wecom", "dingtalk", "other"]


class MediaIn(Strict):
    filename: str | None = Field(default=None, max_length=255)
    content_type: str | None = Field(default=None, max_length=200)
    data: str | None = Field(default=None, description="Base64 content")
    url: str | None = Field(default=None, max_length=2000, description="Recorded, not fetched")


class MessageInbound(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)

    channel: InboundChannel
    sender: str = Field(alias="from", min_length=1, max_length=200)
    text: str = Field(default="", max_length=100_000)
    media: list[MediaIn] = Field(default_factory=list, max_length=20)
    external_id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=200, description="Sender's display name")


class InboundMessageRead(BaseModel):
    id: uuid.UUID
    channel: str
    external_id: str
    duplicate: bool
    disposition: Literal["ticket_created", "message_added"]
    contact_id: uuid.UUID | None
    ticket_id: uuid.UUID | None
    ticket_number: int | None
    ticket_message_id: uuid.UUID | None
    received_at: datetime


class CallRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    call_id: str
    direction: str | None
    from_number: str | None
    to_number: str | None
    customer_number: str | None
    contact_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    queue: str | None
    users: list
    answering_number: str | None
    cause: str | None
    state: Literal["ringing", "answered", "ended"]
    missed: bool
    callback: bool
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    ticket_id: uuid.UUID | None
    version: int
    updated_at: datetime


class CallLinkCreate(Strict):
    ticket_id: uuid.UUID
    note: str | None = Field(default=None, max_length=10_000)


class CallerRead(BaseModel):
    """What the phone shows when a call rings: who it is and what is open for them."""

    call_id: str
    contact: ContactRead | None
    organization: OrganizationRead | None
    open_tickets: list[TicketRead]
