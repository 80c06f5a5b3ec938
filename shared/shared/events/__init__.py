"""The event catalogue (DESIGN §4): one pydantic model per event type, and the codec.

``parse`` turns a message body into the typed event its ``type`` names; ``dumps`` writes the body
the outbox stores and the relay publishes. docs/events.md is generated from these models by
``python -m shared.events.docs``.
"""

from typing import Annotated, Any, get_args

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from shared.events.base import Event, EventData, format_ts
from shared.events.dispatch import (
    TicketAcknowledged,
    TicketAcknowledgedData,
    TicketAssigned,
    TicketAssignedData,
    TicketEscalated,
    TicketEscalatedData,
    TicketUnassigned,
    TicketUnassignedData,
    VisitCheckedIn,
    VisitCheckedInData,
    WorkorderCompleted,
    WorkorderCompletedData,
    WorkorderCreated,
    WorkorderCreatedData,
)
from shared.events.intake import (
    AssetUpserted,
    AssetUpsertedData,
    AttachmentRef,
    ContactUpserted,
    ContactUpsertedData,
    FieldChange,
    TicketClosed,
    TicketClosedData,
    TicketCreated,
    TicketCreatedData,
    TicketMerged,
    TicketMergedData,
    TicketMessageAdded,
    TicketMessageAddedData,
    TicketReopened,
    TicketReopenedData,
    TicketResolved,
    TicketResolvedData,
    TicketStatusChanged,
    TicketStatusChangedData,
    TicketUpdated,
    TicketUpdatedData,
)
from shared.events.kb import (
    KbArticlePublished,
    KbArticlePublishedData,
    KbSuggested,
    KbSuggestedData,
    SuggestedArticle,
)
from shared.events.notify import (
    NotificationFailed,
    NotificationFailedData,
    SurveyAnswered,
    SurveyAnsweredData,
)
from shared.events.sla import (
    ScheduleDue,
    ScheduleDueData,
    SlaBreached,
    SlaBreachedData,
    SlaObservationElapsed,
    SlaObservationElapsedData,
    SlaWarning,
    SlaWarningData,
    TimerData,
)
from shared.events.types import (
    AuthorKind,
    CauseCategory,
    Channel,
    Coverage,
    Score,
    ServiceMethod,
    ServiceType,
    Severity,
    TicketKind,
    TicketNumber,
    TicketStatus,
    Tier,
    TimerKind,
    UtcDatetime,
)

AnyEvent = Annotated[
    TicketCreated
    | TicketUpdated
    | TicketMessageAdded
    | TicketStatusChanged
    | TicketResolved
    | TicketReopened
    | TicketClosed
    | TicketMerged
    | ContactUpserted
    | AssetUpserted
    | TicketAssigned
    | TicketUnassigned
    | TicketAcknowledged
    | TicketEscalated
    | VisitCheckedIn
    | WorkorderCreated
    | WorkorderCompleted
    | SlaWarning
    | SlaBreached
    | SlaObservationElapsed
    | ScheduleDue
    | NotificationFailed
    | SurveyAnswered
    | KbArticlePublished
    | KbSuggested,
    Field(discriminator="type"),
]

REGISTRY: dict[str, type[Event]] = {
    cls.model_fields["type"].default: cls for cls in get_args(get_args(AnyEvent)[0])
}

_adapter: TypeAdapter[Event] = TypeAdapter(AnyEvent, config=ConfigDict(title="Event"))


class UnknownEventType(ValueError):
    """The body's ``type`` is not in the catalogue (a newer producer, or a misrouted message)."""

    def __init__(self, type: str) -> None:
        super().__init__(f"unknown event type {type!r}")
        self.type = type


def parse(body: bytes | str | dict[str, Any]) -> Event:
    """The typed event of a JSON body (or an already decoded dict), chosen by its ``type``.

    Raises :class:`UnknownEventType` for a type outside the catalogue and pydantic's
    ``ValidationError`` for a known type whose fields are wrong.
    """
    try:
        if isinstance(body, dict):
            return _adapter.validate_python(body)
        return _adapter.validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if len(errors) == 1 and errors[0]["type"] == "union_tag_invalid":
            raise UnknownEventType(str(errors[0]["ctx"]["tag"])) from None
        raise


def dumps(event: Event) -> bytes:
    """The JSON body of an event: UTF-8, times in UTC with ``Z``."""
    return event.model_dump_json().encode()


__all__ = [
    "REGISTRY",
    "AnyEvent",
    "AssetUpserted",
    "AssetUpsertedData",
    "AttachmentRef",
    "AuthorKind",
    "CauseCategory",
    "Channel",
    "ContactUpserted",
    "ContactUpsertedData",
    "Coverage",
    "Event",
    "EventData",
    "FieldChange",
    "KbArticlePublished",
    "KbArticlePublishedData",
    "KbSuggested",
    "KbSuggestedData",
    "NotificationFailed",
    "NotificationFailedData",
    "ScheduleDue",
    "ScheduleDueData",
    "Score",
    "ServiceMethod",
    "ServiceType",
    "Severity",
    "SlaBreached",
    "SlaBreachedData",
    "SlaObservationElapsed",
    "SlaObservationElapsedData",
    "SlaWarning",
    "SlaWarningData",
    "SuggestedArticle",
    "SurveyAnswered",
    "SurveyAnsweredData",
    "TicketAcknowledged",
    "TicketAcknowledgedData",
    "TicketAssigned",
    "TicketAssignedData",
    "TicketClosed",
    "TicketClosedData",
    "TicketCreated",
    "TicketCreatedData",
    "TicketEscalated",
    "TicketEscalatedData",
    "TicketKind",
    "TicketMerged",
    "TicketMergedData",
    "TicketMessageAdded",
    "TicketMessageAddedData",
    "TicketNumber",
    "TicketReopened",
    "TicketReopenedData",
    "TicketResolved",
    "TicketResolvedData",
    "TicketStatus",
    "TicketStatusChanged",
    "TicketStatusChangedData",
    "TicketUnassigned",
    "TicketUnassignedData",
    "TicketUpdated",
    "TicketUpdatedData",
    "Tier",
    "TimerData",
    "TimerKind",
    "UnknownEventType",
    "UtcDatetime",
    "VisitCheckedIn",
    "VisitCheckedInData",
    "WorkorderCompleted",
    "WorkorderCompletedData",
    "WorkorderCreated",
    "WorkorderCreatedData",
    "dumps",
    "format_ts",
    "parse",
]
