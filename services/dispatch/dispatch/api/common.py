"""What every route module shares: idempotent creation and ETag headers (DESIGN §6)."""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from shared import http
from shared.auth import Actor

PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not found"},
    409: {"description": "Conflict with the current state"},
    412: {"description": "If-Match is stale"},
    422: {"description": "Invalid body"},
    428: {"description": "If-Match missing"},
}


async def create(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    key: str | None,
    run: Callable[[], Awaitable[tuple[BaseModel, str, int | None]]],
    *,
    status_code: int = 201,
) -> Response:
    """Runs a creating use case under ``Idempotency-Key`` and commits: ``run`` returns the
    ``Read`` body, its location and its version (for the ETag)."""
    if key is not None:
        fingerprint = http.request_hash(request.method, request.url.path, await request.body())
        stored = await http.idempotency_begin(
            session, actor=actor.sub, key=key, fingerprint=fingerprint
        )
        if stored is not None:
            await session.rollback()
            return JSONResponse(
                stored.body, status_code=stored.status_code, headers={"Idempotent-Replay": "true"}
            )
    read, location, version = await run()
    body = jsonable_encoder(read)
    if key is not None:
        await http.idempotency_finish(
            session, actor=actor.sub, key=key, status_code=status_code, body=body
        )
    await session.commit()
    headers = {"Location": location}
    if version is not None:
        headers["ETag"] = http.etag(version)
    return JSONResponse(body, status_code=status_code, headers=headers)


def tag(response: Response, version: int) -> None:
    response.headers["ETag"] = http.etag(version)
