"""Intake's hot paths' way to the database: the session's own asyncpg connection.

Ticket creation, the events intake consumes and the inbound channels run a few statements per
request or event. Sent straight to asyncpg (``shared.db.driver``: prepared and cached, inside
the session's transaction) they cost a fraction of the CPU the same work costs through
SQLAlchemy's ORM; the rest of intake uses the session as usual. Rows come back as :class:`Row`,
which reads like the model it stands for (``row.column``, ``row.model_dump()``), so the schemas
and events built from ORM objects are built from it the same way.

Unqualified table names resolve to intake's schema (the connection's search_path).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Record, driver, dumps

__all__ = [
    "JSON_COLUMNS",
    "Row",
    "connection",
    "dumps",
    "execute",
    "fetch",
    "fetchrow",
    "fetchval",
    "set_list",
]

# JSON and JSONB columns of intake's tables; they arrive as text on the driver connection.
JSON_COLUMNS = frozenset({"data", "users", "events", "details", "response"})


class Row(Record):
    """An intake row read by attribute, like the model it stands for (``row.column``,
    ``row.model_dump()``); ``Row.of`` decodes its JSON columns."""

    __slots__ = ()
    json_columns = JSON_COLUMNS


# ``driver`` remembers the connection for the session's transaction.
connection = driver


async def fetchrow(session: AsyncSession, query: str, *args: Any) -> Row | None:
    record = await (await connection(session)).fetchrow(query, *args)
    return Row.of(record) if record is not None else None


async def fetch(session: AsyncSession, query: str, *args: Any) -> list[Row]:
    return [Row.of(r) for r in await (await connection(session)).fetch(query, *args)]


async def fetchval(session: AsyncSession, query: str, *args: Any) -> Any:
    return await (await connection(session)).fetchval(query, *args)


async def execute(session: AsyncSession, query: str, *args: Any) -> None:
    await (await connection(session)).execute(query, *args)


def set_list(changes: dict[str, Any], start: int) -> tuple[str, list[Any]]:
    """``column = $n, ...`` for an UPDATE of ``changes``, numbered from ``$start``, and the
    values in that order; JSON columns travel as text cast to jsonb."""
    sets, values = [], []
    for i, (column, value) in enumerate(changes.items(), start=start):
        if column in JSON_COLUMNS:
            sets.append(f"{column} = ${i}::text::jsonb")
            values.append(dumps(value))
        else:
            sets.append(f"{column} = ${i}")
            values.append(value)
    return ", ".join(sets), values
