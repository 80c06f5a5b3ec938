"""The event handlers' way to the database: the session's own asyncpg connection.

Every consumed event derives its ticket's clocks again (``timers.rebuild``), so the handlers'
few statements go straight to asyncpg (prepared and cached by it), inside the session's
transaction, instead of through the ORM; the API keeps using the session as usual. Rows come
back as :class:`Rec`, which reads like a SQLAlchemy row (``rec.column``); JSON and JSONB
parameters travel as text (``dumps``); a JSONB result comes decoded by the dialect's codec
(the standard library's ``json``), or as text when the statement casts it (``col::text``),
which ``loads`` decodes faster with orjson.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from shared.db import Record, driver, dumps, loads

__all__ = ["Rec", "driver", "dumps", "loads", "rec"]


class Rec(Record):
    """A row read by attribute; ``Rec.of(record, json_columns)`` decodes the named columns."""

    __slots__ = ()


def rec(record: asyncpg.Record | None, json_columns: Iterable[str] = ()) -> Rec | None:
    return Rec.of(record, json_columns) if record is not None else None
