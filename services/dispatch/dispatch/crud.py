"""Small helpers the use-case modules share: fetch-or-404, versioned updates, cursor pages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from shared import http

M = TypeVar("M", bound=SQLModel)

MAX_LIMIT = 200


class IdTaken(http.Conflict):
    type = "id-taken"
    title = "A resource with this id exists"


class InvalidReference(http.Problem):
    status = 422
    type = "invalid-reference"
    title = "A referenced resource does not exist"


async def get(
    session: AsyncSession,
    model: type[M],
    id_: uuid.UUID,
    missing: type[http.Problem],
    *,
    for_update: bool = False,
) -> M:
    stmt = select(model).where(model.id == id_)  # type: ignore[attr-defined]
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise missing(f"no {model.__tablename__.replace('_', ' ')} {id_}")
    return row


async def must_exist(session: AsyncSession, model: type[SQLModel], id_: uuid.UUID, field: str):
    """The row ``id_`` refers to, or a 422 that names the field."""
    row = await session.get(model, id_)
    if row is None:
        raise InvalidReference(f"{field}: no {model.__tablename__.replace('_', ' ')} {id_}")
    return row


async def update(
    session: AsyncSession, row: M, changes: Mapping[str, Any], *, if_match: str | None
) -> M:
    """Applies ``changes`` to a row read ``FOR UPDATE`` if the ETag matches; bumps ``version``."""
    http.check_if_match(if_match, row.version)  # type: ignore[attr-defined]
    for name, value in changes.items():
        setattr(row, name, value)
    row.version += 1  # type: ignore[attr-defined]
    row.updated_at = func.now()  # type: ignore[attr-defined]
    await session.flush()
    await session.refresh(row)
    return row


async def page(
    session: AsyncSession, stmt: Select, model: type[M], *, limit: int, cursor: str | None
) -> tuple[list[M], str | None]:
    """One page of ``stmt`` in id order (UUIDv7: creation order) after ``cursor``."""
    limit = max(1, min(limit, MAX_LIMIT))
    return await http.keyset_page(
        session,
        stmt,
        model.id,
        limit=limit,
        cursor=cursor,  # type: ignore[attr-defined]
    )
