"""Intake's tables (schema ``intake``): the customer register, tickets and their history."""

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared import http, inbox, outbox
from shared.db import NAMING_CONVENTION, new_id

SCHEMA = "intake"
SQLModel.metadata.naming_convention = NAMING_CONVENTION

TICKET_NUMBER = Sequence("ticket_number_seq", start=100001, schema=SCHEMA)


def _text(nullable: bool = True, **kw) -> Column:
    return Column(Text, nullable=nullable, **kw)


def _ts(nullable: bool = False, **kw) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable, **kw)


def _now() -> Column:
    return _ts(server_default=func.now())


def _version() -> Column:
    return Column(Integer, nullable=False, server_default="1")


class Organization(SQLModel, table=True):
    __tablename__ = "organization"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(sa_column=_text(False))
    region_code: str | None = Field(default=None, sa_column=_text())
    address: str | None = Field(default=None, sa_column=_text())
    language: str = Field(sa_column=_text(False, server_default="zh-CN"))
    time_zone: str = Field(sa_column=_text(False, server_default="Asia/Shanghai"))
    version: int = Field(sa_column=_version())
    created_at: datetime = Field(sa_column=_now())
    updated_at: datetime = Field(sa_column=_now())


class Contact(SQLModel, table=True):
    __tablename__ = "contact"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    organization_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey(f"{SCHEMA}.organization.id"), nullable=False, index=True)
    )
    name: str = Field(sa_column=_text(False))
    title: str | None = Field(default=None, sa_column=_text())
    preferred_language: str | None = Field(default=None, sa_column=_text())
    preferred_channel: str | None = Field(default=None, sa_column=_text())
    active: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="true"))
    version: int = Field(sa_column=_version())
    created_at: datetime = Field(sa_column=_now())
    updated_at: datetime = Field(sa_column=_now())


class ContactEmail(SQLModel, table=True):
    """One address belongs to one contact, so a mail's sender finds exactly one person."""

    __tablename__ = "contact_email"
    __table_args__ = (
        Index("uq_contact_email_address", text("lower(address)"), unique=True),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    contact_id: uuid.UUID = Field(
        sa_column=Column(
            ForeignKey(f"{SCHEMA}.contact.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    address: str = Field(sa_column=_text(False))
    position: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))


class ContactPhone(SQLModel, table=True):
    """Numbers in E.164; a switchboard number may be shared, so they are not unique."""

    __tablename__ = "contact_phone"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    contact_id: uuid.UUID = Field(
        sa_column=Column(
            ForeignKey(f"{SCHEMA}.contact.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    e164: str = Field(sa_column=_text(False, index=True))
    raw: str = Field(sa_column=_text(False))
    kind: str = Field(sa_column=_text(False, server_default="phone"))
    position: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))


class Contract(SQLModel, table=True):
    __tablename__ = "contract"
    __table_args__ = (
        CheckConstraint("coverage IN ('24x7', 'business_hours')", name="coverage_kind"),
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    number: str = Field(sa_column=_text(False, unique=True))
    organization_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey(f"{SCHEMA}.organization.id"), nullable=False, index=True)
    )
    coverage: str = Field(sa_column=_text(False, server_default="24x7"))
    calendar_id: str | None = Field(default=None, sa_column=_text())
    policy_key: str | None = Field(default=None, sa_column=_text())
    start_date: date = Field(sa_column=Column(Date, nullable=False))
    end_date: date = Field(sa_column=Column(Date, nullable=False))
    service_region: str | None = Field(default=None, sa_column=_text())
    on_site_included: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="true"))
    version: int = Field(sa_column=_version())
    created_at: datetime = Field(sa_column=_now())
    updated_at: datetime = Field(sa_column=_now())


class Asset(SQLModel, table=True):
    __tablename__ = "asset"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    serial: str = Field(sa_column=_text(False, unique=True))
    product: str = Field(sa_column=_text(False))
    model: str | None = Field(default=None, sa_column=_text())
    vendor: str | None = Field(default=None, sa_column=_text())
    organization_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey(f"{SCHEMA}.organization.id"), nullable=False, index=True)
    )
    contract_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.contract.id"), nullable=True)
    )
    site_address: str | None = Field(default=None, sa_column=_text())
    region: str | None = Field(default=None, sa_column=_text())
    install_date: date | None = Field(default=None, sa_column=Column(Date))
    warranty_end_date: date | None = Field(default=None, sa_column=Column(Date))
    version: int = Field(sa_column=_version())
    created_at: datetime = Field(sa_column=_now())
    updated_at: datetime = Field(sa_column=_now())


class Ticket(SQLModel, table=True):
    __tablename__ = "ticket"
    __table_args__ = (
        CheckConstraint("severity BETWEEN 1 AND 4", name="severity_range"),
        CheckConstraint("tier BETWEEN 1 AND 3", name="tier_range"),
        Index("ix_ticket_org_status_id", "organization_id", "status", text("id DESC")),
        Index("ix_ticket_status_id", "status", text("id DESC")),
        Index("ix_ticket_org_id", "organization_id", text("id DESC")),
        Index("ix_ticket_assignee_id", "assignee_id", text("id DESC")),
        Index("ix_ticket_updated_at", "updated_at"),
        Index(
            "ix_ticket_open_by_contact_asset",
            "contact_id",
            "asset_id",
            postgresql_where=text(
                "status IN ('new','assigned','in_progress','pending_customer','reopened')"
            ),
        ),
        Index("uq_ticket_external_ref", "external_ref", unique=True),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    number: int = Field(
        sa_column=Column(
            BigInteger,
            TICKET_NUMBER,
            server_default=TICKET_NUMBER.next_value(),
            nullable=False,
            unique=True,
        )
    )
    organization_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey(f"{SCHEMA}.organization.id"), nullable=False)
    )
    contact_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.contact.id"), nullable=True)
    )
    contract_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.contract.id"), nullable=True)
    )
    asset_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.asset.id"), nullable=True)
    )
    channel: str = Field(sa_column=_text(False, server_default="web"))
    kind: str = Field(sa_column=_text(False, server_default="fault"))
    service_type: str = Field(sa_column=_text(False, server_default="after_sales"))
    severity: int = Field(sa_column=Column(Integer, nullable=False))
    category: str | None = Field(default=None, sa_column=_text())
    subject: str = Field(sa_column=_text(False))
    description: str = Field(sa_column=_text(False, server_default=""))
    product: str | None = Field(default=None, sa_column=_text())
    serial: str | None = Field(default=None, sa_column=_text())
    site_address: str | None = Field(default=None, sa_column=_text())
    region: str | None = Field(default=None, sa_column=_text())
    on_site_required: bool = Field(
        sa_column=Column(Boolean, nullable=False, server_default="false")
    )
    answer: str | None = Field(default=None, sa_column=_text())
    needs_follow_up: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="true"))
    coverage: str = Field(sa_column=_text(False, server_default="24x7"))
    calendar_id: str | None = Field(default=None, sa_column=_text())
    policy_key: str | None = Field(default=None, sa_column=_text())
    status: str = Field(sa_column=_text(False, server_default="new"))
    tier: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))
    assignee_id: uuid.UUID | None = Field(default=None)
    assignee_name: str | None = Field(default=None, sa_column=_text())
    assignee_user_id: str | None = Field(default=None, sa_column=_text())
    legacy: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="false"))
    paid: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="false"))
    under_warranty: bool | None = Field(default=None, sa_column=Column(Boolean))
    complaint_about_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.ticket.id"), nullable=True)
    )
    merged_into_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.ticket.id"), nullable=True)
    )
    external_ref: str | None = Field(default=None, sa_column=_text())
    resolution: str | None = Field(default=None, sa_column=_text())
    resolved_at: datetime | None = Field(default=None, sa_column=_ts(True))
    closed_at: datetime | None = Field(default=None, sa_column=_ts(True))
    reopen_count: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    # seq of dispatch's newest event about the assignee and about the tier, so that an older
    # event delivered late never overwrites a newer fact (DESIGN §4, order-independence).
    assignment_seq: int = Field(sa_column=Column(BigInteger, nullable=False, server_default="0"))
    tier_seq: int = Field(sa_column=Column(BigInteger, nullable=False, server_default="0"))
    created_by: str = Field(sa_column=_text(False))
    version: int = Field(sa_column=_version())
    created_at: datetime = Field(sa_column=_now())
    updated_at: datetime = Field(sa_column=_now())


class TicketMessage(SQLModel, table=True):
    __tablename__ = "ticket_message"
    __table_args__ = (
        Index("ix_ticket_message_ticket", "ticket_id", "created_at"),
        Index("uq_ticket_message_external_ref", "external_ref", unique=True),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    ticket_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey(f"{SCHEMA}.ticket.id"), nullable=False)
    )
    author_kind: str = Field(sa_column=_text(False))
    author_id: str | None = Field(default=None, sa_column=_text())
    author_name: str | None = Field(default=None, sa_column=_text())
    channel: str = Field(sa_column=_text(False))
    public: bool = Field(sa_column=Column(Boolean, nullable=False))
    body: str = Field(sa_column=_text(False))
    external_ref: str | None = Field(default=None, sa_column=_text())
    created_at: datetime = Field(sa_column=_now())


class Attachment(SQLModel, table=True):
    __tablename__ = "attachment"
    __table_args__ = (Index("ix_attachment_ticket", "ticket_id"), {"schema": SCHEMA})

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    ticket_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey(f"{SCHEMA}.ticket.id"), nullable=False)
    )
    message_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.ticket_message.id"), nullable=True)
    )
    filename: str = Field(sa_column=_text(False))
    content_type: str = Field(sa_column=_text(False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(sa_column=_text(False))
    storage_key: str = Field(sa_column=_text(False))
    public: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="true"))
    content_id: str | None = Field(default=None, sa_column=_text())
    created_by: str = Field(sa_column=_text(False))
    created_at: datetime = Field(sa_column=_now())


class TicketEvent(SQLModel, table=True):
    """The ticket's history as an auditor reads it: one row per thing that happened."""

    __tablename__ = "ticket_event"
    __table_args__ = (Index("ix_ticket_event_ticket", "ticket_id", "at"), {"schema": SCHEMA})

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    ticket_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey(f"{SCHEMA}.ticket.id"), nullable=False)
    )
    at: datetime = Field(sa_column=_ts())
    kind: str = Field(sa_column=_text(False))
    actor: str | None = Field(default=None, sa_column=_text())
    public: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="true"))
    summary: str = Field(sa_column=_text(False))
    data: dict = Field(sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")))
    source_event_id: uuid.UUID | None = Field(default=None)


class InboundMail(SQLModel, table=True):
    """Every mail a gateway delivered and what became of it: the audit trail of the mail
    channel, and the Message-ID index that makes a gateway's retry a no-op."""

    __tablename__ = "inbound_mail"
    __table_args__ = (
        Index("uq_inbound_mail_message_id", "message_id", unique=True),
        Index("ix_inbound_mail_ticket", "ticket_id"),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    message_id: str = Field(sa_column=_text(False))
    gateway: str = Field(sa_column=_text(False))
    from_email: str = Field(sa_column=_text(False, server_default=""))
    from_name: str = Field(sa_column=_text(False, server_default=""))
    subject: str | None = Field(default=None, sa_column=_text())
    disposition: str = Field(sa_column=_text(False, server_default="received"))
    reason: str | None = Field(default=None, sa_column=_text())
    loop_signal: str | None = Field(default=None, sa_column=_text())
    ticket_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.ticket.id"), nullable=True)
    )
    ticket_message_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.ticket_message.id"), nullable=True)
    )
    contact_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.contact.id"), nullable=True)
    )
    html: str | None = Field(default=None, sa_column=_text())
    size: int = Field(sa_column=Column(BigInteger, nullable=False, server_default="0"))
    sha256: str = Field(sa_column=_text(False, server_default=""))
    details: dict = Field(
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    )
    received_at: datetime = Field(sa_column=_now())


class InboundMessage(SQLModel, table=True):
    """An SMS or IM message a gateway delivered, keyed by the gateway's own id."""

    __tablename__ = "inbound_message"
    __table_args__ = (
        Index("uq_inbound_message_external", "channel", "external_id", unique=True),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    channel: str = Field(sa_column=_text(False))
    external_id: str = Field(sa_column=_text(False))
    sender: str = Field(sa_column=_text(False))
    disposition: str = Field(sa_column=_text(False, server_default="received"))
    ticket_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.ticket.id"), nullable=True)
    )
    ticket_message_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.ticket_message.id"), nullable=True)
    )
    contact_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.contact.id"), nullable=True)
    )
    received_at: datetime = Field(sa_column=_now())


class Call(SQLModel, table=True):
    """One phone call as the PBX reported it (Generic CTI); events merge into it in any order."""

    __tablename__ = "call"
    __table_args__ = (
        Index("uq_call_call_id", "call_id", unique=True),
        Index("ix_call_customer_number", "customer_number", text("id DESC")),
        Index("ix_call_ticket", "ticket_id"),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    call_id: str = Field(sa_column=_text(False))
    direction: str | None = Field(default=None, sa_column=_text())
    from_number: str | None = Field(default=None, sa_column=_text())
    to_number: str | None = Field(default=None, sa_column=_text())
    customer_number: str | None = Field(default=None, sa_column=_text())
    contact_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.contact.id"), nullable=True)
    )
    organization_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.organization.id"), nullable=True)
    )
    queue: str | None = Field(default=None, sa_column=_text())
    users: list = Field(sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")))
    answering_number: str | None = Field(default=None, sa_column=_text())
    cause: str | None = Field(default=None, sa_column=_text())
    state: str = Field(sa_column=_text(False, server_default="ringing"))
    missed: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="false"))
    callback: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="false"))
    started_at: datetime = Field(sa_column=_ts())
    answered_at: datetime | None = Field(default=None, sa_column=_ts(True))
    ended_at: datetime | None = Field(default=None, sa_column=_ts(True))
    ticket_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey(f"{SCHEMA}.ticket.id"), nullable=True)
    )
    events: list = Field(
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    )
    version: int = Field(sa_column=_version())
    created_at: datetime = Field(sa_column=_now())
    updated_at: datetime = Field(sa_column=_now())


class SeenSignature(SQLModel, table=True):
    """Webhook signatures already accepted, kept until their window has passed (DESIGN §7)."""

    __tablename__ = "seen_signature"
    __table_args__ = (Index("ix_seen_signature_expires_at", "expires_at"), {"schema": SCHEMA})

    signature: str = Field(sa_column=Column(Text, primary_key=True))
    expires_at: datetime = Field(sa_column=_ts())


OUTBOX, OUTBOX_SEQ = outbox.outbox_tables(SQLModel.metadata, SCHEMA)
INBOX = inbox.inbox_table(SQLModel.metadata, SCHEMA)
IDEMPOTENCY = http.idempotency_table(SQLModel.metadata, SCHEMA)
