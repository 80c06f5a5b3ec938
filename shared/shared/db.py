"""Database plumbing: an async engine bound to the service's schema, sessions, naming rules."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, TypeVar

import asyncpg
import orjson
from sqlalchemy import MetaData, text
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction

from shared.ids import new_id
from shared.settings import ServiceSettings

log = logging.getLogger("aftercare.db")

__all__ = [
    "NAMING_CONVENTION",
    "Connected",
    "Record",
    "autocommit",
    "driver",
    "dumps",
    "is_transient",
    "loads",
    "make_engine",
    "make_sessionmaker",
    "metadata",
    "new_id",
    "on_commit",
    "transaction",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def metadata(schema: str) -> MetaData:
    """A MetaData for one service's schema with the project's constraint names."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(settings: ServiceSettings, **overrides) -> AsyncEngine:
    """An asyncpg engine logging in as the service's role, with its schema as search_path."""
    options = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout,
        "pool_pre_ping": settings.db_pool_pre_ping,
        "connect_args": {
            "server_settings": {
                "search_path": settings.db_schema,
                "application_name": f"aftercare-{settings.service}",
                "timezone": "UTC",
            },
        },
    }
    options.update(overrides)
    return create_async_engine(settings.async_database_url(), **options)


_DRIVER_KEY = "shared.db.driver"


async def driver(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under ``session``, inside the session's transaction.

    For hot paths (event handlers, ticket creation): a statement sent straight to asyncpg costs
    a fifth of the CPU the same text costs through SQLAlchemy, and asyncpg prepares and caches
    it. The statements join the session's transaction, so they commit or roll back with it.
    ``search_path`` is the service's schema. JSON and JSONB parameters travel as text (pass
    ``dumps(value)``); a JSON result comes decoded by the codec SQLAlchemy's dialect installs
    (the standard library's ``json``), or as text when the statement casts it (``col::text``),
    which orjson decodes faster.

    The connection is remembered for the session's current transaction: a consumer calls its
    handlers once per event with one session for a whole batch, and asking SQLAlchemy each time
    (a greenlet switch and the pool's proxies) costs about as much as a statement. After a
    commit or rollback the next call asks again (a new transaction, maybe another connection),
    and so does the first call inside a savepoint: SQLAlchemy emits the ``SAVEPOINT`` only when
    asked for the connection there, and statements sent past it would not roll back with it.
    """
    if isinstance(session, Connected):
        return session.conn
    sync = session.sync_session
    # The innermost transaction: a savepoint begun since is emitted when SQLAlchemy is asked
    # for its connection, so a statement inside it must not skip asking.
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    kept = session.info.get(_DRIVER_KEY)
    if (
        kept is not None
        and transaction is not None
        and kept[0] is transaction
        and transaction.is_active
        and kept[1].is_in_transaction()
    ):
        return kept[1]
    conn = await session.connection()
    adapted = (await conn.get_raw_connection()).dbapi_connection
    raw = adapted.driver_connection
    if not raw.is_in_transaction():
        # SQLAlchemy's asyncpg adapter opens the database transaction with the first statement
        # it runs; a statement sent past it before that would commit on its own.
        start = getattr(adapted, "_start_transaction", None)
        if start is not None and getattr(adapted, "_transaction", False) is None:
            await start()
        else:
            await session.execute(text("SELECT 1"))
    session.info[_DRIVER_KEY] = (sync.get_nested_transaction() or sync.get_transaction(), raw)
    return raw


_GENERIC_KEY = "shared.db.generic_plans"


async def generic_plans(session: AsyncSession | Connected) -> asyncpg.Connection:
    """:func:`driver`, with the rest of the transaction planning prepared statements once
    (``SET LOCAL plan_cache_mode = force_generic_plan``, sent once per transaction).

    PostgreSQL plans a prepared statement again for every execution while its generic plan
    looks dearer than the plans made for the actual values. For a statement whose plan hardly
    depends on its values but whose values change its estimate (an array of ids of varying
    length), that heuristic can keep it on per-execution plans forever: measured on routing's
    capacity statement, planning was a quarter of the database's CPU per decision. Use it
    before such statements on hot paths; a list query whose best plan does depend on its
    filter values should keep the default.
    """
    conn = await driver(session)
    transaction = session if isinstance(session, Connected) else session.info[_DRIVER_KEY][0]
    if session.info.get(_GENERIC_KEY) is not transaction:
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        session.info[_GENERIC_KEY] = transaction
    return conn


class Connected:
    """Stands in for a session where all the work goes through :func:`driver`: the asyncpg
    connection of an open transaction (``conn``) and an ``info`` dict, as a session has."""

    __slots__ = ("conn", "info")

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.info: dict[str, Any] = {}


@asynccontextmanager
async def _pooled(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """The asyncpg connection of one of the engine's pooled connections, outside SQLAlchemy's
    transaction handling; back to the pool when the block ends, or dropped from it when it
    broke meanwhile (SQLAlchemy cannot tell, having sent nothing on it)."""
    async with engine.connect() as pooled:
        conn = (await pooled.get_raw_connection()).driver_connection
        try:
            yield conn
        except BaseException:
            if conn.is_closed():
                await pooled.invalidate()
            raise


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[Connected]:
    """A transaction straight on asyncpg, committed when the block ends and rolled back when it
    raises, for work that goes through :func:`driver` only (a consumer's driver-only handlers).

    It skips the session's machinery around ``BEGIN`` and ``COMMIT``: measured here, a
    transaction of one statement costs 360 to 430 µs of CPU this way, 620 to 650 µs through
    a session. A connection that broke meanwhile is dropped from the pool, not handed on.
    What :func:`on_commit` registered runs after the commit.
    """
    async with _pooled(engine) as conn:
        connected = Connected(conn)
        async with conn.transaction():
            yield connected
        _run_on_commit(connected.info)


_ON_COMMIT = "shared.db.on_commit"
_C = TypeVar("_C", bound=Callable[[], None])


def on_commit(session: AsyncSession | Connected, callback: _C, *, key: str | None = None) -> _C:
    """Calls ``callback()`` once the session's transaction has committed; never when it rolls
    back. For what may only happen once the work is durable and visible to others (handing
    the transaction's outbox rows to the relay). Callbacks run in order, synchronously, and
    must not raise (one that does is logged and the rest still run). With a ``key``, the
    transaction keeps the first callback registered under it, and that one is returned."""
    callbacks: dict[Any, Callable[[], None]] = session.info.setdefault(_ON_COMMIT, {})
    return callbacks.setdefault(object() if key is None else key, callback)  # type: ignore[return-value]


def _run_on_commit(info: dict[str, Any]) -> None:
    for callback in info.pop(_ON_COMMIT, {}).values():
        try:
            callback()
        except Exception:
            log.exception("an after-commit callback failed")


# Listeners on every session of the process: a session's commit runs what on_commit
# registered; the end of its outermost transaction otherwise (a rollback) forgets it.


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    # Also sent when a savepoint is released, which commits nothing yet.
    if not session.in_nested_transaction():
        _run_on_commit(session.info)


@sa_event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_ON_COMMIT, None)


@asynccontextmanager
async def autocommit(session: AsyncSession) -> AsyncIterator[asyncpg.Connection]:
    """An asyncpg connection of the session's pool outside any transaction: each statement
    commits on its own, with no ``BEGIN`` and ``COMMIT`` round trips around it.

    For a request whose whole write is one statement, or a read and one conditional write
    (``... WHERE version = $n``) retried when the row moved: two round trips instead of four.
    The connection is a second one beside any the session holds, so nothing sent on it joins
    the session's transaction; use it only while the session has none open (callers check
    ``session.in_transaction()``). It goes back to the pool when the block ends, or is dropped
    from it if it broke.
    """
    async with _pooled(session.bind) as conn:
        yield conn


class Record:
    """A row read by attribute (``row.column``), as hot paths get it from :func:`driver`.

    ``Record(values)`` keeps the values as they are; ``Record.of(record)`` decodes the JSON
    columns (``json_columns``, or the class's) that arrived as text. Attributes may be set: a
    caller that changed the row in the database keeps its copy current.
    """

    __slots__ = ("_values",)
    json_columns: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", dict(values))

    @classmethod
    def of(cls, record: Mapping[str, Any], json_columns: Iterable[str] | None = None) -> Self:
        values = dict(record)
        for name in cls.json_columns if json_columns is None else json_columns:
            if name in values:
                values[name] = loads(values[name])
        return cls(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._values[name] = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._values!r})"

    def _asdict(self) -> dict[str, Any]:
        return dict(self._values)

    model_dump = _asdict


def dumps(value: Any) -> str:
    """JSON text for a JSON/JSONB parameter of a :func:`driver` statement."""
    return orjson.dumps(value).decode()


def loads(value: Any) -> Any:
    """A JSON column's value from a :func:`driver` statement: decoded when it came as text,
    as it is otherwise (already decoded by the connection's codec, or NULL)."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def is_transient(exc: BaseException) -> bool:
    """Failures of the infrastructure rather than of the handler: a consumer retries them without
    spending an attempt, and an API answers 503 (try again) rather than 500."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    transient = (
        OSError,
        TimeoutError,
        asyncpg.PostgresConnectionError,
        asyncpg.CannotConnectNowError,
        # The server shutting down or restarting (SQLSTATE 57P01, 57P02), as a statement on a
        # connection straight from asyncpg (shared.db.transaction) meets it. Not their parent
        # class: a statement timeout (57014) is the handler's failure, not the server's.
        asyncpg.exceptions.AdminShutdownError,
        asyncpg.exceptions.CrashShutdownError,
        asyncpg.TooManyConnectionsError,
        asyncpg.InterfaceError,
        asyncpg.SerializationError,
        asyncpg.DeadlockDetectedError,
    )
    # SQLAlchemy wraps the driver's error (exc.orig), whose own cause is asyncpg's exception;
    # walk the chain, and also accept the SQLSTATEs of a deadlock or serialization failure.
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, transient):
            return True
        if getattr(current, "sqlstate", None) in RETRYABLE_SQLSTATES:
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False


RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock
