"""Use cases of the phone channel: the call log, missed-call callback tickets, calls on tickets.

A call's row is locked while an event merges into it (``cti.merge``), so concurrent or
repeated events of one call leave one correct record; a missed inbound call opens one
callback ticket, and later missed calls from the same number join it while it is open.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from intake import cti, errors, inbound, phones, register, sql, states, tickets
from intake.models import Call
from intake.schemas import CallerRead, MessageCreate, OrganizationRead, TicketCreate
from intake.settings import Settings
from shared import db
from shared.auth import Actor
from shared.db import utcnow
from shared.http import decode_cursor, encode_cursor
from shared.ids import new_id


def _state_of(call: Any) -> cti.CallState:
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


# Every PBX event runs this path, so its statements go straight to asyncpg (intake.sql).
#
# Most events change the call's own row and nothing else: the first event of a new call, and
# an answer or a hangup that opens no callback ticket. Those run without a transaction
# (shared.db.autocommit): a new call is one INSERT, with the caller's contact looked up inside
# it; a known call is read (or taken as this process last wrote it), merged and written back
# by one UPDATE that holds only if the row is still that version (else read again). An event
# that opens a callback ticket or adds to one runs in the session's transaction with the
# call's row locked (_record_locked).

_BY_CALL_ID = "SELECT * FROM call WHERE call_id = $1"
# The merged columns of a call, in the parameter order of _INSERT and _UPDATE ($4 on).
_MERGED = (
    "direction", "from_number", "to_number", "customer_number", "queue", "users",
    "answering_number", "cause", "state", "missed", "started_at", "answered_at", "ended_at",
    "events",
)  # fmt: skip
_MERGED_VALUES = ", ".join(
    f"${i}::text::jsonb" if column in sql.JSON_COLUMNS else f"${i}"
    for i, column in enumerate(_MERGED, start=4)
)
_INSERT = f"""
WITH found AS ({inbound.CONTACT_BY_PHONE})
INSERT INTO call (id, call_id, {", ".join(_MERGED)}, contact_id, organization_id)
SELECT $2, $3, {_MERGED_VALUES}, (SELECT id FROM found), (SELECT organization_id FROM found)
ON CONFLICT (call_id) DO NOTHING
RETURNING *
"""
_UPDATE = f"""
WITH found AS ({inbound.CONTACT_BY_PHONE})
UPDATE call SET ({", ".join(_MERGED)}) = ({_MERGED_VALUES}),
    contact_id = coalesce(call.contact_id, (SELECT id FROM found)),
    organization_id = CASE WHEN call.contact_id IS NULL AND EXISTS (SELECT FROM found)
                           THEN (SELECT organization_id FROM found)
                           ELSE call.organization_id END,
    version = call.version + 1, updated_at = now()
WHERE call.id = $2 AND call.version = $3
RETURNING *
"""
_PLAIN_ATTEMPTS = 5
# The calls this process wrote last, as written, by PBX callId. A call's next event (its
# answer, its hangup) comes to the same process nearly always and is merged into the row as
# written here, without reading it first: the UPDATE holds only if the row is still that
# version, and when another process or a locked event wrote it meanwhile, the row is read and
# merged again. An ended call is let go.
_RECENT: OrderedDict[str, Any] = OrderedDict()
RECENT_CALLS = 4096
# A no-op update on conflict locks the existing row and returns it, as INSERT ... DO NOTHING
# followed by SELECT ... FOR UPDATE would.
_UPSERT = """
INSERT INTO call (id, call_id, started_at, direction) VALUES ($1, $2, $3, $4)
ON CONFLICT (call_id) DO UPDATE SET call_id = EXCLUDED.call_id
RETURNING *
"""
_CONTACT = "SELECT * FROM contact WHERE id = $1"


def _merged(call: Any, after: cti.CallState, ev: cti.CtiEvent) -> dict[str, Any]:
    """The columns an event sets on its call (``call``: the row before, or None for a new one):
    the merged fields, and the event appended to the call's last 50."""
    return {
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
        "events": [
            *((call.events or [])[-49:] if call is not None else []),
            {"event": ev.event, "at": ev.at.isoformat()},
        ],
    }


def _opens_or_touches_ticket(call: Any, before: cti.CallState, after: cti.CallState) -> bool:
    """The event makes the call missed (a callback ticket opens, or the open one of the number
    gets a note), or un-misses a callback (its ticket gets a note)."""
    if after.missed and not before.missed and (call is None or call.ticket_id is None):
        return True
    return (
        call is not None
        and before.missed
        and not after.missed
        and call.callback
        and call.ticket_id is not None
    )


async def record(
    session: AsyncSession, settings: Settings, ev: cti.CtiEvent, *, actor: Actor
) -> tuple[Any, CallerRead | None]:
    """Merges one CTI event into its call; for ``newCall`` also says who is calling."""
    call = None
    if not session.in_transaction():
        async with db.autocommit(session) as conn:
            call = await _record_plain(conn, settings, ev)
    if call is None:
        call, contact = await _record_locked(session, settings, ev, actor=actor)
    elif ev.event == "newCall" and call.contact_id is not None:
        contact = await sql.fetchrow(session, _CONTACT, call.contact_id)
    else:
        contact = None
    caller = await caller_info(session, call, contact) if ev.event == "newCall" else None
    return call, caller


def _customer(settings: Settings, call: Any, after: cti.CallState) -> tuple[str | None, str | None]:
    """(customer_number to store, E.164 number to look the contact up by): a call without a
    contact yet takes its number from the merged state, and looks for one."""
    if call is not None and call.contact_id is not None:
        return call.customer_number, None
    if not after.customer_number:
        return (call.customer_number if call is not None else None), None
    e164 = phones.try_normalise(after.customer_number, settings.phone_region)
    return e164 or after.customer_number, e164


async def _record_plain(conn: Any, settings: Settings, ev: cti.CtiEvent) -> Any:
    """The call after ``ev`` when the event changes only the call's row (written without a
    transaction), else None: the event needs _record_locked.

    A ``newCall`` nearly always begins a call not yet known: it is inserted without reading
    first, one round trip, and read and merged like any other event only when the call was
    there already (a repeat, or an event that overtook it). A later event of a call this
    process wrote is merged into the row as written (_RECENT), also one round trip."""
    for attempt in range(_PLAIN_ATTEMPTS):
        call = _RECENT.pop(ev.call_id, None) if attempt == 0 else None
        if call is None and (attempt or ev.event != "newCall"):
            found = await conn.fetchrow(_BY_CALL_ID, ev.call_id)
            call = sql.Row.of(found) if found is not None else None
        before = _state_of(call) if call is not None else cti.CallState()
        after = cti.merge(before, ev)
        if _opens_or_touches_ticket(call, before, after):
            return None
        merged = _merged(call, after, ev)
        merged["customer_number"], e164 = _customer(settings, call, after)
        values = [sql.dumps(merged[c]) if c in sql.JSON_COLUMNS else merged[c] for c in _MERGED]
        if call is None:
            row = await conn.fetchrow(_INSERT, e164, new_id(), ev.call_id, *values)
        else:
            row = await conn.fetchrow(_UPDATE, e164, call.id, call.version, *values)
        if row is not None:
            written = sql.Row.of(row)
            if written.state != "ended":
                _RECENT[ev.call_id] = written
                if len(_RECENT) > RECENT_CALLS:
                    _RECENT.popitem(last=False)
            return written
        # Another event of this call wrote it first: merge into what it wrote.
    return None


async def _record_locked(
    session: AsyncSession, settings: Settings, ev: cti.CtiEvent, *, actor: Actor
) -> tuple[Any, Any]:
    """Merges ``ev`` into its call with the call's row locked, in the session's transaction,
    opening or adding to a callback ticket where the event calls for it; (call, contact)."""
    _RECENT.pop(ev.call_id, None)  # written here now: the version kept would be stale
    call = await sql.fetchrow(session, _UPSERT, new_id(), ev.call_id, ev.at, ev.direction)
    assert call is not None
    before = _state_of(call)
    after = cti.merge(before, ev)
    changes = _merged(call, after, ev)
    contact = None
    if call.contact_id is not None:
        contact = await sql.fetchrow(session, _CONTACT, call.contact_id)
    elif after.customer_number:
        e164 = phones.try_normalise(after.customer_number, settings.phone_region)
        changes["customer_number"] = e164 or after.customer_number
        if e164 and (contact := await inbound.contact_by_phone(session, e164)) is not None:
            changes.update(contact_id=contact.id, organization_id=contact.organization_id)
    if after.missed and not before.missed and call.ticket_id is None:
        # The callback ticket first, so that the call's row is written once, with it.
        ticket = await _missed(
            session, settings, sql.Row({**call.model_dump(), **changes}), contact, actor
        )
        changes.update(ticket_id=ticket.id, callback=True)
        call = await _write(session, call.id, changes)
    else:
        call = await _write(session, call.id, changes)
        if before.missed and not after.missed and call.callback and call.ticket_id is not None:
            await _answered_late(session, call)
    return call, contact


async def _write(session: AsyncSession, call_id: uuid.UUID, changes: dict) -> Any:
    """The call's row after ``changes`` (one statement), as a :class:`sql.Row`."""
    sets, values = sql.set_list(changes, start=3)
    row = await sql.fetchrow(
        session,
        f"UPDATE call SET {sets}, version = version + 1, updated_at = $2 WHERE id = $1 RETURNING *",
        call_id,
        utcnow(),
        *values,
    )
    assert row is not None
    return row


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


_TICKET = "SELECT id, number, status FROM ticket WHERE id = $1"


async def _answered_late(session: AsyncSession, call: Any) -> None:
    """An answer reported after the hangup: a note on the callback ticket, while it is open."""
    ticket = await sql.fetchrow(session, _TICKET, call.ticket_id)
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


_OPEN_CALLBACK = f"""
SELECT t.* FROM ticket t JOIN call c ON c.ticket_id = t.id
WHERE c.customer_number = $1 AND c.callback AND t.status IN ({tickets.OPEN_SQL})
ORDER BY t.id DESC
LIMIT 1
FOR UPDATE OF t
"""


async def _missed(
    session: AsyncSession, settings: Settings, call: Any, contact: Any, actor: Actor
) -> Any:
    """A callback ticket for a missed inbound call, or a note on the open one of that number;
    the ticket."""
    number = call.customer_number or "an unknown number"
    open_callback = None
    if call.customer_number:
        open_callback = await sql.fetchrow(session, _OPEN_CALLBACK, call.customer_number)
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
        return open_callback
    org_id = (
        contact.organization_id if contact else await inbound.unknown_senders_org(session, settings)
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
    return created.ticket


_ORGANIZATION = "SELECT * FROM organization WHERE id = $1"
_OPEN_TICKETS = f"""
SELECT * FROM ticket
WHERE organization_id = $1 AND status IN ({tickets.OPEN_SQL})
ORDER BY contact_id <> $2, id DESC
LIMIT 10
"""


async def caller_info(session: AsyncSession, call: Any, contact: Any) -> CallerRead:
    org = await sql.fetchrow(session, _ORGANIZATION, contact.organization_id) if contact else None
    open_tickets: list[Any] = []
    if contact is not None:
        open_tickets = await sql.fetch(session, _OPEN_TICKETS, contact.organization_id, contact.id)
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
