import json
import uuid
from datetime import UTC, date, datetime
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo

import pytest
from pydantic import AwareDatetime, BaseModel, ValidationError
from pydantic.fields import FieldInfo

from shared import events
from shared.events import docs
from shared.ids import new_id

SHANGHAI_MORNING = datetime(2026, 3, 2, 9, 15, tzinfo=ZoneInfo("Asia/Shanghai"))

DESIGN_CATALOGUE = {
    "ticket.created",
    "ticket.updated",
    "ticket.message_added",
    "ticket.status_changed",
    "ticket.resolved",
    "ticket.reopened",
    "ticket.closed",
    "ticket.merged",
    "contact.upserted",
    "asset.upserted",
    "ticket.assigned",
    "ticket.unassigned",
    "ticket.acknowledged",
    "ticket.escalated",
    "visit.checked_in",
    "workorder.created",
    "workorder.completed",
    "sla.warning",
    "sla.breached",
    "sla.observation_elapsed",
    "schedule.due",
    "notification.failed",
    "survey.answered",
    "kb.article_published",
    "kb.suggested",
}

SERVICES = {"intake", "dispatch", "sla-timer", "notify", "kb"}


def limits(metadata: list[Any]) -> dict[str, float]:
    found = {}
    for item in metadata:
        for constraint in item.metadata if isinstance(item, FieldInfo) else [item]:
            for key in ("gt", "ge", "lt", "le"):
                if getattr(constraint, key, None) is not None:
                    found[key] = getattr(constraint, key)
    return found


def example_number(annotation: type, metadata: list[Any]) -> float:
    bounds = limits(metadata)
    low = bounds.get("ge", bounds.get("gt"))
    high = bounds.get("le", bounds.get("lt"))
    if annotation is float:
        if low is not None and high is not None:
            return (low + high) / 2
        return (low or 0) + 1.5
    if high is not None:
        return high if "le" in bounds else high - 1
    if low is not None:
        return low + 41
    return 7


def example_value(annotation: Any, metadata: list[Any] | None = None) -> Any:
    metadata = metadata or []
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        return example_value(base, [*metadata, *extra])
    if origin in (Union, UnionType):
        first = next(arg for arg in get_args(annotation) if arg is not type(None))
        return example_value(first, metadata)
    if origin is Literal:
        return get_args(annotation)[-1]
    if origin is list:
        return [example_value(get_args(annotation)[0])]
    if origin is dict:
        return {"key": example_value(get_args(annotation)[1])}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return example_data(annotation)
    if annotation in (int, float):
        return example_number(annotation, metadata)
    return {
        uuid.UUID: new_id,
        AwareDatetime: lambda: SHANGHAI_MORNING,
        datetime: lambda: SHANGHAI_MORNING,
        date: lambda: date(2026, 3, 2),
        str: lambda: "Core switch down / 核心交换机故障",
        bool: lambda: True,
        Any: lambda: {"nested": [1, "two", None]},
    }[annotation]()


def example_data(model: type[BaseModel]) -> BaseModel:
    """Every field filled, optional ones included, so the round trip covers them all."""
    return model(
        **{
            name: example_value(info.annotation, list(info.metadata))
            for name, info in model.model_fields.items()
        }
    )


def example_event(cls: type[events.Event]) -> events.Event:
    data = example_data(cls.model_fields["data"].annotation)
    return cls(subject=getattr(data, cls.subject_field), data=data, correlation_id=new_id())


def data_models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []

    def walk(annotation: Any) -> None:
        is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if is_model and annotation not in found:
            found.append(annotation)
            for info in annotation.model_fields.values():
                walk(info.annotation)
        for arg in get_args(annotation):
            walk(arg)

    for cls in events.REGISTRY.values():
        walk(cls.model_fields["data"].annotation)
    return found


def minimal_ticket_created() -> events.TicketCreated:
    ticket_id = new_id()
    return events.TicketCreated(
        subject=ticket_id,
        data=events.TicketCreatedData(
            ticket_id=ticket_id,
            ticket_number=100042,
            subject="Printer offline",
            description="The printer on floor 3 does not answer.",
            severity=3,
            organization_id=new_id(),
            created_at=SHANGHAI_MORNING,
        ),
    )


def test_every_type_of_the_design_catalogue_is_registered():
    assert set(events.REGISTRY) == DESIGN_CATALOGUE


def test_each_class_declares_its_type_and_its_emitting_service():
    for event_type, cls in events.REGISTRY.items():
        assert cls.model_fields["type"].default == event_type
        assert cls.emitted_by in SERVICES
        assert cls.model_fields["source"].default == cls.emitted_by


def test_each_subject_field_names_a_uuid_of_the_data():
    for cls in events.REGISTRY.values():
        data_fields = cls.model_fields["data"].annotation.model_fields
        assert data_fields[cls.subject_field].annotation is uuid.UUID, cls.__name__


@pytest.mark.parametrize("event_type", sorted(events.REGISTRY))
def test_every_event_survives_the_wire_and_parses_to_its_own_class(event_type):
    cls = events.REGISTRY[event_type]
    event = example_event(cls)

    body = events.dumps(event)

    assert isinstance(body, bytes)
    for form in (body, body.decode(), json.loads(body)):
        parsed = events.parse(form)
        assert type(parsed) is cls
        assert parsed == event


def test_occurred_at_and_data_times_are_written_in_utc_with_z():
    event = minimal_ticket_created().model_copy(update={"occurred_at": SHANGHAI_MORNING})

    body = json.loads(events.dumps(event))

    assert body["occurred_at"] == "2026-03-02T01:15:00Z"
    assert body["data"]["created_at"] == "2026-03-02T01:15:00Z"
    assert body["data"]["reported_at"] is None


def test_data_times_are_held_in_utc_whatever_zone_they_came_in():
    event = minimal_ticket_created()

    assert event.data.created_at.tzinfo is UTC
    assert event.data.created_at == SHANGHAI_MORNING


def test_a_naive_time_is_rejected():
    body = json.loads(events.dumps(minimal_ticket_created()))
    body["data"]["created_at"] = "2026-03-02T01:15:00"

    with pytest.raises(ValidationError):
        events.parse(body)


def test_an_unknown_type_raises_unknown_event_type():
    body = json.loads(events.dumps(minimal_ticket_created()))
    body["type"] = "ticket.exploded"

    with pytest.raises(events.UnknownEventType) as raised:
        events.parse(json.dumps(body))

    assert raised.value.type == "ticket.exploded"
    assert isinstance(raised.value, ValueError)


def test_a_missing_required_field_raises_a_validation_error():
    body = json.loads(events.dumps(minimal_ticket_created()))
    del body["data"]["severity"]

    with pytest.raises(ValidationError):
        events.parse(json.dumps(body).encode())


def test_a_severity_outside_one_to_four_raises_a_validation_error():
    body = json.loads(events.dumps(minimal_ticket_created()))
    body["data"]["severity"] = 5

    with pytest.raises(ValidationError):
        events.parse(body)


def test_unknown_fields_are_ignored_for_forward_compatibility():
    event = minimal_ticket_created()
    body = json.loads(events.dumps(event))
    body["tenant"] = "added-by-a-newer-envelope"
    body["data"]["priority_hint"] = "added-by-a-newer-intake"

    parsed = events.parse(json.dumps(body))

    assert parsed == event
    assert not hasattr(parsed.data, "priority_hint")


def test_the_foundations_minimal_ticket_is_a_valid_ticket_created():
    event = minimal_ticket_created()

    parsed = events.parse(events.dumps(event))

    assert parsed.data.kind == "fault"
    assert parsed.data.channel == "web"
    assert parsed.data.coverage == "24x7"
    assert parsed.data.on_site_required is False
    assert parsed.data.contract_id is None


def test_a_caused_event_keeps_the_correlation_and_names_its_cause():
    created = minimal_ticket_created()
    assignment = example_data(events.TicketAssignedData).model_copy(
        update={"ticket_id": created.subject}
    )
    acknowledgement = example_data(events.TicketAcknowledgedData).model_copy(
        update={"ticket_id": created.subject}
    )

    assigned = events.TicketAssigned(**created.caused(subject=created.subject, data=assignment))
    acknowledged = events.TicketAcknowledged(
        **assigned.caused(subject=created.subject, data=acknowledgement)
    )

    assert assigned.correlation_id == created.id
    assert assigned.causation_id == created.id
    assert acknowledged.correlation_id == created.id
    assert acknowledged.causation_id == assigned.id


def test_every_data_field_has_a_description():
    for model in data_models():
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name}"


def test_events_md_is_generated_from_the_models():
    assert docs.DOCS_PATH.read_text(encoding="utf-8") == docs.render()
