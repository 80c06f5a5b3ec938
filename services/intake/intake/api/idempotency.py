"""Idempotency-Key handling for intake's creating routes (DESIGN §6).

Reservation and stored answers are ``shared.http.idempotency_begin``/``idempotency_finish``.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from shared import http
from shared.auth import Actor


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
        stored = await http.idempotency_begin(
            session, actor=actor.sub, key=key, fingerprint=fingerprint
        )
        if stored is not None:
            await session.rollback()
            headers = {"Idempotent-Replay": "true"}
            if isinstance(stored.body, dict) and "id" in stored.body:
                headers["Location"] = f"{request.url.path}/{stored.body['id']}"
            return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)
    status, body, headers = await create()
    payload = encode(body)
    if key is not None:
        await http.idempotency_finish(
            session, actor=actor.sub, key=key, status_code=status, body=payload
        )
    await session.commit()
    return JSONResponse(payload, status_code=status, headers=headers)
