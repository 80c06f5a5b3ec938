"""Intake's tables (schema ``intake``)."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, Integer, Sequence, Text, func
from sqlmodel import Field, SQLModel

from shared import http, inbox, outbox
from shared.db import NAMING_CONVENTION, new_id

SCHEMA = "intake"
SQLModel.metadata.naming_convention = NAMING_CONVENTION

TICKET_NUMBER = Sequence("ticket_number_seq", start=100001, schema=SCHEMA)


class Ticket(SQLModel, table=True):
    __tablename__ = "ticket"
    __table_args__ = (
        CheckConstraint("severity BETWEEN 1 AND 4", name="severity_range"),
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
    organization_id: uuid.UUID = Field(index=True)
    subject: str = Field(sa_column=Column(Text, nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False, server_default=""))
    kind: str = Field(sa_column=Column(Text, nullable=False, server_default="fault"))
    channel: str = Field(sa_column=Column(Text, nullable=False, server_default="web"))
    severity: int
    status: str = Field(sa_column=Column(Text, nullable=False, server_default="new"))
    created_by: str = Field(sa_column=Column(Text, nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))
    created_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    updated_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )


OUTBOX, OUTBOX_SEQ = outbox.outbox_tables(SQLModel.metadata, SCHEMA)
INBOX = inbox.inbox_table(SQLModel.metadata, SCHEMA)
IDEMPOTENCY = http.idempotency_table(SQLModel.metadata, SCHEMA)
