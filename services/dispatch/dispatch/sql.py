"""The routing hot path's way to the database: the session's own asyncpg connection.

Routing runs once per ticket and must keep up with bursts (issue 5's benchmark: 500 decisions
per second on two cores). Its few statements go straight to asyncpg, which prepares and caches
them, inside the session's transaction, instead of through SQLAlchemy's statement layer; the
rest of dispatch uses the session as usual. Rows come back as :class:`Rec`, which reads like a
SQLAlchemy ``Row`` (``rec.column``).
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from shared.db import driver, dumps

__all__ = ["JSON_COLUMNS", "Rec", "driver", "dumps", "rec"]

JSON_COLUMNS = frozenset({"field_seqs", "reason"})


class Rec:
    """An asyncpg record read by attribute; JSON columns decoded."""

    __slots__ = ("_values",)

    def __init__(self, record: asyncpg.Record | dict[str, Any]) -> None:
        values = dict(record)
        for name in JSON_COLUMNS.intersection(values):
            if isinstance(values[name], str | bytes):
                values[name] = orjson.loads(values[name])
        self._values = values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Rec:
        """A record from column values (JSON columns decoded as in ``__init__``)."""
        return cls(values)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def _asdict(self) -> dict[str, Any]:
        return dict(self._values)


def rec(record: asyncpg.Record | None) -> Rec | None:
    return Rec(record) if record is not None else None
