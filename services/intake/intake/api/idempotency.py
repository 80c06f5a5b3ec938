"""Idempotency-Key handling for intake's creating routes (DESIGN §6).

The semantics are ``shared.http.idempotency_begin``/``idempotency_finish``'s; the statements go
to the session's asyncpg connection (``intake.sql``), as the creating use cases' own do.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from intake import sql
from shared import http
from shared.auth import Actor

_BEGIN = """
INSERT INTO idempotency_key (actor, key, request_hash) VALUES ($1, $2, $3)
ON CONFLICT (actor, key) DO NOTHING
RETURNING key
"""
_STORED = """
SELECT request_hash, status_code, response::text AS response FROM idempotency_key
WHERE actor = $1 AND key = $2
"""
_FINISH = """
UPDATE idempotency_key SET status_code = $3, response = $4::text::jsonb
WHERE actor = $1 AND key = $2
"""


async def begin(
    session: AsyncSession, *, actor: str, key: str, fingerprint: str
) -> http.StoredResponse | None:
    """Reserves ``key`` in the session's transaction, or returns the answer stored for it.

    A concurrent request with the same key waits on the reservation's row lock until the first
    commits, then replays its answer; if the first rolled back, the second proceeds.
    """
    if not key or len(key) > 255:
        raise http.Problem("Idempotency-Key must be 1 to 255 characters")
    if await sql.fetchval(session, _BEGIN, actor, key, fingerprint) is not None:
        return None
    row = await sql.fetchrow(session, _STORED, actor, key)
    assert row is not None
    if row.request_hash != fingerprint:
        raise http.IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was first used for another request"
        )
    if row.status_code is None:
        raise http.Conflict("a request with this Idempotency-Key is still in progress")
    return http.StoredResponse(status_code=row.status_code, body=row.response)


async def finish(
    session: AsyncSession, *, actor: str, key: str, status_code: int, body: Any
) -> None:
    """Stores the answer for a reserved key, in the same transaction as the effect."""
    await sql.execute(session, _FINISH, actor, key, status_code, sql.dumps(body))


def encode(body: Any) -> Any:
    """``jsonable_encoder``'s result; a pydantic model's without its second walk."""
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", by_alias=True)
    return jsonable_encoder(body)


async def run_once(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    key: str | None,
    create: Callable[[], Awaitable[tuple[int, Any, dict[str, str]]]],
) -> JSONResponse:
    """Runs ``create`` (which returns status, body and headers) once per key and body; a retry
    with the same key and body gets the first answer again, marked ``Idempotent-Replay``."""
    if key is not None:
        fingerprint = http.request_hash(request.method, request.url.path, await request.body())
        stored = await begin(session, actor=actor.sub, key=key, fingerprint=fingerprint)
        if stored is not None:
            await session.rollback()
            headers = {"Idempotent-Replay": "true"}
            if isinstance(stored.body, dict) and "id" in stored.body:
                headers["Location"] = f"{request.url.path}/{stored.body['id']}"
            return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)
    status, body, headers = await create()
    payload = encode(body)
    if key is not None:
        await finish(session, actor=actor.sub, key=key, status_code=status, body=payload)
    await session.commit()
    return JSONResponse(payload, status_code=status, headers=headers)
