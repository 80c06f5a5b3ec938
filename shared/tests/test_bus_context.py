"""A handled event's ids and trace do not outlive its handling; a batch's handlers run in
order, each in its own event's context, with prepared handlers prepared once per run."""

from datetime import UTC, datetime

from shared import events
from shared import logging as aclog
from shared.bus import _event_context, handle_claimed, prepared_by, runs
from shared.ids import new_id

HEADERS = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


def event() -> events.TicketCreated:
    ticket_id = new_id()
    return events.TicketCreated(
        subject=ticket_id,
        seq=1,
        data=events.TicketCreatedData(
            ticket_id=ticket_id,
            ticket_number=100001,
            kind="fault",
            severity=3,
            organization_id=new_id(),
            subject="s",
            description="",
            created_at=datetime.now(UTC),
        ),
    )


def test_the_trace_and_ids_are_set_while_handling_and_reset_after():
    e = event()
    with _event_context(HEADERS, e):
        assert aclog.traceparent.get() == HEADERS["traceparent"]
        assert aclog.event_id.get() == str(e.id)
        assert aclog.ticket_id.get() == str(e.subject)
    assert aclog.traceparent.get() is None
    assert aclog.event_id.get() is None
    assert aclog.ticket_id.get() is None


def test_runs_are_maximal_and_keep_the_order():
    a, b = object(), object()
    items = [(1, a), (2, a), (3, b), (4, a), (5, b), (6, b)]
    assert [[n for n, _ in run] for run in runs(items)] == [[1, 2], [3], [4], [5, 6]]
    assert runs([]) == []


async def test_a_prepared_handler_is_prepared_once_per_run_of_two_or_more():
    calls: list[tuple] = []

    async def prepare(session, evts):
        calls.append(("prepare", session, [e.id for e in evts]))

    @prepared_by(prepare)
    async def created(session, e):
        calls.append(("created", e.id, aclog.event_id.get(), aclog.traceparent.get()))

    async def other(session, e):
        calls.append(("other", e.id, aclog.event_id.get(), aclog.traceparent.get()))

    e1, e2, e3, e4, e5 = (event() for _ in range(5))
    trace = HEADERS["traceparent"]
    session = object()
    await handle_claimed(
        session,
        [(HEADERS, e1, created), (None, e2, created), (None, e3, other), (HEADERS, e4, created),
         (None, e5, created)],
    )  # fmt: skip

    assert calls == [
        ("prepare", session, [e1.id, e2.id]),
        ("created", e1.id, str(e1.id), trace),
        ("created", e2.id, str(e2.id), None),
        ("other", e3.id, str(e3.id), None),
        ("prepare", session, [e4.id, e5.id]),
        ("created", e4.id, str(e4.id), trace),
        ("created", e5.id, str(e5.id), None),
    ]
    calls.clear()
    await handle_claimed(session, [(None, e1, created), (None, e3, other), (None, e2, created)])
    assert [c[0] for c in calls] == ["created", "other", "created"]  # no run of two: unprepared
