"""Field types of the event catalogue (DESIGN §4, DOMAIN.md).

Enumerations are closed ``Literal`` string sets, so a value outside the set fails validation and
the documentation can list the allowed values. Adding a value to a set is a compatible change only
for consumers that tolerate it; treat it as a contract change and say so in the changelog.
Timestamps are timezone-aware, normalised to UTC on input and written as ISO 8601 with ``Z``.
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, PlainSerializer

from shared.events.base import format_ts


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[
    AwareDatetime, AfterValidator(_to_utc), PlainSerializer(format_ts, return_type=str)
]

TicketKind = Literal["consultation", "fault", "complaint", "change", "upgrade", "inspection", "rma"]
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
TicketStatus = Literal[
    "new",
    "assigned",
    "in_progress",
    "pending_customer",
    "resolved",
    "reopened",
    "closed",
    "merged",
    "cancelled",
]
Coverage = Literal["24x7", "business_hours"]
AuthorKind = Literal["customer", "agent", "system"]
CauseCategory = Literal[
    "software", "operator_error", "configuration_loss", "virus", "intrusion", "hardware", "other"
]
ServiceType = Literal["pre_sales", "after_sales", "other"]
TimerKind = Literal["response", "on_site", "resolution", "progress", "observation"]
ServiceMethod = Literal["on_site", "remote", "consultation", "other"]

Severity = Annotated[int, Field(ge=1, le=4)]
Tier = Annotated[int, Field(ge=1, le=3)]
Score = Annotated[int, Field(ge=1, le=5)]
TicketNumber = Annotated[int, Field(ge=1)]

TICKET_ID = "The ticket; equals the envelope `subject`."
TICKET_NUMBER = "The ticket's human number, shown as `#100042`."
