"""Sla timer's tables (schema ``sla``)."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Text, func
from sqlmodel import Field, SQLModel

from shared import inbox, outbox
from shared.db import NAMING_CONVENTION

SCHEMA = "sla"
SQLModel.metadata.naming_convention = NAMING_CONVENTION


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
    opened_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    consumed_at: datetime = Field(
        sa_column=Column(
            DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()
        )
    )


OUTBOX, OUTBOX_SEQ = outbox.outbox_tables(SQLModel.metadata, SCHEMA)
INBOX = inbox.inbox_table(SQLModel.metadata, SCHEMA)
