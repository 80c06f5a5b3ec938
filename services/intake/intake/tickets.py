"""Use cases for the ticket aggregate. They write rows, history and outbox events; the edge
(route or bus consumer) commits."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from intake import errors, history, register, states
from intake.models import Asset, Call, Contact, Contract, Ticket, TicketEvent, TicketMessage
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


@dataclass
class _Context:
    organization_id: uuid.UUID
    contact: Contact | None = None
    contract: Contract | None = None
    asset: Asset | None = None


async def _resolve_context(session: AsyncSession, body: TicketCreate, actor: Actor) -> _Context:
    """Finds the organisation, contact, contract and asset a report refers to, and checks that
    they all belong to one organisation the actor may act for."""
    org_ids: set[uuid.UUID] = set()
    ctx_contact = ctx_contract = ctx_asset = None
    if body.contact_id is not None:
        ctx_contact = await session.get(Contact, body.contact_id)
        if ctx_contact is None:
            raise errors.InvalidReference(f"contact {body.contact_id} does not exist")
        org_ids.add(ctx_contact.organization_id)
    if body.asset_id is not None:
        ctx_asset = await session.get(Asset, body.asset_id)
        if ctx_asset is None:
            raise errors.InvalidReference(f"asset {body.asset_id} does not exist")
    elif body.serial:
        ctx_asset = await register.find_asset_by_serial(session, body.serial)
    if ctx_asset is not None:
        org_ids.add(ctx_asset.organization_id)
    if body.contract_id is not None:
        ctx_contract = await session.get(Contract, body.contract_id)
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
    await register._org_for_write(session, org_id, actor)
    if ctx_contract is None and ctx_asset is not None and ctx_asset.contract_id is not None:
        ctx_contract = await session.get(Contract, ctx_asset.contract_id)
    if ctx_contract is None:
        ctx_contract = await register.active_contract(session, org_id, utcnow().date())
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
        complaint_about = await session.get(Ticket, body.complaint_about_id)
        if complaint_about is None or complaint_about.organization_id != ctx.organization_id:
            raise errors.InvalidReference(f"ticket {body.complaint_about_id} does not exist")
    under_warranty = None
    if ctx.asset is not None:
        w = await register.asset_warranty(session, ctx.asset)
        under_warranty = w.covers(utcnow().date()) if w.base_end is not None else None
    kind = "complaint" if complaint_about is not None else body.kind
    values: dict[str, Any] = {
        "organization_id": ctx.organization_id,
        "contact_id": ctx.contact.id if ctx.contact else None,
        "contract_id": ctx.contract.id if ctx.contract else None,
        "asset_id": ctx.asset.id if ctx.asset else None,
        "channel": body.channel,
        "kind": kind,
        "service_type": body.service_type,
        "severity": body.severity,
        "category": body.category,
        "subject": body.subject,
        "description": body.description,
        "product": body.product or (ctx.asset.product if ctx.asset else None),
        "serial": ctx.asset.serial if ctx.asset else body.serial,
        "site_address": body.site_address or (ctx.asset.site_address if ctx.asset else None),
        "region": body.region
        or (ctx.asset.region if ctx.asset else None)
        or (ctx.contract.service_region if ctx.contract else None),
        "on_site_required": body.on_site_required,
        "answer": body.answer,
        "needs_follow_up": body.needs_follow_up,
        "coverage": ctx.contract.coverage if ctx.contract else "24x7",
        "calendar_id": ctx.contract.calendar_id if ctx.contract else None,
        "policy_key": ctx.contract.policy_key if ctx.contract else None,
        "under_warranty": under_warranty,
        # Hardware work on a device out of warranty is paid: the customer confirms the quote
        # before parts are replaced (DOMAIN.md, handling 7).
        "paid": under_warranty is False and kind in ("fault", "rma"),
        "complaint_about_id": complaint_about.id if complaint_about else None,
        "external_ref": external_ref,
        "created_by": actor.sub,
    }
    ticket = (await session.execute(insert(Ticket).values(**values).returning(Ticket))).scalar_one()
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


async def _open_duplicate(
    session: AsyncSession, ctx: _Context, *, since: datetime
) -> Ticket | None:
    return (
        await session.execute(
            select(Ticket)
            .where(
                Ticket.contact_id == ctx.contact.id,  # type: ignore[union-attr]
                Ticket.asset_id == ctx.asset.id,  # type: ignore[union-attr]
                Ticket.status.in_(tuple(states.OPEN)),
                Ticket.created_at >= since,
            )
            .order_by(Ticket.id.desc())
            .limit(1)
            .with_for_update()
        )
    ).scalar_one_or_none()


def _created_event(ticket: Ticket, ctx: _Context) -> events.TicketCreated:
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
) -> Ticket | None:
    """Creates a ticket keyed by ``external_ref`` unless one exists (events that open tickets)."""
    existing = (
        await session.execute(select(Ticket).where(Ticket.external_ref == external_ref))
    ).scalar_one_or_none()
    if existing is not None:
        return None
    try:
        async with session.begin_nested():
            created = await create(session, body, actor=actor, external_ref=external_ref)
    except IntegrityError:
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
    ticket = await _save(session, ticket, changes)
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


async def add_message(
    session: AsyncSession,
    ticket: Ticket,
    body: MessageCreate,
    *,
    actor: Actor | None,
    kind: str | None = None,
    external_ref: str | None = None,
    attachments: list[events.AttachmentRef] | None = None,
) -> TicketMessage:
    """A message on the ticket; customers and gateways write public messages only."""
    author = kind or (author_kind(actor) if actor else "system")
    public = True if author == "customer" else body.public
    message = (
        await session.execute(
            insert(TicketMessage)
            .values(
                ticket_id=ticket.id,
                author_kind=author,
                author_id=actor.sub if actor else None,
                author_name=actor.name if actor else None,
                channel=body.channel,
                public=public,
                body=body.body,
                external_ref=external_ref,
            )
            .returning(TicketMessage)
        )
    ).scalar_one()
    await session.execute(update(Ticket).where(Ticket.id == ticket.id).values(updated_at=utcnow()))
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


async def count_attachments(session: AsyncSession, ticket_id: uuid.UUID) -> int:
    from intake.models import Attachment

    return (
        await session.execute(
            select(func.count()).select_from(Attachment).where(Attachment.ticket_id == ticket_id)
        )
    ).scalar_one()
