"""Dispatch's tables (schema ``dispatch``)."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Text, func
from sqlmodel import Field, SQLModel

from shared import inbox, outbox
from shared.db import NAMING_CONVENTION

SCHEMA = "dispatch"
SQLModel.metadata.naming_convention = NAMING_CONVENTION


class Ticket(SQLModel, table=True):
    """Dispatch's projection of tickets: what routing needs (region, product, severity)."""

    __tablename__ = "ticket"
    __table_args__ = {"schema": SCHEMA}

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID = Field(index=True)
    kind: str = Field(sa_column=Column(Text, nullable=False))
    severity: int
    region: str | None = Field(default=None, sa_column=Column(Text))
    product: str | None = Field(default=None, sa_column=Column(Text))
    coverage: str = Field(sa_column=Column(Text, nullable=False))
    on_site_required: bool = Field(default=False)
    consumed_at: datetime = Field(
        sa_column=Column(
            DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()
        )
    )


OUTBOX, OUTBOX_SEQ = outbox.outbox_tables(SQLModel.metadata, SCHEMA)
INBOX = inbox.inbox_table(SQLModel.metadata, SCHEMA)
