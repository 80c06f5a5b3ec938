"""Events emitted by notify: deliveries that gave up, and the customer's satisfaction (DESIGN §4).

Addresses are personal data and stay in notify: a failed delivery names its recipient by kind and
id, never by address.
"""

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import Event, EventData
from shared.events.types import (
    TICKET_ID,
    TICKET_NUMBER,
    Channel,
    Score,
    TicketNumber,
    UtcDatetime,
)


class NotificationFailedData(EventData):
    delivery_id: uuid.UUID = Field(description="The delivery; equals the envelope `subject`.")
    channel: Literal["email", "sms", "wechat", "wecom", "dingtalk", "webhook"] = Field(
        description="The channel it was sent through."
    )
    template_key: str = Field(description="The template that was rendered.")
    recipient_kind: Literal["contact", "engineer", "user", "webhook"] = Field(
        description="Who it was for."
    )
    recipient_id: str | None = Field(
        None, description="Their id: contact or engineer id, user id, webhook endpoint id."
    )
    ticket_id: uuid.UUID | None = Field(None, description="The ticket it was about, if any.")
    ticket_number: TicketNumber | None = Field(None, description=TICKET_NUMBER)
    trigger_type: str | None = Field(
        None, description="Type of the event that caused it; its id is the `causation_id`."
    )
    attempts: int = Field(ge=1, description="How many times delivery was tried.")
    error: str = Field(description="The last error, without secrets or addresses.")
    failed_at: UtcDatetime = Field(description="When notify gave up.")


class NotificationFailed(Event):
    """A delivery gave up after its retries; someone must reach the person another way."""

    emitted_by: ClassVar[str] = "notify"
    subject_field: ClassVar[str] = "delivery_id"
    type: Literal["notification.failed"] = "notification.failed"
    source: str = "notify"
    data: NotificationFailedData


class SurveyAnsweredData(EventData):
    survey_id: uuid.UUID = Field(description="The satisfaction survey.")
    ticket_id: uuid.UUID = Field(description=TICKET_ID)
    ticket_number: TicketNumber = Field(description=TICKET_NUMBER)
    score: Score = Field(description="Satisfaction: 1 very unsatisfied … 5 very satisfied.")
    comment: str | None = Field(None, description="The customer's words.")
    contact_id: uuid.UUID | None = Field(None, description="The contact who answered.")
    engineer_id: uuid.UUID | None = Field(
        None, description="The engineer rated, for per-engineer statistics."
    )
    channel: Channel | None = Field(
        None, description="How it was answered (`sms`, `web`, `phone` for a call-back ...)."
    )
    answered_at: UtcDatetime = Field(description="When the customer answered.")


class SurveyAnswered(Event):
    """The customer rated the service of a ticket."""

    emitted_by: ClassVar[str] = "notify"
    subject_field: ClassVar[str] = "ticket_id"
    type: Literal["survey.answered"] = "survey.answered"
    source: str = "notify"
    data: SurveyAnsweredData
