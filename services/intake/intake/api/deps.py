"""Role guards and common parameters of intake's routes."""

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from intake.settings import Settings
from shared.auth import Actor, require_role

Reader = Annotated[
    Actor, Depends(require_role("customer", "agent", "manager", "admin", "integration"))
]
Staff = Annotated[Actor, Depends(require_role("agent", "manager", "admin"))]
StaffOrGateway = Annotated[Actor, Depends(require_role("agent", "manager", "admin", "integration"))]
Manager = Annotated[Actor, Depends(require_role("manager", "admin"))]
Admin = Annotated[Actor, Depends(require_role("admin"))]

Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="ETag you read")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(_settings)]
