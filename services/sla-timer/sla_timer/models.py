"""Sla timer's tables (schema ``sla``)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared import http, inbox, outbox
from shared.db import NAMING_CONVENTION, new_id

SCHEMA = "sla"
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def _ts(nullable: bool = True, **kw: Any) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable, **kw)


def _now() -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


def _json(default: str) -> Column:
    return Column(JSONB, nullable=False, server_default=text(f"'{default}'::jsonb"))


class Ticket(SQLModel, table=True):
    """The SLA timer's projection of tickets: what choosing a policy and calendar needs."""

    __tablename__ = "ticket"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID = Field(index=True)
    kind: str = Field(sa_column=Column(Text, nullable=False))
    severity: int
    channel: str = Field(sa_column=Column(Text, nullable=False))
    coverage: str = Field(sa_column=Column(Text, nullable=False))
    policy_key: str | None = Field(default=None, sa_column=Column(Text))
    calendar_id: str | None = Field(default=None, sa_column=Column(Text))
    opened_at: datetime = Field(sa_column=_ts(nullable=False))
    consumed_at: datetime = Field(
        sa_column=Column(
            DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()
        )
    )
    ticket_number: int | None = Field(default=None, sa_column=Column(BigInteger))
    on_site_required: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    reported_at: datetime | None = Field(default=None, sa_column=_ts())
    correlation_id: uuid.UUID | None = None


class TicketFact(SQLModel, table=True):
    """Every consumed event about a ticket, kept so its clocks can be derived again from the
    whole set whatever order the events arrived in (DESIGN §4)."""

    __tablename__ = "ticket_fact"
    __table_args__ = {"schema": SCHEMA}

    event_id: uuid.UUID = Field(primary_key=True)
    ticket_id: uuid.UUID = Field(index=True)
    source: str = Field(sa_column=Column(Text, nullable=False))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    type: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = Field(sa_column=_ts(nullable=False))
    data: dict = Field(sa_column=_json("{}"))
    received_at: datetime = Field(sa_column=_now())


class Calendar(SQLModel, table=True):
    __tablename__ = "calendar"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    key: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    time_zone: str = Field(sa_column=Column(Text, nullable=False))
    weekly_hours: dict = Field(sa_column=_json("{}"))
    workday_hours: list | None = Field(default=None, sa_column=Column(JSONB))
    holidays: list = Field(sa_column=_json("[]"))
    workdays: list = Field(sa_column=_json("[]"))
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))
    created_at: datetime = Field(sa_column=_now())
    updated_at: datetime = Field(sa_column=_now())


class Policy(SQLModel, table=True):
    __tablename__ = "policy"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    key: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    rows: list = Field(sa_column=_json("[]"))
    channel_overrides: dict = Field(sa_column=_json("{}"))
    complaint_response_minutes: int | None = None
    default_response_minutes: int | None = None
    observation_minutes: int | None = None
    warning_thresholds: list = Field(sa_column=_json("[0.75, 0.9]"))
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))
    created_at: datetime = Field(sa_column=_now())
    updated_at: datetime = Field(sa_column=_now())


class Timer(SQLModel, table=True):
    """One clock of one ticket: its derived plan, and what the scanner has fired of it.

    ``fire_plan`` holds the points still to fire (warnings, breach, observation end) in time
    order and ``next_fire_at`` the first of them; the scanner locks due rows with
    ``FOR UPDATE SKIP LOCKED`` and needs no other table.
    """

    __tablename__ = "timer"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", "round"),
        CheckConstraint(
            "state IN ('running', 'paused', 'stopped', 'cancelled')", name="state_known"
        ),
        Index(
            "ix_timer_next_fire_at",
            "next_fire_at",
            postgresql_where=text("next_fire_at IS NOT NULL"),
        ),
        Index("ix_timer_started_at", "started_at"),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    ticket_id: uuid.UUID
    kind: str = Field(sa_column=Column(Text, nullable=False))
    round: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))
    ticket_number: int = Field(sa_column=Column(BigInteger, nullable=False))
    organization_id: uuid.UUID
    ticket_kind: str = Field(sa_column=Column(Text, nullable=False))
    severity: int
    channel: str = Field(sa_column=Column(Text, nullable=False))
    policy_key: str = Field(sa_column=Column(Text, nullable=False))
    calendar_key: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(sa_column=Column(Text, nullable=False))
    target_seconds: int = Field(sa_column=Column(BigInteger, nullable=False))
    target_reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    target_set_at: datetime = Field(sa_column=_ts(nullable=False))
    started_at: datetime = Field(sa_column=_ts(nullable=False))
    stopped_at: datetime | None = Field(default=None, sa_column=_ts())
    stop_reason: str | None = Field(default=None, sa_column=Column(Text))
    due_at: datetime | None = Field(default=None, sa_column=_ts())
    breach_at: datetime | None = Field(default=None, sa_column=_ts())
    outcome: str | None = Field(default=None, sa_column=Column(Text))
    segments: list = Field(sa_column=_json("[]"))
    pauses: list = Field(sa_column=_json("[]"))
    notes: list = Field(sa_column=_json("[]"))
    fire_plan: list = Field(sa_column=_json("[]"))
    next_fire_at: datetime | None = Field(default=None, sa_column=_ts())
    fired: list = Field(sa_column=_json("[]"))
    breach_emitted_at: datetime | None = Field(default=None, sa_column=_ts())
    last_fired_at: datetime | None = Field(default=None, sa_column=_ts())
    correlation_id: uuid.UUID | None = None
    created_at: datetime = Field(sa_column=_now())
    updated_at: datetime = Field(sa_column=_now())


class RebuildRequest(SQLModel, table=True):
    """Tickets whose clocks must be derived again after a calendar or policy changed; the
    worker drains them in batches."""

    __tablename__ = "rebuild_request"
    __table_args__ = {"schema": SCHEMA}

    ticket_id: uuid.UUID = Field(primary_key=True)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    requested_at: datetime = Field(sa_column=_now())


class Schedule(SQLModel, table=True):
    __tablename__ = "schedule"
    __table_args__ = (
        Index(
            "ix_schedule_next_occurrence_at",
            "next_occurrence_at",
            postgresql_where=text("active AND next_occurrence_at IS NOT NULL"),
        ),
        {"schema": SCHEMA},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    rrule: str = Field(sa_column=Column(Text, nullable=False))
    dtstart: datetime = Field(sa_column=Column(DateTime(timezone=False), nullable=False))
    time_zone: str = Field(sa_column=Column(Text, nullable=False))
    organization_id: uuid.UUID | None = None
    contract_id: uuid.UUID | None = None
    payload: dict = Field(sa_column=_json("{}"))
    active: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=text("true"))
    )
    next_occurrence_at: datetime | None = Field(default=None, sa_column=_ts())
    last_occurrence_at: datetime | None = Field(default=None, sa_column=_ts())
    created_by: str = Field(sa_column=Column(Text, nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))
    created_at: datetime = Field(sa_column=_now())
    updated_at: datetime = Field(sa_column=_now())


class ScheduleOccurrence(SQLModel, table=True):
    """One fired occurrence; its primary key makes each occurrence fire once."""

    __tablename__ = "schedule_occurrence"
    __table_args__ = {"schema": SCHEMA}

    schedule_id: uuid.UUID = Field(primary_key=True)
    occurrence_at: datetime = Field(sa_column=_ts(nullable=False, primary_key=True))
    event_id: uuid.UUID
    fired_at: datetime = Field(sa_column=_now())


OUTBOX, OUTBOX_SEQ = outbox.outbox_tables(SQLModel.metadata, SCHEMA)
INBOX = inbox.inbox_table(SQLModel.metadata, SCHEMA)
IDEMPOTENCY = http.idempotency_table(SQLModel.metadata, SCHEMA)
