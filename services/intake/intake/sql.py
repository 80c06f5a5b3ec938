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

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import driver, dumps

__all__ = [
    "JSON_COLUMNS",
    "Row",
    "connection",
    "dumps",
    "execute",
    "fetch",
    "fetchrow",
    "fetchval",
]

# JSON and JSONB columns of intake's tables; they arrive as text on the driver connection.
JSON_COLUMNS = frozenset({"data", "users", "events", "details", "response"})


class Row:
    """One row read by attribute; JSON columns decoded. Attributes may be set (a caller that
    changed the row in the database keeps its copy current)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        object.__setattr__(self, "_values", values)

    @classmethod
    def of(cls, record: asyncpg.Record) -> Row:
        values = dict(record)
        for name in JSON_COLUMNS.intersection(values):
            if isinstance(values[name], str | bytes):
                values[name] = orjson.loads(values[name])
        return cls(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._values[name] = value

    def __repr__(self) -> str:
        return f"Row({self._values!r})"

    def model_dump(self) -> dict[str, Any]:
        return dict(self._values)


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
