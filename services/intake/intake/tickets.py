"""Use cases for the ticket aggregate. They write rows, history and outbox events; the edge
(route or bus consumer) commits."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from intake import errors, history, register, sql, states
from intake.models import Call, Ticket, TicketEvent, TicketMessage
from intake.schemas import (
    MessageCreate,
    TicketCreate,
    TicketRead,
    TicketUpdate,
    TimelineEntry,
    TransitionCreate,
)
from shared import events, outbox
from shared.auth import Actor
from shared.db import utcnow
from shared.http import check_if_match, keyset_page
from shared.ids import new_id

# Actions people take through the API; assignment comes from dispatch and merging has its
# own endpoint, so neither is accepted here.
API_ACTIONS = frozenset(
    {"start", "wait_customer", "resume", "resolve", "close", "reopen", "cancel"}
)
DEFAULT_DUPLICATE_WINDOW = timedelta(hours=72)


def reference(number: int) -> str:
    return f"#{number}"


def read(ticket: Ticket) -> TicketRead:
    return TicketRead(
        **ticket.model_dump(),
        reference=reference(ticket.number),
        allowed_actions=[a for a in states.allowed_actions(ticket.status) if a in API_ACTIONS],
    )


def author_kind(actor: Actor) -> str:
    return "customer" if actor.role in ("customer", "integration") else "agent"


@dataclass(frozen=True)
class Created:
    ticket: Ticket
    joined: bool  # True: the report joined an open ticket of the same contact and asset


# Creation --------------------------------------------------------------------------------
# The path every report takes (the API, mail, phone, messages, events): its statements go
# straight to the session's asyncpg connection (intake.sql), a few per ticket.

_CONTACT = "SELECT * FROM contact WHERE id = $1"
_ASSET = "SELECT * FROM asset WHERE id = $1"
_ASSET_BY_SERIAL = "SELECT * FROM asset WHERE serial = $1"
_CONTRACT = "SELECT * FROM contract WHERE id = $1"
# The organisation and, when the report names no contract ($3), the contract that applies: the
# asset's ($4), else the one in force on $2 (the latest started, as register.active_contract).
_ORGANIZATION_AND_CONTRACT = """
SELECT o.id AS organization_id, k.id, k.number, k.coverage, k.calendar_id, k.policy_key,
       k.service_region
FROM organization o
LEFT JOIN LATERAL (
    (SELECT * FROM contract WHERE $3 AND id = $4)
    UNION ALL
    (SELECT * FROM contract
     WHERE $3 AND $4::uuid IS NULL AND organization_id = o.id
       AND start_date <= $2 AND end_date >= $2
     ORDER BY start_date DESC LIMIT 1)
    LIMIT 1
) k ON true
WHERE o.id = $1
"""
_CONTRACT_FIELDS = ("id", "number", "coverage", "calendar_id", "policy_key", "service_region")


@dataclass
class _Context:
    organization_id: uuid.UUID
    contact: Any = None  # sql.Row of contact, contract and asset
    contract: Any = None
    asset: Any = None


async def _resolve_context(session: AsyncSession, body: TicketCreate, actor: Actor) -> _Context:
    """Finds the organisation, contact, contract and asset a report refers to, and checks that
    they all belong to one organisation the actor may act for."""
    org_ids: set[uuid.UUID] = set()
    ctx_contact = ctx_contract = ctx_asset = None
    if body.contact_id is not None:
        ctx_contact = await sql.fetchrow(session, _CONTACT, body.contact_id)
        if ctx_contact is None:
            raise errors.InvalidReference(f"contact {body.contact_id} does not exist")
        org_ids.add(ctx_contact.organization_id)
    if body.asset_id is not None:
        ctx_asset = await sql.fetchrow(session, _ASSET, body.asset_id)
        if ctx_asset is None:
            raise errors.InvalidReference(f"asset {body.asset_id} does not exist")
    elif body.serial:
        ctx_asset = await sql.fetchrow(session, _ASSET_BY_SERIAL, body.serial.strip())
    if ctx_asset is not None:
        org_ids.add(ctx_asset.organization_id)
    if body.contract_id is not None:
        ctx_contract = await sql.fetchrow(session, _CONTRACT, body.contract_id)
        if ctx_contract is None:
            raise errors.InvalidReference(f"contract {body.contract_id} does not exist")
        org_ids.add(ctx_contract.organization_id)
    if body.organization_id is not None:
        org_ids.add(body.organization_id)
    if actor.is_customer:
        org_ids.add(actor.org)  # type: ignore[arg-type]
    if not org_ids:
        raise errors.InvalidReference(
            "say whose report this is: organization_id, contact_id, contract_id or asset_id"
        )
    if len(org_ids) > 1:
        raise errors.InvalidReference(
            "the organisation, contact, contract and asset must all belong to one organisation"
        )
    (org_id,) = org_ids
    row = await sql.fetchrow(
        session,
        _ORGANIZATION_AND_CONTRACT,
        org_id,
        utcnow().date(),
        ctx_contract is None,
        ctx_asset.contract_id if ctx_asset is not None else None,
    )
    if row is None or not actor.may_see_org(org_id):
        raise errors.InvalidReference(f"organisation {org_id} does not exist")
    if ctx_contract is None and row.id is not None:
        ctx_contract = sql.Row({f: getattr(row, f) for f in _CONTRACT_FIELDS})
    return _Context(org_id, ctx_contact, ctx_contract, ctx_asset)


async def create(
    session: AsyncSession,
    body: TicketCreate,
    *,
    actor: Actor,
    duplicate_window: timedelta = DEFAULT_DUPLICATE_WINDOW,
    external_ref: str | None = None,
) -> Created:
    """Records a report: a new ticket with ``ticket.created``, or, when the same contact already
    has an open ticket about the same asset, a message on that ticket."""
    call = None
    if body.call_id is not None:
        call, body = await _from_call(session, body)
    created = await _create(session, body, actor, duplicate_window, external_ref)
    if call is not None:
        await session.execute(
            update(Call)
            .where(Call.id == call.id)
            .values(ticket_id=created.ticket.id, version=Call.version + 1, updated_at=utcnow())
        )
    return created


async def _from_call(session: AsyncSession, body: TicketCreate) -> tuple[Call, TicketCreate]:
    """The call a ticket records (by id or PBX callId): its caller is the contact, and the
    channel is the phone unless the body says otherwise."""
    ref = body.call_id or ""
    stmt = select(Call).where(Call.call_id == ref)
    with contextlib.suppress(ValueError):  # a PBX callId need not be a uuid
        stmt = select(Call).where((Call.id == uuid.UUID(ref)) | (Call.call_id == ref))
    call = (await session.execute(stmt.limit(1).with_for_update())).scalar_one_or_none()
    if call is None:
        raise errors.InvalidReference(f"call {ref} does not exist")
    if call.ticket_id is not None:
        raise errors.DuplicateValue(
            "this call is already recorded on a ticket", ticket_id=str(call.ticket_id)
        )
    updates: dict[str, Any] = {}
    if body.contact_id is None and call.contact_id is not None:
        updates["contact_id"] = call.contact_id
    if "channel" not in body.model_fields_set:
        updates["channel"] = "phone"
    return call, body.model_copy(update=updates)


_INSERT_TICKET = """
INSERT INTO ticket (
    id, organization_id, contact_id, contract_id, asset_id, channel, kind, service_type,
    severity, category, subject, description, product, serial, site_address, region,
    on_site_required, answer, needs_follow_up, coverage, calendar_id, policy_key,
    under_warranty, paid, complaint_about_id, external_ref, created_by
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
    $21, $22, $23, $24, $25, $26, $27
)
RETURNING *
"""
_COMPLAINT_ABOUT = "SELECT id, organization_id FROM ticket WHERE id = $1"


async def _create(
    session: AsyncSession,
    body: TicketCreate,
    actor: Actor,
    duplicate_window: timedelta,
    external_ref: str | None,
) -> Created:
    ctx = await _resolve_context(session, body, actor)
    if body.join_duplicates and ctx.contact is not None and ctx.asset is not None:
        existing = await _open_duplicate(session, ctx, since=utcnow() - duplicate_window)
        if existing is not None:
            text = f"{body.subject}\n\n{body.description}".strip()
            await add_message(
                session,
                existing,
                MessageCreate(body=text, public=True, channel=body.channel),
                actor=actor,
            )
            return Created(existing, joined=True)
    complaint_about = None
    if body.complaint_about_id is not None:
        complaint_about = await sql.fetchrow(session, _COMPLAINT_ABOUT, body.complaint_about_id)
        if complaint_about is None or complaint_about.organization_id != ctx.organization_id:
            raise errors.InvalidReference(f"ticket {body.complaint_about_id} does not exist")
    under_warranty = None
    asset, contract = ctx.asset, ctx.contract
    if asset is not None:
        w = await register.asset_warranty(session, asset)
        under_warranty = w.covers(utcnow().date()) if w.base_end is not None else None
    kind = "complaint" if complaint_about is not None else body.kind
    ticket = await sql.fetchrow(
        session,
        _INSERT_TICKET,
        new_id(),
        ctx.organization_id,
        ctx.contact.id if ctx.contact else None,
        contract.id if contract else None,
        asset.id if asset else None,
        body.channel,
        kind,
        body.service_type,
        body.severity,
        body.category,
        body.subject,
        body.description,
        body.product or (asset.product if asset else None),
        asset.serial if asset else body.serial,
        body.site_address or (asset.site_address if asset else None),
        body.region
        or (asset.region if asset else None)
        or (contract.service_region if contract else None),
        body.on_site_required,
        body.answer,
        body.needs_follow_up,
        contract.coverage if contract else "24x7",
        contract.calendar_id if contract else None,
        contract.policy_key if contract else None,
        under_warranty,
        # Hardware work on a device out of warranty is paid: the customer confirms the quote
        # before parts are replaced (DOMAIN.md, handling 7).
        under_warranty is False and kind in ("fault", "rma"),
        complaint_about.id if complaint_about else None,
        external_ref,
        actor.sub,
    )
    assert ticket is not None
    await history.record(
        session,
        ticket.id,
        "created",
        f"{reference(ticket.number)} opened by {body.channel}",
        actor=actor.sub,
        at=ticket.created_at,
        data={"severity": ticket.severity, "kind": ticket.kind},
    )
    await outbox.add(session, _created_event(ticket, ctx))
    return Created(ticket, joined=False)


OPEN_SQL = ", ".join(f"'{s}'" for s in sorted(states.OPEN))  # the open states, as SQL
_OPEN_DUPLICATE = f"""
SELECT * FROM ticket
WHERE contact_id = $1 AND asset_id = $2 AND status IN ({OPEN_SQL}) AND created_at >= $3
ORDER BY id DESC
LIMIT 1
FOR UPDATE
"""


async def _open_duplicate(session: AsyncSession, ctx: _Context, *, since: datetime) -> Any:
    return await sql.fetchrow(session, _OPEN_DUPLICATE, ctx.contact.id, ctx.asset.id, since)


def _created_event(ticket: Any, ctx: _Context) -> events.TicketCreated:
    contact = ctx.contact
    return events.TicketCreated(
        subject=ticket.id,
        data=events.TicketCreatedData(
            ticket_id=ticket.id,
            ticket_number=ticket.number,
            kind=ticket.kind,
            service_type=ticket.service_type,
            severity=ticket.severity,
            channel=ticket.channel,
            subject=ticket.subject,
            description=ticket.description,
            category=ticket.category,
            organization_id=ticket.organization_id,
            contact_id=ticket.contact_id,
            contact_name=contact.name if contact else None,
            contract_id=ticket.contract_id,
            contract_number=ctx.contract.number if ctx.contract else None,
            coverage=ticket.coverage,
            calendar_id=ticket.calendar_id,
            policy_key=ticket.policy_key,
            product=ticket.product,
            serial=ticket.serial,
            asset_id=ticket.asset_id,
            region=ticket.region,
            site_address=ticket.site_address,
            on_site_required=ticket.on_site_required,
            language=contact.preferred_language if contact else None,
            external_ref=ticket.external_ref,
            created_by=ticket.created_by,
            created_at=ticket.created_at,
        ),
    )


async def create_idempotent_by_ref(
    session: AsyncSession, body: TicketCreate, *, actor: Actor, external_ref: str
) -> Any:
    """Creates a ticket keyed by ``external_ref`` unless one exists (events that open tickets)."""
    if await sql.fetchval(session, "SELECT 1 FROM ticket WHERE external_ref = $1", external_ref):
        return None
    try:
        async with session.begin_nested():
            created = await create(session, body, actor=actor, external_ref=external_ref)
    except (IntegrityError, asyncpg.UniqueViolationError):
        return None
    return created.ticket


# Reading ---------------------------------------------------------------------------------


async def get(
    session: AsyncSession, ticket_id: uuid.UUID, *, actor: Actor, lock: bool = False
) -> Ticket:
    """The ticket, if the actor may see it; another organisation's ticket is simply not found."""
    stmt = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    ticket = (await session.execute(stmt)).scalar_one_or_none()
    if ticket is None or not actor.may_see_org(ticket.organization_id):
        raise errors.TicketNotFound(f"no ticket {ticket_id}")
    return ticket


@dataclass(frozen=True)
class TicketFilter:
    status: list[str] | None = None
    kind: list[str] | None = None
    severity: list[int] | None = None
    organization_id: uuid.UUID | None = None
    assignee_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    asset_id: uuid.UUID | None = None
    tier: int | None = None
    channel: list[str] | None = None
    legacy: bool | None = None
    updated_since: datetime | None = None
    q: str | None = None


async def list_(
    session: AsyncSession, f: TicketFilter, *, actor: Actor, limit: int, cursor: str | None
) -> tuple[list[Ticket], str | None]:
    """Newest first, keyset-paginated on the time-ordered id, so deep pages cost what the first
    does."""
    stmt = select(Ticket)
    if actor.is_customer:
        stmt = stmt.where(Ticket.organization_id == actor.org)
    if f.organization_id is not None:
        stmt = stmt.where(Ticket.organization_id == f.organization_id)
    for column, values in (
        (Ticket.status, f.status),
        (Ticket.kind, f.kind),
        (Ticket.severity, f.severity),
        (Ticket.channel, f.channel),
    ):
        if values:
            stmt = (
                stmt.where(column == values[0])
                if len(values) == 1
                else stmt.where(column.in_(values))
            )
    for column, value in (
        (Ticket.assignee_id, f.assignee_id),
        (Ticket.contact_id, f.contact_id),
        (Ticket.asset_id, f.asset_id),
        (Ticket.tier, f.tier),
        (Ticket.legacy, f.legacy),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if f.updated_since is not None:
        stmt = stmt.where(Ticket.updated_at >= f.updated_since)
    if f.q:
        stmt = stmt.where(Ticket.subject.ilike(f"%{register._like(f.q)}%"))
    return await keyset_page(session, stmt, Ticket.id, limit=limit, cursor=cursor, descending=True)


# Changing --------------------------------------------------------------------------------

UPDATABLE_BY_AGENT = frozenset(
    {
        "subject",
        "description",
        "kind",
        "category",
        "product",
        "site_address",
        "on_site_required",
        "answer",
        "needs_follow_up",
    }
)


class SeverityChangeForbidden(errors.Problem):
    status = 403
    type = "forbidden"
    title = "Only managers change a ticket's severity"


async def update_fields(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    body: TicketUpdate,
    *,
    actor: Actor,
    if_match: str | None,
) -> Ticket:
    ticket = await get(session, ticket_id, actor=actor, lock=True)
    check_if_match(if_match, ticket.version)
    requested = body.model_dump(exclude_unset=True, exclude={"reason"})
    if "severity" in requested and actor.role not in ("manager", "admin"):
        raise SeverityChangeForbidden("ask a service manager to change the severity")
    if ticket.status in states.FINAL:
        raise errors.IllegalTransition(f"ticket {reference(ticket.number)} is {ticket.status}")
    changes = {k: v for k, v in requested.items() if getattr(ticket, k) != v}
    if not changes:
        return ticket
    old = {k: getattr(ticket, k) for k in changes}
    ticket = await _save(session, ticket, changes)
    await history.record(
        session,
        ticket.id,
        "updated",
        "changed "
        + ", ".join(
            f"{k}: {old[k]!r} → {v!r}"
            for k, v in changes.items()
            if k not in ("description", "answer")
        ),
        actor=actor.sub,
        data={"fields": sorted(changes), "reason": body.reason},
    )
    await outbox.add(
        session,
        events.TicketUpdated(
            subject=ticket.id,
            data=events.TicketUpdatedData(
                ticket_id=ticket.id,
                ticket_number=ticket.number,
                changes={k: events.FieldChange(old=old[k], new=v) for k, v in changes.items()},
                severity=ticket.severity,
                kind=ticket.kind,
                reason=body.reason,
                updated_by=actor.sub,
                updated_at=ticket.updated_at,
            ),
        ),
    )
    return ticket


async def _save(session: AsyncSession, ticket: Ticket, changes: dict[str, Any]) -> Ticket:
    return (
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id)
            .values(**changes, version=Ticket.version + 1, updated_at=utcnow())
            .returning(Ticket)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def _write(session: AsyncSession, ticket: Any, changes: dict[str, Any], now: datetime):
    """``_save`` for the hot paths (actions, events): one statement on the driver connection;
    the ticket comes back as a :class:`sql.Row`."""
    sets = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=3))
    row = await sql.fetchrow(
        session,
        f"UPDATE ticket SET {sets}, version = version + 1, updated_at = $2 WHERE id = $1 "
        "RETURNING *",
        ticket.id,
        now,
        *changes.values(),
    )
    assert row is not None
    return row


async def transition(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    body: TransitionCreate,
    *,
    actor: Actor,
    if_match: str | None = None,
) -> Ticket:
    """An action a person takes on the ticket (API_ACTIONS)."""
    if body.action not in API_ACTIONS:
        raise errors.IllegalTransition(
            f"{body.action} is not done through this endpoint", allowed=sorted(API_ACTIONS)
        )
    ticket = await get(session, ticket_id, actor=actor, lock=True)
    if if_match is not None:
        check_if_match(if_match, ticket.version)
    if body.action == "resolve" and not (body.resolution or "").strip():
        raise errors.InvalidReference("resolving needs the resolution text")
    return await apply(
        session,
        ticket,
        body.action,
        actor=actor.sub,
        reason=body.reason,
        resolution=body.resolution,
        category=body.category,
        method=body.method,
    )


async def apply(
    session: AsyncSession,
    ticket: Ticket,
    action: states.Action,
    *,
    actor: str | None,
    reason: str | None = None,
    resolution: str | None = None,
    category: str | None = None,
    method: str | None = None,
    extra: dict[str, Any] | None = None,
    at: datetime | None = None,
    cause: events.Event | None = None,
    code: str | None = None,
) -> Ticket:
    """Moves the ticket by ``action`` (409 naming the allowed actions when illegal) and emits
    ``ticket.status_changed`` plus the event specific to the new state."""
    try:
        target = states.transition(ticket.status, action)
    except states.IllegalTransition as exc:
        raise errors.IllegalTransition(
            str(exc),
            current_status=ticket.status,
            allowed=[a for a in exc.allowed if a in API_ACTIONS],
            allowed_states=sorted(set(exc.allowed.values())),
        )
    now = at or utcnow()
    previous = ticket.status
    changes: dict[str, Any] = {"status": target, **(extra or {})}
    if target == "resolved":
        changes.update(resolution=resolution, resolved_at=now, closed_at=None)
        if category:
            changes["category"] = category
    elif target == "closed":
        changes["closed_at"] = now
    elif target == "reopened":
        changes.update(reopen_count=ticket.reopen_count + 1, resolved_at=None)
    resolved_at = ticket.resolved_at
    ticket = await _write(session, ticket, changes, now)
    await history.record(
        session,
        ticket.id,
        "status_changed",
        f"{previous} → {target}" + (f": {reason}" if reason else ""),
        actor=actor,
        at=now,
        data={"action": action, "from": previous, "to": target},
        source_event_id=cause.id if cause else None,
    )
    envelope = cause.caused() if cause else {}
    await outbox.add(
        session,
        events.TicketStatusChanged(
            subject=ticket.id,
            **envelope,
            data=events.TicketStatusChangedData(
                ticket_id=ticket.id,
                ticket_number=ticket.number,
                from_status=previous,
                to_status=target,
                reason=reason,
                severity=ticket.severity,
                kind=ticket.kind,
                changed_by=actor,
                changed_at=now,
            ),
        ),
    )
    specific = _specific_event(
        ticket,
        target,
        actor=actor,
        reason=reason,
        method=method,
        at=now,
        resolved_at=resolved_at,
        code=code,
    )
    if specific is not None:
        await outbox.add(session, specific.model_copy(update=envelope))
    return ticket


def _specific_event(ticket: Ticket, target: str, *, actor, reason, method, at, resolved_at, code):
    base = {"ticket_id": ticket.id, "ticket_number": ticket.number}
    if target == "resolved":
        return events.TicketResolved(
            subject=ticket.id,
            data=events.TicketResolvedData(
                **base,
                resolution=ticket.resolution or "",
                category=ticket.category,
                method=method,
                severity=ticket.severity,
                kind=ticket.kind,
                product=ticket.product,
                resolved_by=actor,
                resolved_at=at,
            ),
        )
    if target == "reopened":
        return events.TicketReopened(
            subject=ticket.id,
            data=events.TicketReopenedData(
                **base,
                reason=code or "recurrence",
                comment=reason,
                reopen_count=ticket.reopen_count,
                severity=ticket.severity,
                kind=ticket.kind,
                reopened_by=actor,
                reopened_at=at,
            ),
        )
    if target == "closed":
        return events.TicketClosed(
            subject=ticket.id,
            data=events.TicketClosedData(
                **base,
                reason=code or "manual",
                category=ticket.category,
                severity=ticket.severity,
                kind=ticket.kind,
                resolved_at=resolved_at,
                closed_by=actor,
                closed_at=at,
            ),
        )
    return None


async def confirm(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    *,
    accepted: bool,
    reason: str | None,
    actor: Actor,
) -> Ticket:
    """The customer confirms the solution (closed) or rejects it with a reason (reopened)."""
    ticket = await get(session, ticket_id, actor=actor, lock=True)
    if not accepted and not (reason or "").strip():
        raise errors.InvalidReference("say why the solution is not accepted")
    if accepted:
        return await apply(
            session,
            ticket,
            "close",
            actor=actor.sub,
            reason="confirmed by the customer",
            code="customer_confirmed",
        )
    return await apply(
        session,
        ticket,
        "reopen",
        actor=actor.sub,
        reason=f"rejected by the customer: {reason}",
        code="customer_unsatisfied",
    )


async def merge(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    into_id: uuid.UUID,
    *,
    reason: str | None,
    actor: Actor,
) -> Ticket:
    """A duplicate joins another open ticket of the same organisation."""
    if ticket_id == into_id:
        raise errors.InvalidReference("a ticket cannot be merged into itself")
    first, second = sorted([ticket_id, into_id])  # lock in one order: no deadlock
    locked = {t: await get(session, t, actor=actor, lock=True) for t in (first, second)}
    source, target = locked[ticket_id], locked[into_id]
    if source.organization_id != target.organization_id:
        raise errors.InvalidReference("tickets of different organisations cannot be merged")
    if target.status in states.FINAL:
        raise errors.IllegalTransition(f"{reference(target.number)} is {target.status}")
    now = utcnow()
    source = await apply(
        session,
        source,
        "merge",
        actor=actor.sub,
        reason=reason or f"duplicate of {reference(target.number)}",
        extra={"merged_into_id": target.id},
        at=now,
    )
    await history.record(
        session,
        target.id,
        "merged_in",
        f"{reference(source.number)} merged into this ticket",
        actor=actor.sub,
        at=now,
        data={"ticket_id": str(source.id), "number": source.number},
    )
    await outbox.add(
        session,
        events.TicketMerged(
            subject=source.id,
            data=events.TicketMergedData(
                ticket_id=source.id,
                ticket_number=source.number,
                into_ticket_id=target.id,
                into_ticket_number=target.number,
                reason=reason,
                merged_by=actor.sub,
                merged_at=now,
            ),
        ),
    )
    return source


# Messages and timeline -------------------------------------------------------------------


_INSERT_MESSAGE = """
WITH m AS (
    INSERT INTO ticket_message
        (id, ticket_id, author_kind, author_id, author_name, channel, public, body, external_ref)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    RETURNING *
), t AS (
    UPDATE ticket SET updated_at = $10 WHERE id = $2 RETURNING updated_at
)
SELECT m.*, (SELECT updated_at FROM t) AS ticket_updated_at FROM m
"""


async def add_message(
    session: AsyncSession,
    ticket: Any,
    body: MessageCreate,
    *,
    actor: Actor | None,
    kind: str | None = None,
    external_ref: str | None = None,
    attachments: list[events.AttachmentRef] | None = None,
) -> Any:
    """A message on the ticket; customers and gateways write public messages only. The message
    comes back as a :class:`sql.Row`."""
    author = kind or (author_kind(actor) if actor else "system")
    public = True if author == "customer" else body.public
    message = await sql.fetchrow(
        session,
        _INSERT_MESSAGE,
        new_id(),
        ticket.id,
        author,
        actor.sub if actor else None,
        actor.name if actor else None,
        body.channel,
        public,
        body.body,
        external_ref,
        utcnow(),
    )
    assert message is not None
    values = message.model_dump()
    ticket_updated_at = values.pop("ticket_updated_at")
    message = sql.Row(values)
    if isinstance(ticket, sql.Row):  # the caller's copy stays current
        ticket.updated_at = ticket_updated_at
    await history.record(
        session,
        ticket.id,
        "message",
        _excerpt(body.body),
        actor=message.author_id,
        public=public,
        at=message.created_at,
        data={"message_id": str(message.id), "author_kind": author, "channel": body.channel},
    )
    await outbox.add(
        session,
        events.TicketMessageAdded(
            subject=ticket.id,
            data=events.TicketMessageAddedData(
                ticket_id=ticket.id,
                ticket_number=ticket.number,
                message_id=message.id,
                author_kind=author,
                author_id=message.author_id,
                author_name=message.author_name,
                channel=body.channel,
                public=public,
                body=body.body,
                attachments=attachments or [],
                external_ref=external_ref,
                created_at=message.created_at,
            ),
        ),
    )
    return message


def _excerpt(text: str, n: int = 140) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


async def messages(session: AsyncSession, ticket: Ticket, *, actor: Actor) -> list[TicketMessage]:
    stmt = select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)
    if actor.is_customer:
        stmt = stmt.where(TicketMessage.public.is_(True))
    return list((await session.execute(stmt.order_by(TicketMessage.created_at))).scalars())


async def timeline(session: AsyncSession, ticket: Ticket, *, actor: Actor) -> list[TimelineEntry]:
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if actor.is_customer:
        stmt = stmt.where(TicketEvent.public.is_(True))
    rows = (await session.execute(stmt.order_by(TicketEvent.at, TicketEvent.id))).scalars()
    return [
        TimelineEntry(
            at=r.at, kind=r.kind, actor=r.actor, public=r.public, summary=r.summary, data=r.data
        )
        for r in rows
    ]
