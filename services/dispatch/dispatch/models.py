"""Dispatch's tables (schema ``dispatch``)."""

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from shared import http, inbox, outbox
from shared.db import NAMING_CONVENTION, new_id

SCHEMA = "dispatch"
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def _text(nullable: bool = True, **kw) -> Column:
    return Column(Text, nullable=nullable, **kw)


def _texts() -> Column:
    return Column(ARRAY(Text), nullable=False, server_default="{}")


def _ts(nullable: bool = True, **kw) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable, **kw)


def _created() -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


def _version() -> Column:
    return Column(Integer, nullable=False, server_default="1")


def _fk(target: str, nullable: bool = False, index: bool = True, **kw) -> Column:
    return Column(Uuid, ForeignKey(f"{SCHEMA}.{target}"), nullable=nullable, index=index, **kw)


class Ticket(SQLModel, table=True):
    """Dispatch's projection of tickets: what routing, task orders and reports need.

    A row can be a stub (``details_seq`` 0) when another event of the ticket arrived before
    ``ticket.created``; ``status``/``status_seq`` keep the latest intake status by ``seq``.
    ``tier`` is the current support tier; ``queue_branch_id``/``queued_at`` are set while the
    ticket waits in a branch queue.
    """

    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_queued", "queued_at", postgresql_where=text("queued_at IS NOT NULL")),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(primary_key=True)
    number: int | None = Field(default=None, sa_column=Column(BigInteger))
    organization_id: uuid.UUID | None = Field(default=None, index=True)
    organization_name: str | None = Field(default=None, sa_column=_text())
    subject: str | None = Field(default=None, sa_column=_text())
    kind: str = Field(sa_column=_text(False, server_default="fault"))
    severity: int = Field(sa_column=Column(Integer, nullable=False, server_default="3"))
    category: str | None = Field(default=None, sa_column=_text())
    region: str | None = Field(default=None, sa_column=_text())
    product: str | None = Field(default=None, sa_column=_text())
    serial: str | None = Field(default=None, sa_column=_text())
    coverage: str = Field(sa_column=_text(False, server_default="24x7"))
    on_site_required: bool = Field(default=False)
    language: str | None = Field(default=None, sa_column=_text())
    site_address: str | None = Field(default=None, sa_column=_text())
    contract_number: str | None = Field(default=None, sa_column=_text())
    contact_name: str | None = Field(default=None, sa_column=_text())
    contact_phone: str | None = Field(default=None, sa_column=_text())
    contact_email: str | None = Field(default=None, sa_column=_text())
    reported_at: datetime | None = Field(default=None, sa_column=_ts())
    details_seq: int = Field(sa_column=Column(BigInteger, nullable=False, server_default="0"))
    # seq of the intake event that last set each detail field, so that ticket.created and
    # ticket.updated events merge to the same row whatever order they arrive in (DESIGN §4).
    field_seqs: dict = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    status: str = Field(sa_column=_text(False, server_default="new"))
    status_seq: int = Field(sa_column=Column(BigInteger, nullable=False, server_default="0"))
    tier: int = Field(sa_column=Column(SmallInteger, nullable=False, server_default="1"))
    queue_branch_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    queued_at: datetime | None = Field(default=None, sa_column=_ts())
    evaluated_at: datetime | None = Field(default=None, sa_column=_ts())
    consumed_at: datetime = Field(
        sa_column=Column(
            DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()
        )
    )


class Branch(SQLModel, table=True):
    """A local branch (tier 1) or headquarters (tier 2), and the region codes it serves."""

    __tablename__ = "branch"
    __table_args__ = (
        CheckConstraint("tier IN (1, 2)", name="tier_1_or_2"),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    code: str = Field(sa_column=_text(False, unique=True))
    name: str = Field(sa_column=_text(False))
    tier: int = Field(sa_column=Column(SmallInteger, nullable=False))
    regions: list[str] = Field(default_factory=list, sa_column=_texts())
    time_zone: str = Field(sa_column=_text(False, server_default="Asia/Shanghai"))
    manager_user_id: str | None = Field(default=None, sa_column=_text())
    phone: str | None = Field(default=None, sa_column=_text())
    email: str | None = Field(default=None, sa_column=_text())
    active: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true())
    )
    version: int = Field(default=1, sa_column=_version())
    created_at: datetime = Field(sa_column=_created())
    updated_at: datetime = Field(sa_column=_created())


class Engineer(SQLModel, table=True):
    """A field engineer or headquarters expert; ``user_id`` is the ``sub`` of their token."""

    __tablename__ = "engineer"
    __table_args__ = (
        CheckConstraint("tier IN (1, 2)", name="tier_1_or_2"),
        CheckConstraint("max_open >= 0", name="max_open_not_negative"),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: str = Field(sa_column=_text(False, unique=True))
    name: str = Field(sa_column=_text(False))
    phone: str | None = Field(default=None, sa_column=_text())
    email: str | None = Field(default=None, sa_column=_text())
    branch_id: uuid.UUID = Field(sa_column=_fk("branch.id"))
    tier: int = Field(sa_column=Column(SmallInteger, nullable=False))
    skills: list[str] = Field(default_factory=list, sa_column=_texts())
    languages: list[str] = Field(default_factory=list, sa_column=_texts())
    max_open: int = Field(sa_column=Column(Integer, nullable=False, server_default="5"))
    active: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true())
    )
    version: int = Field(default=1, sa_column=_version())
    created_at: datetime = Field(sa_column=_created())
    updated_at: datetime = Field(sa_column=_created())


class EngineerLoad(SQLModel, table=True):
    """An engineer's open assignments: the row routing locks to keep ``open_count`` within
    ``engineer.max_open`` (kept apart from ``engineer`` so assignments don't change its ETag)."""

    __tablename__ = "engineer_load"
    __table_args__ = (
        CheckConstraint("open_count >= 0", name="open_count_not_negative"),
        {"schema": SCHEMA},
    )

    engineer_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey(f"{SCHEMA}.engineer.id"), primary_key=True)
    )
    open_count: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    last_assigned_at: datetime | None = Field(default=None, sa_column=_ts())
    last_released_at: datetime | None = Field(default=None, sa_column=_ts())


class Shift(SQLModel, table=True):
    """Weekly duty hours of an engineer: ISO weekdays and local hours in a time zone."""

    __tablename__ = "shift"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    engineer_id: uuid.UUID = Field(sa_column=_fk("engineer.id"))
    weekdays: list[int] = Field(sa_column=Column(ARRAY(SmallInteger), nullable=False))
    starts: time = Field(sa_column=Column(Time, nullable=False))
    ends: time = Field(sa_column=Column(Time, nullable=False))
    time_zone: str = Field(sa_column=_text(False))
    valid_from: date | None = Field(default=None, sa_column=Column(Date))
    valid_until: date | None = Field(default=None, sa_column=Column(Date))
    note: str | None = Field(default=None, sa_column=_text())
    version: int = Field(default=1, sa_column=_version())
    created_at: datetime = Field(sa_column=_created())
    updated_at: datetime = Field(sa_column=_created())


class ShiftException(SQLModel, table=True):
    """A dated change to duty: an engineer's leave or extra duty, or a branch closure."""

    __tablename__ = "shift_exception"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint(
            "(kind = 'closure' AND branch_id IS NOT NULL AND engineer_id IS NULL) OR "
            "(kind IN ('leave', 'extra_duty') AND engineer_id IS NOT NULL AND branch_id IS NULL)",
            name="scope_matches_kind",
        ),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kind: str = Field(sa_column=_text(False))
    engineer_id: uuid.UUID | None = Field(default=None, sa_column=_fk("engineer.id", True))
    branch_id: uuid.UUID | None = Field(default=None, sa_column=_fk("branch.id", True))
    starts_at: datetime = Field(sa_column=_ts(False))
    ends_at: datetime = Field(sa_column=_ts(False, index=True))
    reason: str | None = Field(default=None, sa_column=_text())
    version: int = Field(default=1, sa_column=_version())
    created_at: datetime = Field(sa_column=_created())
    updated_at: datetime = Field(sa_column=_created())


class OnCall(SQLModel, table=True):
    """A slot of a branch's on-call rota (nights, weekends, holidays): one engineer."""

    __tablename__ = "oncall"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    branch_id: uuid.UUID = Field(sa_column=_fk("branch.id"))
    engineer_id: uuid.UUID = Field(sa_column=_fk("engineer.id"))
    starts_at: datetime = Field(sa_column=_ts(False))
    ends_at: datetime = Field(sa_column=_ts(False, index=True))
    note: str | None = Field(default=None, sa_column=_text())
    version: int = Field(default=1, sa_column=_version())
    created_at: datetime = Field(sa_column=_created())
    updated_at: datetime = Field(sa_column=_created())


class RosterState(SQLModel, table=True):
    """One row whose ``version`` a statement trigger bumps on every change to branches,
    engineers, shifts, exceptions and on-call; workers cache the roster until it moves."""

    __tablename__ = "roster_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"), {"schema": SCHEMA})

    id: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    version: int = Field(sa_column=Column(BigInteger, nullable=False, server_default="1"))


class Vendor(SQLModel, table=True):
    """Vendor support (tier 3): the products it supports and how to open a case with it."""

    __tablename__ = "vendor"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(sa_column=_text(False, unique=True))
    products: list[str] = Field(default_factory=list, sa_column=_texts())
    contact_name: str | None = Field(default=None, sa_column=_text())
    phone: str | None = Field(default=None, sa_column=_text())
    email: str | None = Field(default=None, sa_column=_text())
    escalation_channel: str = Field(sa_column=_text(False, server_default="phone"))
    escalation_address: str | None = Field(default=None, sa_column=_text())
    active: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true())
    )
    version: int = Field(default=1, sa_column=_version())
    created_at: datetime = Field(sa_column=_created())
    updated_at: datetime = Field(sa_column=_created())


class RoutingDecision(SQLModel, table=True):
    """A routing decision with its full reason: every candidate, excluded or scored, and the
    winner. Stored when a ticket is assigned by rule or starts waiting in a queue."""

    __tablename__ = "routing_decision"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    ticket_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, index=True))
    trigger: str = Field(sa_column=_text(False))
    outcome: str = Field(sa_column=_text(False))
    tier: int = Field(sa_column=Column(SmallInteger, nullable=False))
    engineer_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    reason: dict = Field(sa_column=Column(JSONB, nullable=False))
    decided_at: datetime = Field(
        sa_column=Column(
            DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()
        )
    )


class Assignment(SQLModel, table=True):
    """An engineer working on a ticket. ``primary`` is the responsible engineer; a tier-1
    engineer stays attached as ``support`` when the ticket goes up to headquarters. Active
    while ``ended_at`` is null; at most one active primary per ticket (partial unique index)."""

    __tablename__ = "assignment"
    __table_args__ = (
        Index(
            "uq_assignment_active_primary",
            "ticket_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL AND role = 'primary'"),
        ),
        Index(
            "ix_assignment_engineer_active",
            "engineer_id",
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index("ix_assignment_engineer_id_assigned_at", "engineer_id", "assigned_at"),
        CheckConstraint("role IN ('primary', 'support')", name="role_known"),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    ticket_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, index=True))
    engineer_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey(f"{SCHEMA}.engineer.id"), nullable=False)
    )
    tier: int = Field(sa_column=Column(SmallInteger, nullable=False))
    role: str = Field(sa_column=_text(False, server_default="primary"))
    status: str = Field(sa_column=_text(False, server_default="assigned"))
    by: str = Field(sa_column=_text(False))
    rule: str | None = Field(default=None, sa_column=_text())
    decision_id: uuid.UUID | None = Field(
        default=None, sa_column=_fk("routing_decision.id", True, False)
    )
    assigned_by: str | None = Field(default=None, sa_column=_text())
    previous_engineer_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    assigned_at: datetime = Field(
        sa_column=Column(
            DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()
        )
    )
    accepted_at: datetime | None = Field(default=None, sa_column=_ts())
    ended_at: datetime | None = Field(default=None, sa_column=_ts())
    end_reason: str | None = Field(default=None, sa_column=_text())
    end_detail: str | None = Field(default=None, sa_column=_text())
    version: int = Field(default=1, sa_column=_version())


class Reminder(SQLModel, table=True):
    """A deadline warning recorded for the engineer responsible (or the queue, if nobody)."""

    __tablename__ = "reminder"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    ticket_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, index=True))
    assignment_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, index=True))
    engineer_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    timer_kind: str = Field(sa_column=_text(False))
    threshold: float | None = Field(default=None, sa_column=Column(Double))
    due_at: datetime | None = Field(default=None, sa_column=_ts())
    note: str = Field(sa_column=_text(False))
    created_at: datetime = Field(sa_column=_created())


class VendorCase(SQLModel, table=True):
    """A tier-3 case opened with a vendor, with the vendor's own case reference."""

    __tablename__ = "vendor_case"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    ticket_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, index=True))
    vendor_id: uuid.UUID | None = Field(default=None, sa_column=_fk("vendor.id", True))
    vendor_case_ref: str | None = Field(default=None, sa_column=_text())
    status: str = Field(sa_column=_text(False, server_default="open"))
    note: str | None = Field(default=None, sa_column=_text())
    opened_by: str | None = Field(default=None, sa_column=_text())
    opened_at: datetime = Field(sa_column=_created())
    closed_at: datetime | None = Field(default=None, sa_column=_ts())
    version: int = Field(default=1, sa_column=_version())
    updated_at: datetime = Field(sa_column=_created())


class Escalation(SQLModel, table=True):
    """A move up a tier, with what triggered it; one per SLA timer at most."""

    __tablename__ = "escalation"
    __table_args__ = (
        UniqueConstraint("ticket_id", "timer_id"),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    ticket_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, index=True))
    from_tier: int = Field(sa_column=Column(SmallInteger, nullable=False))
    to_tier: int = Field(sa_column=Column(SmallInteger, nullable=False))
    trigger: str = Field(sa_column=_text(False))
    reason: str = Field(sa_column=_text(False))
    timer_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    from_assignment_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    from_engineer_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, index=True))
    vendor_case_id: uuid.UUID | None = Field(
        default=None, sa_column=_fk("vendor_case.id", True, False)
    )
    escalated_by: str | None = Field(default=None, sa_column=_text())
    escalated_at: datetime = Field(sa_column=_created())


class Visit(SQLModel, table=True):
    """An engineer's arrival on site (check-in)."""

    __tablename__ = "visit"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    ticket_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, index=True))
    assignment_id: uuid.UUID = Field(sa_column=_fk("assignment.id"))
    engineer_id: uuid.UUID = Field(sa_column=_fk("engineer.id"))
    workorder_id: uuid.UUID | None = Field(default=None, sa_column=_fk("workorder.id", True, False))
    latitude: float | None = Field(default=None, sa_column=Column(Double))
    longitude: float | None = Field(default=None, sa_column=Column(Double))
    note: str | None = Field(default=None, sa_column=_text())
    checked_in_at: datetime = Field(sa_column=_ts(False))
    created_at: datetime = Field(sa_column=_created())


# Task order numbers (TO-<year>-<n>) come from the sequence workorder_number_seq, created by
# the migration that adds task orders.


class Workorder(SQLModel, table=True):
    """A task order (维护与服务任务书): what is to be done for a ticket, for whom, by which team,
    approved by a manager before the work starts."""

    __tablename__ = "workorder"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    number: str = Field(sa_column=_text(False, unique=True))
    ticket_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, index=True))
    status: str = Field(sa_column=_text(False, server_default="draft"))
    issue_date: date = Field(sa_column=Column(Date, nullable=False))
    due_at: datetime | None = Field(default=None, sa_column=_ts())
    task: str = Field(sa_column=_text(False))
    product: str | None = Field(default=None, sa_column=_text())
    site_address: str | None = Field(default=None, sa_column=_text())
    customer_name: str | None = Field(default=None, sa_column=_text())
    contract_number: str | None = Field(default=None, sa_column=_text())
    contact_name: str | None = Field(default=None, sa_column=_text())
    contact_phone: str | None = Field(default=None, sa_column=_text())
    contact_fax: str | None = Field(default=None, sa_column=_text())
    contact_email: str | None = Field(default=None, sa_column=_text())
    leader_engineer_id: uuid.UUID = Field(sa_column=_fk("engineer.id", index=False))
    engineer_ids: list[uuid.UUID] = Field(
        default_factory=list, sa_column=Column(ARRAY(Uuid), nullable=False, server_default="{}")
    )
    requested_by: str | None = Field(default=None, sa_column=_text())
    decided_by: str | None = Field(default=None, sa_column=_text())
    decided_at: datetime | None = Field(default=None, sa_column=_ts())
    reject_reason: str | None = Field(default=None, sa_column=_text())
    completed_at: datetime | None = Field(default=None, sa_column=_ts())
    version: int = Field(default=1, sa_column=_version())
    created_at: datetime = Field(sa_column=_created())
    updated_at: datetime = Field(sa_column=_created())


class ServiceRecord(SQLModel, table=True):
    """The service record (维护与服务记录) of a task order: the work done, the customer's
    opinion and signature, the manager's review."""

    __tablename__ = "service_record"
    __table_args__ = (
        CheckConstraint(
            "method IN ('on_site', 'remote', 'consultation', 'other')", name="method_known"
        ),
        CheckConstraint("evaluation BETWEEN 1 AND 5", name="evaluation_range"),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    workorder_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey(f"{SCHEMA}.workorder.id"), nullable=False, unique=True)
    )
    ticket_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, index=True))
    engineer_id: uuid.UUID = Field(sa_column=_fk("engineer.id"))
    service_date: date = Field(sa_column=Column(Date, nullable=False))
    serial: str | None = Field(default=None, sa_column=_text())
    problem: str = Field(sa_column=_text(False))
    method: str = Field(sa_column=_text(False))
    solved: bool = Field(default=False)
    parts: list[str] = Field(default_factory=list, sa_column=_texts())
    started_at: datetime | None = Field(default=None, sa_column=_ts())
    customer_opinion: str | None = Field(default=None, sa_column=_text())
    evaluation: int | None = Field(default=None, sa_column=Column(SmallInteger))
    signed_by_name: str | None = Field(default=None, sa_column=_text())
    signed_at: datetime | None = Field(default=None, sa_column=_ts(index=True))
    reviewed_by: str | None = Field(default=None, sa_column=_text())
    review_comment: str | None = Field(default=None, sa_column=_text())
    reviewed_at: datetime | None = Field(default=None, sa_column=_ts())
    version: int = Field(default=1, sa_column=_version())
    created_at: datetime = Field(sa_column=_created())
    updated_at: datetime = Field(sa_column=_created())


class WorkLogEntry(SQLModel, table=True):
    """One step of the work log of a service record: when, what was done and its result."""

    __tablename__ = "work_log_entry"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_record_id: uuid.UUID = Field(sa_column=_fk("service_record.id"))
    at: datetime = Field(sa_column=_ts(False))
    text: str = Field(sa_column=_text(False))
    author: str | None = Field(default=None, sa_column=_text())
    created_at: datetime = Field(sa_column=_created())


ROSTER_TABLES = ("branch", "engineer", "shift", "shift_exception", "oncall")
REQUEUE_CHANNEL = "aftercare_dispatch_requeue"

OUTBOX, OUTBOX_SEQ = outbox.outbox_tables(SQLModel.metadata, SCHEMA)
INBOX = inbox.inbox_table(SQLModel.metadata, SCHEMA)
IDEMPOTENCY = http.idempotency_table(SQLModel.metadata, SCHEMA)
