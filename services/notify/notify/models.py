"""Notify's tables (schema ``notify``)."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Text, func
from sqlmodel import Field, SQLModel

from shared import inbox, outbox
from shared.db import NAMING_CONVENTION

SCHEMA = "notify"
SQLModel.metadata.naming_convention = NAMING_CONVENTION


class Ticket(SQLModel, table=True):
    """Notify's projection of tickets: who must hear about it and in which language."""

    __tablename__ = "ticket"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID = Field(index=True)
    number: int = Field(sa_column=Column(BigInteger, nullable=False))
    subject: str = Field(sa_column=Column(Text, nullable=False))
    contact_id: uuid.UUID | None = Field(default=None)
    language: str | None = Field(default=None, sa_column=Column(Text))
    channel: str = Field(sa_column=Column(Text, nullable=False))
    consumed_at: datetime = Field(
        sa_column=Column(
            DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()
        )
    )


OUTBOX, OUTBOX_SEQ = outbox.outbox_tables(SQLModel.metadata, SCHEMA)
INBOX = inbox.inbox_table(SQLModel.metadata, SCHEMA)
