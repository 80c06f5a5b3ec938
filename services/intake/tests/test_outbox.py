"""A ticket and its ticket.created event commit or roll back together (DESIGN §4)."""

import asyncio
import contextlib
import json

import asyncpg
from sqlalchemy import text

from intake import tickets
from intake.schemas import TicketCreate
from shared import events, outbox
from shared.auth import Actor
from shared.ids import new_id
from shared.testing import Tap, wait_until
from tests.factories import new_organization, ticket_body

AGENT = Actor(sub="eng-test", role="agent")


async def count(session, table: str, ticket_id) -> int:
    column = "id" if table == "ticket" else "subject"
    result = await session.execute(
        text(f"SELECT count(*) FROM {table} WHERE {column} = :id"), {"id": ticket_id}
    )
    return result.scalar_one()


async def test_rolled_back_ticket_leaves_no_event(app, client):
    org = await new_organization(client)
    async with app.state.sessionmaker() as session:
        created = await tickets.create(
            session, TicketCreate(**ticket_body(organization_id=org["id"])), actor=AGENT
        )
        ticket = created.ticket
        ticket_id = ticket.id
        await session.rollback()

    async with app.state.sessionmaker() as session:
        assert await count(session, "ticket", ticket_id) == 0
        assert await count(session, "outbox", ticket_id) == 0


async def test_committed_ticket_has_exactly_one_event_with_seq_1(app, client):
    org = await new_organization(client)
    async with app.state.sessionmaker() as session:
        created = await tickets.create(
            session, TicketCreate(**ticket_body(organization_id=org["id"])), actor=AGENT
        )
        ticket = created.ticket
        await session.commit()

    async with app.state.sessionmaker() as session:
        rows = (
            await session.execute(
                text("SELECT type, seq, payload FROM outbox WHERE subject = :id"), {"id": ticket.id}
            )
        ).all()
    assert [(r.type, r.seq) for r in rows] == [("ticket.created", 1)]
    assert rows[0].payload["seq"] == 1
    assert rows[0].payload["data"]["ticket_number"] == ticket.number


async def test_seq_counts_events_per_subject(app):
    subject = new_id()
    async with app.state.sessionmaker() as session:
        for _ in range(3):
            await outbox.add(session, _status_event(subject))
        await session.commit()
        seqs = (
            (
                await session.execute(
                    text("SELECT seq FROM outbox WHERE subject = :id ORDER BY position"),
                    {"id": subject},
                )
            )
            .scalars()
            .all()
        )

    assert seqs == [1, 2, 3]


async def test_relay_publishes_the_committed_event(app, client, auth, test_run):
    async with Tap(test_run.amqp_url, test_run.exchange, "ticket.created") as tap:
        org = await new_organization(client)
        created = (
            await client.post(
                "/v1/tickets", json=ticket_body(organization_id=org["id"]), headers=auth()
            )
        ).json()

        async def seen():
            return [b for b in tap.bodies if json.loads(b)["subject"] == created["id"]]

        bodies = await wait_until(seen)

    event = events.parse(bodies[0])
    assert isinstance(event, events.TicketCreated)
    assert event.data.ticket_number == created["number"]
    assert event.seq == 1
    assert len(bodies) == 1


def _status_event(subject):
    from datetime import UTC, datetime

    return events.TicketStatusChanged(
        subject=subject,
        data=events.TicketStatusChangedData(
            ticket_id=subject,
            ticket_number=100001,
            from_status="new",
            to_status="assigned",
            severity=2,
            kind="fault",
            changed_at=datetime.now(UTC),
        ),
    )


async def test_add_many_numbers_each_subject_on_from_its_counter(app):
    a, b = new_id(), new_id()
    async with app.state.sessionmaker() as session:
        await outbox.add(session, _status_event(a))
        await session.commit()
    conn = await asyncpg.connect(app.state.settings.libpq_database_url())
    try:
        async with conn.transaction():
            await outbox.add_many(
                conn,
                "intake",
                [
                    _status_event(a),
                    _status_event(b),
                    _status_event(a),
                    _status_event(b),
                    _status_event(a),
                ],
            )
        rows = await conn.fetch(
            "SELECT subject, seq, (payload->>'seq')::int AS payload_seq FROM intake.outbox "
            "WHERE subject = ANY($1::uuid[]) ORDER BY position",
            [a, b],
        )
    finally:
        await conn.close()

    assert [(r["subject"], r["seq"]) for r in rows] == [
        (a, 1),
        (a, 2),
        (b, 1),
        (a, 3),
        (b, 2),
        (a, 4),
    ]
    assert all(r["seq"] == r["payload_seq"] for r in rows)


# ---- hand-over to this process's relay ----------------------------------------------------


async def _published(tap: Tap, event_id) -> list[bytes]:
    return [b for b in tap.bodies if json.loads(b)["id"] == str(event_id)]


async def _outbox_row(app, event_id):
    async with app.state.sessionmaker() as session:
        return (
            await session.execute(
                text("SELECT relay_after, published_at FROM outbox WHERE id = :id"),
                {"id": event_id},
            )
        ).first()


@contextlib.asynccontextmanager
async def _notifications(app):
    """The NOTIFYs that wake intake's relays, as they arrive."""
    notified: list[str] = []
    listener = await asyncpg.connect(app.state.settings.libpq_database_url())
    try:
        await listener.add_listener(
            outbox.notify_channel("intake"), lambda *a: notified.append(a[2])
        )
        yield notified
    finally:
        await listener.close()


async def test_a_committed_row_goes_to_this_process_relay_without_a_notify(app, test_run):
    """The app runs its relay in this process: the row is leased to it, the commit hands it
    over, and no NOTIFY wakes the relays of other processes."""
    async with _notifications(app) as notified:
        async with Tap(test_run.amqp_url, test_run.exchange, "ticket.status_changed") as tap:
            async with app.state.sessionmaker() as session:
                event = await outbox.add(session, _status_event(new_id()))
                assert (await _outbox_row(app, event.id)) is None  # not committed yet
                await session.commit()
            await wait_until(lambda: _published(tap, event.id))
        row = await _outbox_row(app, event.id)
        assert row.relay_after is not None and row.published_at is not None
        await asyncio.sleep(0.2)  # a NOTIFY would have arrived by now
        assert notified == []


async def test_savepoints_hand_over_only_what_the_transaction_committed(app, test_run):
    """A released savepoint commits nothing yet: its rows go over with the transaction's
    commit, not before it. A rolled-back savepoint's rows are never published."""
    async with Tap(test_run.amqp_url, test_run.exchange, "ticket.status_changed") as tap:
        async with app.state.sessionmaker() as session:
            async with session.begin_nested():
                kept = await outbox.add(session, _status_event(new_id()))
            with contextlib.suppress(RuntimeError):
                async with session.begin_nested():
                    lost = await outbox.add(session, _status_event(new_id()))
                    raise RuntimeError("this part fails")
            await asyncio.sleep(0.3)  # a hand-over at the release would have found nothing
            await session.commit()
        # Early, the relay would have read nothing and the lease kept the row for 30 s.
        await wait_until(lambda: _published(tap, kept.id), timeout=5)
        await asyncio.sleep(0.3)
    assert await _published(tap, lost.id) == []
    assert await _outbox_row(app, lost.id) is None


async def test_a_leased_row_never_handed_over_is_published_when_its_lease_runs_out(
    app, test_run, monkeypatch
):
    """The process died between its commit and the hand-over: once the lease has run out,
    a relay's poll publishes the row."""
    monkeypatch.setattr(outbox, "HANDOFF_LEASE_SECONDS", 1.0)
    monkeypatch.setattr(outbox, "hand_over", lambda leased: None)
    async with Tap(test_run.amqp_url, test_run.exchange, "ticket.status_changed") as tap:
        async with app.state.sessionmaker() as session:
            event = await outbox.add(session, _status_event(new_id()))
            await session.commit()
        assert (await _outbox_row(app, event.id)).relay_after is not None
        await asyncio.sleep(0.5)
        assert await _published(tap, event.id) == []  # leased: no relay's batch takes it
        await wait_until(lambda: _published(tap, event.id), timeout=10)


async def test_a_row_written_where_no_relay_runs_wakes_the_relays_with_a_notify(
    app, test_run, monkeypatch
):
    """An API-only process (no relay of its own) writes rows without a lease; the NOTIFY
    wakes a relay at once."""
    monkeypatch.setattr(outbox, "_local", {})
    async with _notifications(app) as notified:
        async with Tap(test_run.amqp_url, test_run.exchange, "ticket.status_changed") as tap:
            async with app.state.sessionmaker() as session:
                event = await outbox.add(session, _status_event(new_id()))
                await session.commit()
            await wait_until(lambda: _published(tap, event.id), timeout=5)
        assert (await _outbox_row(app, event.id)).relay_after is None
        await wait_until(lambda: asyncio.sleep(0, notified))


async def test_the_relay_finds_outbox_rows_by_index_even_in_a_small_outbox(app):
    """A generic plan made while the outbox is small (a sequential scan) stays cached on the
    relay's long-lived connection while the outbox grows: every statement the relay runs must
    find its rows by an index whatever the table's size. A copy of the outbox with a few rows,
    in the connection's temporary schema, is the small table."""
    relay = outbox.Relay(dsn=app.state.settings.libpq_database_url(), schema="pg_temp", broker=None)
    literals = {  # the parameters of each statement, as SQL
        "batch": "200",
        "handed": "'{1,2,3}'",
        "mark": "'{1,2,3}'",
        "failed": "1, 'broker gone'",
        "observe": "",
        "cleanup": "259200",
    }
    assert set(literals) == set(relay.statements)
    conn = await asyncpg.connect(relay.dsn, server_settings=relay.server_settings)
    try:
        await conn.execute(
            f"CREATE TEMPORARY TABLE outbox (LIKE {app.state.settings.db_schema}.outbox "
            "INCLUDING ALL)"
        )
        await conn.execute(
            "INSERT INTO outbox (id, type, subject, seq, payload, published_at) "
            "SELECT gen_random_uuid(), 'ticket.created', gen_random_uuid(), 1, '{}', now() "
            "FROM generate_series(1, 20)"
        )
        await conn.execute("ANALYZE outbox")  # a few rows on one page, as statistics say
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        for name, sql in relay.statements.items():
            await conn.execute(f"PREPARE {name} AS {sql}")
            call = f"EXECUTE {name}({literals[name]})" if literals[name] else f"EXECUTE {name}"
            plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {call}"))
            assert "Seq Scan" not in plan and "Index" in plan, (name, plan)
            if name in ("handed", "mark"):  # probed by position, not by what else matches
                assert 'Index Cond: ("position" = ANY' in plan, (name, plan)
    finally:
        await conn.close()


async def test_a_batch_of_publishes_reaches_the_connection_in_one_turn_of_the_loop(app, test_run):
    """A relay's batch is handed to the connection at once: each publish waiting under its
    channel's lock for its frames to be written took two turns of the event loop per publish,
    and a relay in a process busy with requests fell behind (shared.bus.Broker._confirmed)."""
    broker = app.state.broker
    await broker.wait_ready()
    underlay = await broker.channel.get_underlay_channel()
    key = f"test.batch.{new_id().hex}"
    async with Tap(test_run.amqp_url, test_run.exchange, key) as tap:
        before = underlay.delivery_tag
        publishes = [
            asyncio.create_task(broker.publish(key, b"{}", message_id=str(new_id())))
            for _ in range(200)
        ]
        await asyncio.sleep(0)  # one turn: each publish runs until it waits for its confirm
        handed = underlay.delivery_tag - before
        await asyncio.gather(*publishes)  # and every one is confirmed

        async def arrived():
            return len(tap.bodies) >= 200

        await wait_until(arrived)
    assert handed >= 200
    assert len(tap.bodies) == 200
