"""Intake's API bodies."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=100_000)
    severity: int = Field(default=3, ge=1, le=4, description="1 (system down) to 4 (indirect)")
    organization_id: uuid.UUID
    kind: Kind = "fault"
    channel: Channel = "web"


class TicketRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: int
    reference: str = Field(description="The human ticket number, as written in mail subjects")
    organization_id: uuid.UUID
    subject: str
    description: str
    kind: str
    channel: str
    severity: int
    status: str
    created_by: str
    version: int
    created_at: datetime
    updated_at: datetime
