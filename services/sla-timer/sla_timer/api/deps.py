"""Dependencies of sla-timer's routes: who may read and who may write (DESIGN §6, §7).

Staff and integrations read calendars, policies, schedules, clocks and reports; managers and
admins change calendars, policies and schedules. A customer reads only the clocks of its own
organisation's tickets.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared import http
from shared.auth import Actor, require_role
from shared.deps import ActorDep, SessionDep
from sla_timer.settings import Settings

ReaderDep = Annotated[Actor, Depends(require_role("agent", "manager", "admin", "integration"))]
WriterDep = Annotated[Actor, Depends(require_role("manager", "admin"))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
IfMatch = Annotated[str | None, Header(alias="If-Match")]

__all__ = ["ActorDep", "IdempotencyKey", "IfMatch", "ReaderDep", "SessionDep", "WriterDep"]


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def idempotent_create(
    request: Request,
    session: Any,
    actor: Actor,
    key: str | None,
    create: Callable[[], Awaitable[tuple[BaseModel, str, int]]],
) -> JSONResponse:
    """Runs ``create`` (→ body, location, version) once per Idempotency-Key and commits; the
    same key and body replays the first answer (DESIGN §6)."""
    if key is not None:
        fingerprint = http.request_hash("POST", request.url.path, await request.body())
        stored = await http.idempotency_begin(
            session, actor=actor.sub, key=key, fingerprint=fingerprint
        )
        if stored is not None:
            await session.rollback()
            return JSONResponse(
                stored.body, status_code=stored.status_code, headers={"Idempotent-Replay": "true"}
            )
    body, location, version = await create()
    encoded = jsonable_encoder(body)
    if key is not None:
        await http.idempotency_finish(
            session, actor=actor.sub, key=key, status_code=201, body=encoded
        )
    await session.commit()
    return JSONResponse(
        encoded, status_code=201, headers={"Location": location, "ETag": http.etag(version)}
    )
