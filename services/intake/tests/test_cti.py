"""Generic CTI events merge into one call whatever their order and repetition."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from intake import cti

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def event(kind: str, seconds: int, **extra) -> cti.CtiEvent:
    fields = {"event": kind, "callId": "c1", "from": "13800138000", "to": "4008001234",
              "direction": "in", **extra}  # fmt: skip
    return cti.parse(fields, T0 + timedelta(seconds=seconds))


def replay(events) -> cti.CallState:
    state = cti.CallState()
    for ev in events:
        state = cti.merge(state, ev)
    return state


def test_an_answered_call_is_the_same_in_every_order_and_with_duplicates():
    events = [event("newCall", 0), event("answer", 5, user="eng-1"), event("hangup", 65)]
    results = {
        repr(replay(order).__dict__)
        for order in itertools.permutations([*events, events[2], events[1]])
    }

    assert len(results) == 1


def test_a_hangup_without_answer_is_missed_and_a_late_answer_unmisses_it():
    missed = replay([event("newCall", 0), event("hangup", 20, cause="cancel")])
    late = cti.merge(missed, event("answer", 30))

    assert missed.missed and missed.state == "ended"
    assert not late.missed and late.answered_at <= late.ended_at


def test_outbound_and_forwarded_calls_are_not_missed():
    out = replay([event("newCall", 0, direction="out"), event("hangup", 9)])
    forwarded = replay([event("newCall", 0), event("hangup", 9, cause="forwarded")])

    assert not out.missed and not forwarded.missed
    assert out.customer_number == "4008001234"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"event": "ring", "callId": "c"}, "event"),
        ({"event": "newCall", "callId": "c", "direction": "sideways"}, "direction"),
        ({"event": "newCall", "callId": "c"}, "direction"),
        ({"event": "hangup"}, "callId"),
    ],
)
def test_invalid_events_are_refused_naming_the_field(fields, field):
    with pytest.raises(cti.InvalidEvent) as exc:
        cti.parse(fields, T0)

    assert exc.value.field == field


def test_user_and_user_array_fields_are_both_read():
    ev = cti.parse({"event": "answer", "callId": "c", "user[]": ["a", "b"], "user": "a"}, T0)

    assert set(ev.users) == {"a", "b"}
