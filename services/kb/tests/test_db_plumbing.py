"""shared.db.driver, transaction and autocommit, the batched inbox claim and the pool
without pre-ping, on kb's schema.

These are shared mechanisms; kb's suite hosts them because it is the smallest service with a
database of its own.
"""

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace

import asyncpg
import pytest
from sqlalchemy import text

from shared import deps, events, inbox
from shared.db import (
    Connected,
    Record,
    autocommit,
    driver,
    generic_plans,
    is_transient,
    make_engine,
    on_commit,
    transaction,
)
from shared.ids import new_id
from shared.provision import admin_url
from shared.testing import wait_until


def ticket_created(ticket_id=None) -> events.TicketCreated:
    ticket_id = ticket_id or new_id()
    return events.TicketCreated(
        subject=ticket_id,
        seq=1,
        data=events.TicketCreatedData(
            ticket_id=ticket_id,
            ticket_number=100777,
            kind="fault",
            severity=3,
            organization_id=new_id(),
            subject="printer jams",
            description="",
            created_at=datetime.now(UTC),
        ),
    )


async def inbox_count(app, event_id) -> int:
    async with app.state.sessionmaker() as session:
        result = await session.execute(
            text("SELECT count(*) FROM inbox WHERE event_id = :id"), {"id": event_id}
        )
        return result.scalar_one()


async def test_autocommit_statements_commit_on_their_own_beside_the_session(app):
    event = ticket_created()
    async with app.state.sessionmaker() as session:
        async with autocommit(session) as conn:
            assert not conn.is_in_transaction()
            await conn.execute(
                "INSERT INTO inbox (event_id, type, source, subject, seq) "
                "VALUES ($1, $2, 'test', $3, 1)",
                event.id,
                event.type,
                event.subject,
            )
            assert not conn.is_in_transaction()
        # Committed already: the session, which never began, rolls nothing of it back.
        assert not session.in_transaction()
        await session.rollback()
    assert await inbox_count(app, event.id) == 1
    # The connection went back to the pool outside any transaction, and the pool hands it on.
    async with app.state.sessionmaker() as session, autocommit(session) as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event.id)


async def test_driver_statements_roll_back_with_the_session(app):
    event = ticket_created()
    async with app.state.sessionmaker() as session:
        # The very first statement of the session goes through the driver: it must still run
        # inside the session's transaction, not commit on its own.
        assert await inbox.claim(session, event) is True
        conn = await driver(session)
        assert conn.is_in_transaction()
        await session.rollback()
    assert await inbox_count(app, event.id) == 0

    async with app.state.sessionmaker() as session:
        assert await inbox.claim(session, event) is True
        await session.commit()
    assert await inbox_count(app, event.id) == 1


async def test_claim_many_handles_each_event_once_in_batch_order(app):
    seen, a, b = ticket_created(), ticket_created(), ticket_created()
    async with app.state.sessionmaker() as session:
        assert await inbox.claim(session, seen) is True
        await session.commit()
    async with app.state.sessionmaker() as session:
        assert await inbox.claim(session, seen) is False
        firsts = await inbox.claim_many(session, [a, seen, b, a, b])
        await session.commit()
    assert firsts == [True, False, True, False, False]
    for event in (seen, a, b):
        assert await inbox_count(app, event.id) == 1


async def test_a_driver_transaction_commits_at_the_end_and_rolls_back_on_an_error(app):
    kept, lost = ticket_created(), ticket_created()
    async with transaction(app.state.engine) as session:
        assert isinstance(session, Connected) and await driver(session) is session.conn
        assert session.conn.is_in_transaction()
        assert await inbox.claim_many(session, [kept, kept]) == [True, False]
    assert await inbox_count(app, kept.id) == 1

    with pytest.raises(RuntimeError):
        async with transaction(app.state.engine) as session:
            assert await inbox.claim(session, lost) is True
            raise RuntimeError("the handler failed")
    assert await inbox_count(app, lost.id) == 0


async def test_a_driver_transaction_whose_connection_broke_leaves_it_out_of_the_pool(app):
    engine = app.state.engine
    with pytest.raises(Exception) as failure:
        async with transaction(engine) as session:
            pid = await session.conn.fetchval("SELECT pg_backend_pid()")
            admin = await asyncpg.connect(admin_url())
            try:
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
            finally:
                await admin.close()
            await session.conn.execute("SELECT 1")
    assert is_transient(failure.value)
    async with transaction(engine) as session:
        assert await session.conn.fetchval("SELECT pg_backend_pid()") != pid
    assert engine.pool.checkedout() == 0


async def test_pool_without_pre_ping_recovers_after_the_server_drops_its_connections(app, settings):
    assert settings.db_pool_pre_ping is False
    engine = app.state.engine
    async with app.state.sessionmaker() as session:
        pids = {(await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()}
    admin = await asyncpg.connect(admin_url())
    try:
        await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid", pids)
    finally:
        await admin.close()

    # The pooled connection is dead: its first statement fails, and the failure is transient
    # (a consumer requeues it, an API answers 503) ...
    with pytest.raises(Exception) as failure:
        async with app.state.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
    assert is_transient(failure.value)
    # ... and the pool has let go of it: the next use gets a fresh connection.
    async with app.state.sessionmaker() as session:
        assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
    assert engine.pool.checkedout() == 0


async def test_the_pool_keeps_the_connections_a_burst_opened(settings):
    """Under as many concurrent transactions as the pool allows, the connections opened stay
    open for the next burst: none is closed on return only to be opened again."""
    engine = make_engine(settings)
    burst = settings.db_pool_size + settings.db_max_overflow
    held = asyncio.Barrier(burst)

    async def backend() -> int:
        async with engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await held.wait()  # every connection is out of the pool at once
            return pid

    try:
        first = set(await asyncio.gather(*(backend() for _ in range(burst))))
        held.reset()
        second = set(await asyncio.gather(*(backend() for _ in range(burst))))
    finally:
        await engine.dispose()
    assert len(first) == burst >= 12
    assert second == first


async def test_a_request_session_rolls_back_and_returns_what_the_route_left_open(app):
    """The request's session dependency: a route that raised (or forgot to commit) mid-
    transaction leaves nothing behind; one that committed or never used its session, too."""
    request = SimpleNamespace(app=app)
    engine = app.state.engine
    left_open, committed = ticket_created(), ticket_created()

    dependency = deps._session(request)
    session = await anext(dependency)
    await inbox.claim(session, left_open)
    assert engine.pool.checkedout() == 1
    await dependency.aclose()  # the route raised: FastAPI closes the generator

    for use in ("commit", None):
        dependency = deps._session(request)
        session = await anext(dependency)
        if use == "commit":
            await inbox.claim(session, committed)
            await session.commit()
        with pytest.raises(StopAsyncIteration):
            await anext(dependency)

    assert engine.pool.checkedout() == 0
    assert (await inbox_count(app, left_open.id), await inbox_count(app, committed.id)) == (0, 1)


async def test_driver_is_remembered_for_one_transaction_only(app):
    first, second = ticket_created(), ticket_created()
    async with app.state.sessionmaker() as session:
        conn = await driver(session)
        assert await driver(session) is conn
        await inbox.claim(session, first)
        await session.rollback()
        # A new transaction: the remembered connection is not reused outside its transaction.
        again = await driver(session)
        assert again.is_in_transaction()
        await inbox.claim(session, second)
        await session.commit()
        assert not again.is_in_transaction()
    assert await inbox_count(app, first.id) == 0
    assert await inbox_count(app, second.id) == 1


async def test_a_record_reads_by_attribute_and_decodes_only_its_json_columns(app):
    class Row(Record):
        __slots__ = ()
        json_columns = frozenset({"payload"})

    async with app.state.sessionmaker() as session:
        conn = await driver(session)
        fetched = await conn.fetchrow(
            "SELECT 1 AS n, '{\"a\": [1]}'::jsonb::text AS payload, '\"x\"' AS other"
        )
    row = Row.of(fetched)
    assert (row.n, row.payload, row.other) == (1, {"a": [1]}, '"x"')
    assert Row({"payload": '"kept"'}).payload == '"kept"'  # values given as they are
    row.n = 2
    assert row.model_dump() == {"n": 2, "payload": {"a": [1]}, "other": '"x"'}
    with pytest.raises(AttributeError):
        _ = row.missing


async def test_a_service_role_stores_large_values_compressed_with_lz4(app):
    # Provisioning sets lz4 as each service role's TOAST compression where the server has it
    # (Debian's PostgreSQL does); a value large enough to be compressed shows which was used.
    async with transaction(app.state.engine) as session:
        offered = await session.conn.fetchval(
            "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        if "lz4" not in offered:
            pytest.skip("this PostgreSQL was built without lz4")
        await session.conn.execute("CREATE TEMPORARY TABLE big (v text) ON COMMIT DROP")
        await session.conn.execute("INSERT INTO big SELECT repeat('routing reason ', 1000)")
        assert await session.conn.fetchval("SELECT pg_column_compression(v) FROM big") == "lz4"


async def test_driver_statements_in_a_savepoint_roll_back_with_it(app):
    """The connection was remembered before the savepoint began: the statements inside it must
    still run inside it (SQLAlchemy emits SAVEPOINT when asked for the connection there)."""
    before, kept, lost, after = (ticket_created() for _ in range(4))
    async with app.state.sessionmaker() as session:
        assert await inbox.claim(session, before) is True
        async with session.begin_nested():
            assert await inbox.claim(session, kept) is True
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                assert await inbox.claim(session, lost) is True
                raise RuntimeError("this part fails")
        assert await inbox.claim(session, after) is True
        await session.commit()
    assert [await inbox_count(app, e.id) for e in (before, kept, lost, after)] == [1, 1, 0, 1]


async def test_generic_plans_hold_for_the_transaction_that_asked_only(app):
    async def mode(conn: asyncpg.Connection) -> str:
        return await conn.fetchval("SELECT current_setting('plan_cache_mode')")

    async with app.state.sessionmaker() as session:
        assert await mode(await driver(session)) == "auto"
        conn = await generic_plans(session)
        assert await mode(conn) == "force_generic_plan"
        assert await generic_plans(session) is conn
        await session.commit()
        assert await mode(await driver(session)) == "auto"  # the next transaction
        async with session.begin_nested():
            assert await mode(await generic_plans(session)) == "force_generic_plan"
            await session.rollback()  # the savepoint's, and its SET LOCAL with it
        assert await mode(await driver(session)) == "auto"
        assert await mode(await generic_plans(session)) == "force_generic_plan"
        await session.rollback()

    async with transaction(app.state.engine) as connected:
        assert await mode(await generic_plans(connected)) == "force_generic_plan"
    async with transaction(app.state.engine) as connected:
        assert await mode(connected.conn) == "auto"


async def test_on_commit_runs_after_the_outermost_commit_only(app):
    calls: list[str] = []
    async with app.state.sessionmaker() as session:
        assert await inbox.claim(session, ticket_created()) is True
        async with session.begin_nested():
            on_commit(session, lambda: calls.append("savepoint's"))
        assert calls == []  # releasing a savepoint commits nothing yet
        on_commit(session, lambda: calls.append("first"), key="k")
        on_commit(session, lambda: calls.append("second, same key"), key="k")
        await session.commit()
    assert calls == ["savepoint's", "first"]

    calls.clear()
    async with app.state.sessionmaker() as session:
        assert await inbox.claim(session, ticket_created()) is True
        on_commit(session, lambda: calls.append("rolled back"))
        await session.rollback()
        assert await inbox.claim(session, ticket_created()) is True
        await session.commit()  # the next transaction of the session has its own callbacks
    assert calls == []

    async with transaction(app.state.engine) as connected:
        on_commit(connected, lambda: calls.append("driver transaction"))
        assert calls == []
    assert calls == ["driver transaction"]
    with pytest.raises(RuntimeError):
        async with transaction(app.state.engine) as connected:
            on_commit(connected, lambda: calls.append("never"))
            raise RuntimeError("the handler failed")
    assert calls == ["driver transaction"]


async def test_the_consumer_gathers_one_batch_at_a_time(app, monkeypatch):
    """Two batch tasks run (AFTERCARE_CONSUMER_CONCURRENCY=2), but only one gathers at a time:
    the deliveries of one linger make one batch, not two halves."""
    consumer = app.state.consumer
    assert app.state.settings.consumer_concurrency >= 2
    batches = _batch_sizes(consumer, monkeypatch)
    monkeypatch.setattr(consumer, "linger", 0.5)
    sent = [ticket_created() for _ in range(6)]
    await asyncio.gather(
        *(
            app.state.broker.publish(
                e.type, e.model_dump_json().encode(), message_id=str(e.id), headers={}
            )
            for e in sent
        )
    )
    await wait_until(lambda: _all_claimed(app, sent), timeout=10)
    assert batches == [6]


def _batch_sizes(consumer, monkeypatch) -> list[int]:
    """The sizes of the batches the consumer handles from now on (each still handled)."""
    batches: list[int] = []
    handle_batch = consumer.handle_batch

    async def recorded(batch):
        batches.append(len(batch))
        await handle_batch(batch)

    monkeypatch.setattr(consumer, "handle_batch", recorded)
    return batches


async def _all_claimed(app, sent) -> bool:
    return all([await inbox_count(app, e.id) == 1 for e in sent])


@pytest.mark.parametrize("limit", ["batch", "prefetch window"])
async def test_a_lingering_batch_stops_waiting_once_nothing_more_can_come(app, monkeypatch, limit):
    """The linger is long here (30 s); the batch goes as soon as it is full, or as soon as
    every delivery the prefetch window allows has arrived (the broker sends no more before
    acks), not when the linger runs out."""
    consumer = app.state.consumer
    batches = _batch_sizes(consumer, monkeypatch)
    monkeypatch.setattr(consumer, "linger", 30.0)
    if limit == "batch":
        monkeypatch.setattr(consumer, "batch_size", 4)
    else:
        window = consumer.settings.model_copy(update={"consumer_prefetch": 4})
        monkeypatch.setattr(consumer, "settings", window)
    sent = [ticket_created() for _ in range(4)]
    for e in sent:
        await app.state.broker.publish(
            e.type, e.model_dump_json().encode(), message_id=str(e.id), headers={}
        )
    await wait_until(lambda: _all_claimed(app, sent), timeout=10)
    assert batches == [4]
