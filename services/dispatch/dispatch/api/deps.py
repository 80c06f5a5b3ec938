"""Dependency aliases of dispatch's routes (STYLE rule 5)."""

from typing import Annotated

from fastapi import Depends, Header, Query

from shared.auth import Actor, require_role

# Staff read everything in dispatch; customers and gateways have no business here.
StaffDep = Annotated[Actor, Depends(require_role("agent", "manager", "admin"))]
ManagerDep = Annotated[Actor, Depends(require_role("manager", "admin"))]
IfMatch = Annotated[
    str | None, Header(alias="If-Match", description="The ETag you read (required on PATCH)")
]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", description="Replays the first answer")
]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
