"""The event envelope (DESIGN §4).

Every event that crosses the bus is an :class:`Event`: the envelope fields plus a typed ``data``
model. ``seq`` numbers the events one source emits about one subject (1, 2, 3 ...); it is
assigned by the outbox when the event is written, so producers leave it at 0.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_serializer

from shared.ids import new_id


def utcnow() -> datetime:
    return datetime.now(UTC)


class EventData(BaseModel):
    """Base of every event's ``data``: unknown fields are ignored so producers can add fields
    in a compatible version without breaking older consumers."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Event(BaseModel):
    """The envelope. Subclasses fix ``type`` with a ``Literal`` and ``data`` with a model."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # The service that emits this type; documented in docs/events.md.
    emitted_by: ClassVar[str] = ""

    id: uuid.UUID = Field(default_factory=new_id)
    type: str
    version: int = 1
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    source: str
    subject: uuid.UUID
    seq: int = 0
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None
    data: Any

    @field_serializer("occurred_at")
    def _utc_z(self, value: datetime) -> str:
        return format_ts(value)

    def caused(self, **fields: Any) -> dict[str, Any]:
        """Envelope fields for an event caused by this one: same correlation, this id as cause."""
        return {
            "correlation_id": self.correlation_id or self.id,
            "causation_id": self.id,
            **fields,
        }


def format_ts(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix (DESIGN §3)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
