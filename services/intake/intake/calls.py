"""Use cases of the phone channel: the call log, missed-call callback tickets, calls on tickets.

A call's row is locked while an event merges into it (``cti.merge``), so concurrent or
repeated events of one call leave one correct record; a missed inbound call opens one
callback ticket, and later missed calls from the same number join it while it is open.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from intake import cti, errors, inbound, phones, register, states, tickets
from intake.models import Call, Contact, Organization, Ticket
from intake.schemas import CallerRead, MessageCreate, OrganizationRead, TicketCreate
from intake.settings import Settings
from shared.auth import Actor
from shared.db import utcnow
from shared.http import decode_cursor, encode_cursor


def _state_of(call: Call) -> cti.CallState:
    return cti.CallState(
        direction=call.direction,
        from_number=call.from_number,
        to_number=call.to_number,
        queue=call.queue,
        users=list(call.users or []),
        answering_number=call.answering_number,
        cause=call.cause,
        started_at=call.started_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
    )


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


async def record(
    session: AsyncSession, settings: Settings, ev: cti.CtiEvent, *, actor: Actor
) -> tuple[Call, CallerRead | None]:
    """Merges one CTI event into its call; for ``newCall`` also says who is calling."""
    await session.execute(
        pg_insert(Call)
        .values(call_id=ev.call_id, started_at=ev.at, direction=ev.direction)
        .on_conflict_do_nothing()
    )
    call = (
        await session.execute(
            select(Call)
            .where(Call.call_id == ev.call_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    before = _state_of(call)
    after = cti.merge(before, ev)
    changes: dict = {
        "direction": after.direction,
        "from_number": after.from_number,
        "to_number": after.to_number,
        "queue": after.queue,
        "users": after.users,
        "answering_number": after.answering_number,
        "cause": after.cause,
        "started_at": after.started_at,
        "answered_at": after.answered_at,
        "ended_at": after.ended_at,
        "state": after.state,
        "missed": after.missed,
        "events": [*(call.events or [])[-49:], {"event": ev.event, "at": ev.at.isoformat()}],
    }
    contact = None
    if call.contact_id is not None:
        contact = await session.get(Contact, call.contact_id)
    elif after.customer_number:
        e164 = phones.try_normalise(after.customer_number, settings.phone_region)
        changes["customer_number"] = e164 or after.customer_number
        if e164 and (contact := await inbound.contact_by_phone(session, e164)) is not None:
            changes.update(contact_id=contact.id, organization_id=contact.organization_id)
    call = await _save(session, call, changes)
    if after.missed and not before.missed and call.ticket_id is None:
        call = await _missed(session, settings, call, contact, actor)
    elif before.missed and not after.missed and call.callback and call.ticket_id is not None:
        ticket = await session.get(Ticket, call.ticket_id)
        if ticket is not None and ticket.status in states.OPEN:
            note = (
                f"The call {call.call_id} from {call.customer_number} was answered after all "
                f"(the PBX reported it late); a callback may no longer be needed."
            )
            await tickets.add_message(
                session,
                ticket,
                MessageCreate(body=note, public=False, channel="phone"),
                actor=None,
                kind="system",
            )
    caller = None
    if ev.event == "newCall":
        caller = await caller_info(session, call, contact)
    return call, caller


async def _save(session: AsyncSession, call: Call, changes: dict) -> Call:
    return (
        await session.execute(
            update(Call)
            .where(Call.id == call.id)
            .values(**changes, version=Call.version + 1, updated_at=utcnow())
            .returning(Call)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def _missed(
    session: AsyncSession, settings: Settings, call: Call, contact: Contact | None, actor: Actor
) -> Call:
    """A callback ticket for a missed inbound call, or a note on the open one of that number."""
    number = call.customer_number or "an unknown number"
    open_callback = None
    if call.customer_number:
        open_callback = (
            await session.execute(
                select(Ticket)
                .join(Call, Call.ticket_id == Ticket.id)
                .where(
                    Call.customer_number == call.customer_number,
                    Call.callback.is_(True),
                    Ticket.status.in_(tuple(states.OPEN)),
                )
                .order_by(Ticket.id.desc())
                .limit(1)
                .with_for_update(of=Ticket)
            )
        ).scalar_one_or_none()
    when = _when(call.ended_at or utcnow())
    if open_callback is not None:
        await tickets.add_message(
            session,
            open_callback,
            MessageCreate(
                body=f"Another missed call from {number} at {when} (call {call.call_id}).",
                public=False,
                channel="phone",
            ),
            actor=None,
            kind="system",
        )
        ticket = open_callback
    else:
        org_id = (
            contact.organization_id
            if contact
            else await inbound.unknown_senders_org(session, settings)
        )
        name = f" ({contact.name})" if contact else ""
        created = await tickets.create(
            session,
            TicketCreate(
                subject=f"Call back {number}{name}: missed call",
                description=(
                    f"Missed inbound call from {number} at {when}"
                    + (f", queue {call.queue}" if call.queue else "")
                    + (f", cause {call.cause}" if call.cause else "")
                    + ". Call the customer back."
                ),
                organization_id=org_id,
                contact_id=contact.id if contact else None,
                channel="phone",
                kind="consultation",
                severity=3,
                join_duplicates=False,
            ),
            actor=Actor(sub=actor.sub, role="integration", name=actor.name),
            external_ref=f"cti-missed:{call.call_id}"[:500],
        )
        ticket = created.ticket
    return await _save(session, call, {"ticket_id": ticket.id, "callback": True})


async def caller_info(session: AsyncSession, call: Call, contact: Contact | None) -> CallerRead:
    org = await session.get(Organization, contact.organization_id) if contact else None
    open_tickets: list[Ticket] = []
    if contact is not None:
        open_tickets = list(
            (
                await session.execute(
                    select(Ticket)
                    .where(
                        Ticket.organization_id == contact.organization_id,
                        Ticket.status.in_(tuple(states.OPEN)),
                    )
                    .order_by(Ticket.contact_id != contact.id, Ticket.id.desc())
                    .limit(10)
                )
            ).scalars()
        )
    return CallerRead(
        call_id=call.call_id,
        contact=await register.contact_read(session, contact) if contact else None,
        organization=OrganizationRead.model_validate(org) if org else None,
        open_tickets=[tickets.read(t) for t in open_tickets],
    )


async def find(session: AsyncSession, ref: str, *, lock: bool = False) -> Call | None:
    """A call by its id or by the PBX's callId."""
    stmt = select(Call).where(Call.call_id == ref)
    with contextlib.suppress(ValueError):  # a PBX callId need not be a uuid
        stmt = select(Call).where((Call.id == uuid.UUID(ref)) | (Call.call_id == ref))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()


class CallNotFound(errors.NotFound):
    type = "call-not-found"
    title = "Call not found"


async def get(session: AsyncSession, call_id: uuid.UUID, *, actor: Actor) -> Call:
    call = await session.get(Call, call_id)
    if call is None or (actor.is_customer and call.organization_id != actor.org):
        raise CallNotFound(f"no call {call_id}")
    return call


async def list_(
    session: AsyncSession,
    *,
    actor: Actor,
    number: str | None,
    contact_id: uuid.UUID | None,
    ticket_id: uuid.UUID | None,
    missed: bool | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Call], str | None]:
    stmt = select(Call)
    if actor.is_customer:
        stmt = stmt.where(Call.organization_id == actor.org)
    if number:
        e164 = phones.try_normalise(number)
        stmt = stmt.where(Call.customer_number == (e164 or number))
    if contact_id is not None:
        stmt = stmt.where(Call.contact_id == contact_id)
    if ticket_id is not None:
        stmt = stmt.where(Call.ticket_id == ticket_id)
    if missed is not None:
        stmt = stmt.where(Call.missed.is_(missed))
    if cursor:
        (last,) = decode_cursor(cursor)
        stmt = stmt.where(Call.id < uuid.UUID(str(last)))
    rows = list((await session.execute(stmt.order_by(Call.id.desc()).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor([str(rows[-1].id)]) if more and rows else None)


async def link(
    session: AsyncSession,
    call_id: uuid.UUID,
    ticket_id: uuid.UUID,
    note: str | None,
    *,
    actor: Actor,
) -> Call:
    """Attaches a call to an existing ticket, with a note of the call on the ticket."""
    call = await find(session, str(call_id), lock=True)
    if call is None:
        raise CallNotFound(f"no call {call_id}")
    ticket = await tickets.get(session, ticket_id, actor=actor, lock=True)
    if call.ticket_id is not None and call.ticket_id != ticket.id:
        raise errors.DuplicateValue(
            "the call is already on another ticket", ticket_id=str(call.ticket_id)
        )
    if call.ticket_id == ticket.id:
        return call
    await tickets.add_message(
        session,
        ticket,
        MessageCreate(body=describe(call) + (f"\n\n{note}" if note else ""), public=False,
                      channel="phone"),
        actor=actor,
    )  # fmt: skip
    return await _save(session, call, {"ticket_id": ticket.id})


def describe(call: Call) -> str:
    parts = [f"Phone call {call.call_id} ({'inbound' if call.direction != 'out' else 'outbound'})"]
    if call.customer_number:
        parts.append(f"with {call.customer_number}")
    parts.append(f"at {_when(call.started_at)}")
    if call.answered_at and call.ended_at:
        parts.append(f"lasting {int((call.ended_at - call.answered_at).total_seconds())} s")
    return " ".join(parts) + "."
