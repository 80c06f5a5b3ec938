"""The routing hot path's way to the database: the session's own asyncpg connection.

Routing runs once per ticket and must keep up with bursts (issue 5's benchmark: 500 decisions
per second on two cores). Its few statements go straight to asyncpg, which prepares and caches
them, inside the session's transaction, instead of through SQLAlchemy's statement layer; the
rest of dispatch uses the session as usual. Rows come back as :class:`Rec`, which reads like a
SQLAlchemy ``Row`` (``rec.column``).
"""

from __future__ import annotations

import asyncpg

from shared.db import Record, driver, dumps, generic_plans

__all__ = ["JSON_COLUMNS", "Rec", "driver", "dumps", "generic_plans", "rec"]

JSON_COLUMNS = frozenset({"field_seqs", "reason"})


class Rec(Record):
    """A dispatch row read by attribute; ``Rec.of`` decodes its JSON columns."""

    __slots__ = ()
    json_columns = JSON_COLUMNS


def rec(record: asyncpg.Record | None) -> Rec | None:
    return Rec.of(record) if record is not None else None
