"""/v1/sla/policies: the matrix of targets a contract names."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from shared import http
from shared.events.types import Channel, TicketKind
from sla_timer import catalog, policies
from sla_timer.api.deps import (
    IdempotencyKey,
    IfMatch,
    ReaderDep,
    SessionDep,
    WriterDep,
    idempotent_create,
)
from sla_timer.schemas import PolicyCreate, PolicyRead, PolicyUpdate

router = APIRouter(prefix="/sla/policies", tags=["policies"])
NOT_FOUND = {404: {"description": "No such policy"}}


class TargetsRead(BaseModel):
    policy: str
    kind: str
    severity: int
    channel: str
    minutes: dict[str, int | None]
    reasons: dict[str, str]
    observation_minutes: int | None
    warning_thresholds: list[float]


@router.post("", status_code=201, response_model=PolicyRead, responses={409: {}, 422: {}})
async def create_policy(
    body: PolicyCreate,
    request: Request,
    session: SessionDep,
    actor: WriterDep,
    idempotency_key: IdempotencyKey = None,
):
    """Create a policy; the same Idempotency-Key and body replays the first answer."""

    async def create():
        row = await catalog.create_policy(session, body)
        return PolicyRead.model_validate(row), f"/v1/sla/policies/{row.id}", row.version

    return await idempotent_create(request, session, actor, idempotency_key, create)


@router.get("", response_model=http.Page[PolicyRead])
async def list_policies(
    session: SessionDep,
    actor: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
):
    """Policies by key."""
    rows, next_cursor = await catalog.list_policies(session, limit=limit, cursor=cursor)
    return http.Page[PolicyRead](
        items=[PolicyRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/{policy}", response_model=PolicyRead, responses=NOT_FOUND)
async def get_policy(policy: str, response: Response, session: SessionDep, actor: ReaderDep):
    """One policy, by id or key."""
    row = await catalog.get_policy(session, policy)
    response.headers["ETag"] = http.etag(row.version)
    return PolicyRead.model_validate(row)


@router.get("/{policy}/targets", response_model=TargetsRead, responses=NOT_FOUND)
async def get_policy_targets(
    policy: str,
    kind: TicketKind,
    severity: Annotated[int, Query(ge=1, le=4)],
    session: SessionDep,
    actor: ReaderDep,
    channel: Channel = "web",
):
    """The targets a ticket of this kind, severity and channel gets, and why."""
    row = await catalog.get_policy(session, policy)
    chosen = policies.targets(catalog.to_policy(row), kind=kind, severity=severity, channel=channel)
    return TargetsRead(
        policy=row.key,
        kind=kind,
        severity=severity,
        channel=channel,
        minutes=dict(chosen.minutes),
        reasons=dict(chosen.reasons),
        observation_minutes=chosen.observation,
        warning_thresholds=list(chosen.thresholds),
    )


@router.patch("/{policy}", response_model=PolicyRead, responses={**NOT_FOUND, 412: {}})
async def update_policy(
    policy: str,
    body: PolicyUpdate,
    response: Response,
    session: SessionDep,
    actor: WriterDep,
    if_match: IfMatch = None,
):
    """Change a policy (If-Match); open clocks under it are derived again, keeping used time."""
    row = await catalog.update_policy(session, policy, body, if_match=if_match)
    result = PolicyRead.model_validate(row)
    await session.commit()
    response.headers["ETag"] = http.etag(row.version)
    return result


@router.delete("/{policy}", status_code=204, responses={**NOT_FOUND, 409: {}, 412: {}})
async def delete_policy(
    policy: str, session: SessionDep, actor: WriterDep, if_match: IfMatch = None
):
    """Delete a policy that governs no open clock (If-Match)."""
    await catalog.delete_policy(session, policy, if_match=if_match)
    await session.commit()
    return Response(status_code=204)
