"""Events emitted by intake: the ticket's life and the customer register (DESIGN §4, §5).

The subject of every ``ticket.*`` event is the ticket id, so ``seq`` orders one ticket's history.
Each event carries what its consumers need to keep their own projections (dispatch routes, sla-timer
starts and stops clocks, notify writes to people, kb learns from solutions) without calling intake.
Who did something (``*_by``) is a user id, the ``sub`` of the actor's token; ``None`` means the
system or an inbound gateway.
"""

import uuid
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import Field

from shared.events.base import Event, EventData
from shared.events.types import (
    TICKET_ID,
    TICKET_NUMBER,
    AuthorKind,
    CauseCategory,
    Channel,
    Coverage,
    ServiceMethod,
    ServiceType,
    Severity,
    TicketKind,
    TicketNumber,
    TicketStatus,
    UtcDatetime,
)


class TicketCreatedData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    kind: TicketKind = Field("fault", description="Kind of request; picks the SLA policy row.")
    service_type: ServiceType = Field(
        "after_sales", description="Pre-sales, after-sales or other (the consultation record)."
    )
    severity: Severity = Field(description="Fault level: 1 system down … 4 intermittent effect.")
    channel: Channel = Field(
        "web", description="How the request arrived; per-channel response targets depend on it."
    )
    subject: str = Field(description="The ticket's title (not the envelope `subject`).")
    description: str = Field("", description="The reported problem as first recorded.")
    category: CauseCategory | None = Field(None, description="Category of cause, if known yet.")
    organization_id: uuid.UUID = Field(description="The customer organisation.")
    organization_name: str | None = Field(None, description="The organisation's name, for display.")
    contact_id: uuid.UUID | None = Field(
        None, description="The reporting contact (see `contact.upserted`), if registered."
    )
    contact_name: str | None = Field(None, description="Name of the person who reported it.")
    contact_phone: str | None = Field(None, description="Call-back number given with the report.")
    contact_email: str | None = Field(None, description="Reply address given with the report.")
    contract_id: uuid.UUID | None = Field(None, description="The service contract that covers it.")
    contract_number: str | None = Field(None, description="The contract's number, for display.")
    coverage: Coverage = Field(
        "24x7", description="Contract coverage: around the clock, or office hours only."
    )
    calendar_id: str | None = Field(
        None,
        description="Key of the sla-timer calendar that counts business time; "
        "`null` means the default calendar.",
    )
    policy_key: str | None = Field(
        None,
        description="Key of the SLA policy named by the contract; "
        "`null` means sla-timer's default for kind, severity and channel.",
    )
    product: str | None = Field(None, description="Product or project name.")
    serial: str | None = Field(None, description="Serial or service number of the device.")
    asset_id: uuid.UUID | None = Field(
        None, description="The registered device (see `asset.upserted`), if identified."
    )
    region: str | None = Field(
        None, description="Region code of the site; dispatch routes to the branch serving it."
    )
    site_address: str | None = Field(None, description="Where an engineer would go.")
    on_site_required: bool = Field(
        False, description="Whether a visit is already known to be needed (starts on-site timer)."
    )
    language: str | None = Field(
        None, description="The customer's language as a BCP 47 tag (`zh-CN`, `en`)."
    )
    external_ref: str | None = Field(
        None, description="The channel's own reference: mail Message-ID, call id, portal form id."
    )
    schedule_id: uuid.UUID | None = Field(
        None, description="The recurring schedule that opened this ticket (inspections)."
    )
    created_by: str | None = Field(None, description="User who recorded it.")
    reported_at: UtcDatetime | None = Field(
        None,
        description="When the customer reported it (call start, mail received), if earlier "
        "than `created_at`; SLA clocks start here.",
    )
    created_at: UtcDatetime = Field(description="When intake recorded the ticket.")


class TicketCreated(Event):
    """A new request, with everything routing and SLA need."""

    emitted_by: ClassVar[str] = "intake"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["ticket.created"] = "ticket.created"
    source: str = "intake"
    data: TicketCreatedData


class FieldChange(EventData):
    old: Any = Field(description="The value before, as it appears in `ticket.created`.")
    new: Any = Field(description="The value after, as it appears in `ticket.created`.")


class TicketUpdatedData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    changes: dict[str, FieldChange] = Field(
        description="Changed fields by their `ticket.created` name (severity, kind, category, "
        "product, serial, contract_id, policy_key, region, site_address ...)."
    )
    severity: Severity = Field(description="Severity after the change.")
    kind: TicketKind = Field(description="Kind after the change.")
    reason: str | None = Field(None, description="Why it changed, e.g. why severity was raised.")
    updated_by: str | None = Field(None, description="User who changed it.")
    updated_at: UtcDatetime = Field(description="When it changed.")


class TicketUpdated(Event):
    """Fields of the ticket changed, with old and new values."""

    emitted_by: ClassVar[str] = "intake"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["ticket.updated"] = "ticket.updated"
    source: str = "intake"
    data: TicketUpdatedData


class AttachmentRef(EventData):
    attachment_id: uuid.UUID = Field(description="The attachment, downloadable from intake.")
    filename: str = Field(description="File name as uploaded or received.")
    content_type: str = Field(description="MIME type.")
    size_bytes: int = Field(ge=0, description="Size in bytes.")


class TicketMessageAddedData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    message_id: uuid.UUID = Field(description="The message.")
    author_kind: AuthorKind = Field(description="Who wrote it.")
    author_id: str | None = Field(
        None, description="User id of the author, or the contact id for a customer."
    )
    author_name: str | None = Field(None, description="The author's display name.")
    channel: Channel = Field(description="How the message arrived or is to be sent.")
    public: bool = Field(description="Visible to the customer; `false` is an internal note.")
    body: str = Field(description="Plain text (HTML from mails is sanitised and converted).")
    attachments: list[AttachmentRef] = Field(
        default_factory=list, description="Files attached to the message."
    )
    external_ref: str | None = Field(
        None, description="The channel's own reference (mail Message-ID), for threading."
    )
    created_at: UtcDatetime = Field(description="When the message was written or received.")


class TicketMessageAdded(Event):
    """A message on the ticket: from the customer, an agent or the system; public or internal."""

    emitted_by: ClassVar[str] = "intake"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["ticket.message_added"] = "ticket.message_added"
    source: str = "intake"
    data: TicketMessageAddedData


class TicketStatusChangedData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    from_status: TicketStatus = Field(description="State before.")
    to_status: TicketStatus = Field(description="State after.")
    reason: str | None = Field(None, description="Why, in words.")
    severity: Severity = Field(description="Current severity.")
    kind: TicketKind = Field(description="Current kind.")
    changed_by: str | None = Field(None, description="User who changed it.")
    changed_at: UtcDatetime = Field(description="When the transition happened.")


class TicketStatusChanged(Event):
    """The ticket moved in its state graph (e.g. `in_progress` → `pending_customer`, which pauses
    SLA clocks); emitted for every transition, alongside the specific event if there is one."""

    emitted_by: ClassVar[str] = "intake"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["ticket.status_changed"] = "ticket.status_changed"
    source: str = "intake"
    data: TicketStatusChangedData


class TicketResolvedData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    resolution: str = Field(description="What was done and what fixed it.")
    category: CauseCategory | None = Field(None, description="Category of cause.")
    method: ServiceMethod | None = Field(None, description="How it was solved.")
    severity: Severity = Field(description="Severity at resolution.")
    kind: TicketKind = Field(description="Kind at resolution.")
    product: str | None = Field(None, description="Product or project at resolution.")
    resolved_by: str | None = Field(None, description="User who resolved it.")
    resolved_at: UtcDatetime = Field(description="When it was resolved; starts observation.")


class TicketResolved(Event):
    """A solution was given; the observation period starts."""

    emitted_by: ClassVar[str] = "intake"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["ticket.resolved"] = "ticket.resolved"
    source: str = "intake"
    data: TicketResolvedData


class TicketReopenedData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    reason: Literal["recurrence", "customer_unsatisfied", "other"] = Field(
        description="A recurrence during observation, or the customer was not satisfied."
    )
    comment: str | None = Field(None, description="Details, in words.")
    reopen_count: int = Field(ge=1, description="How many times this ticket has been reopened.")
    severity: Severity = Field(description="Current severity.")
    kind: TicketKind = Field(description="Current kind.")
    reopened_by: str | None = Field(None, description="User who reopened it.")
    reopened_at: UtcDatetime = Field(description="When it was reopened.")


class TicketReopened(Event):
    """The ticket is open again; the responsible engineer plans again."""

    emitted_by: ClassVar[str] = "intake"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["ticket.reopened"] = "ticket.reopened"
    source: str = "intake"
    data: TicketReopenedData


class TicketClosedData(EventData):
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    reason: Literal["customer_confirmed", "observation_elapsed", "manual"] = Field(
        description="Confirmed by the customer, observation ended, or closed by a manager."
    )
    category: CauseCategory | None = Field(None, description="Final category of cause.")
    severity: Severity = Field(description="Final severity.")
    kind: TicketKind = Field(description="Final kind.")
    resolved_at: UtcDatetime | None = Field(
        None, description="When it was last resolved; for repair-timeliness figures."
    )
    closed_by: str | None = Field(None, description="User who closed it.")
    closed_at: UtcDatetime = Field(description="When it was closed.")


class TicketClosed(Event):
    """The ticket is done: the customer confirmed, or the observation period elapsed."""

    emitted_by: ClassVar[str] = "intake"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["ticket.closed"] = "ticket.closed"
    source: str = "intake"
    data: TicketClosedData


class TicketMergedData(EventData):
    ticket_id: uuid.UUID = Field(description="The duplicate; equals the envelope `subject`.")
    ticket_number: TicketNumber = Field(description="The duplicate's number.")
    into_ticket_id: uuid.UUID = Field(description="The ticket it joined, which stays open.")
    into_ticket_number: TicketNumber = Field(description="The number of the ticket it joined.")
    reason: str | None = Field(None, description="Why they are the same problem.")
    merged_by: str | None = Field(None, description="User who merged them.")
    merged_at: UtcDatetime = Field(description="When they were merged.")


class TicketMerged(Event):
    """A duplicate joined another ticket; its timers and assignment end."""

    emitted_by: ClassVar[str] = "intake"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["ticket.merged"] = "ticket.merged"
    source: str = "intake"
    data: TicketMergedData


class ContactUpsertedData(EventData):
    contact_id: uuid.UUID = Field(description="The contact; equals the envelope `subject`.")
    organization_id: uuid.UUID = Field(description="The organisation the contact belongs to.")
    organization_name: str | None = Field(None, description="The organisation's name.")
    name: str = Field(description="Full name.")
    title: str | None = Field(None, description="Job title or role at the customer.")
    phone: str | None = Field(None, description="Office phone.")
    mobile: str | None = Field(None, description="Mobile phone (SMS).")
    email: str | None = Field(None, description="Email address.")
    fax: str | None = Field(None, description="Fax number.")
    im_ids: dict[str, str] = Field(
        default_factory=dict,
        description="Messaging accounts by channel (`wechat`, `wecom`, `dingtalk`).",
    )
    language: str | None = Field(None, description="Preferred language as a BCP 47 tag.")
    active: bool = Field(True, description="`false` once the contact is removed or has left.")
    updated_at: UtcDatetime = Field(description="When this version was saved.")


class ContactUpserted(Event):
    """A contact was created or changed; the whole current record, for projections."""

    emitted_by: ClassVar[str] = "intake"
    subject_field: ClassVar[str] = "contact_id"
    type: Literal["contact.upserted"] = "contact.upserted"
    source: str = "intake"
    data: ContactUpsertedData


class AssetUpsertedData(EventData):
    asset_id: uuid.UUID = Field(description="The device; equals the envelope `subject`.")
    organization_id: uuid.UUID = Field(description="The owning organisation.")
    contract_id: uuid.UUID | None = Field(None, description="The contract that covers it.")
    product: str = Field(description="Product name.")
    vendor: str | None = Field(None, description="Manufacturer, for tier-3 escalation.")
    model: str | None = Field(None, description="Model designation.")
    serial: str | None = Field(None, description="Serial number.")
    category: str | None = Field(
        None, description="Kind of equipment (network, server, software, security, building)."
    )
    region: str | None = Field(None, description="Region code of its site.")
    site_address: str | None = Field(None, description="Where it is installed.")
    installed_date: date | None = Field(None, description="Installation date.")
    warranty_end_date: date | None = Field(
        None, description="Last day of warranty, including extensions for long downtime."
    )
    active: bool = Field(True, description="`false` once it is decommissioned.")
    updated_at: UtcDatetime = Field(description="When this version was saved.")


class AssetUpserted(Event):
    """A device of the equipment archive was created or changed; the whole current record."""

    emitted_by: ClassVar[str] = "intake"
    subject_field: ClassVar[str] = "asset_id"
    type: Literal["asset.upserted"] = "asset.upserted"
    source: str = "intake"
    data: AssetUpsertedData
