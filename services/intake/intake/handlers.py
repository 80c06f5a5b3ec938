"""Events intake consumes (DESIGN §5). Each is correct under duplicates (the inbox) and under
reordering: dispatch's events carry a per-ticket ``seq`` and an older one never overwrites a
newer one's facts; status moves only where the state graph allows it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from intake import history, sql, states, tickets
from intake.models import Contract, Ticket
from intake.schemas import TicketCreate
from shared import events
from shared.auth import Actor
from shared.bus import Handler, driver_only
from shared.db import utcnow

SYSTEM = Actor(sub="system", role="admin")


_LOCK = "SELECT * FROM ticket WHERE id = $1 FOR UPDATE"


async def _ticket(session: AsyncSession, ticket_id) -> Any:
    """The ticket (a :class:`sql.Row`), locked for this event's transaction."""
    return await sql.fetchrow(session, _LOCK, ticket_id)


def _newer(ticket: Any, event: events.Event, fact: str) -> bool:
    """True when ``event`` is dispatch's newest word so far on ``fact`` (``assignment`` or
    ``tier``). Each fact keeps its own high-water mark (``<fact>_seq``, moved in the same
    update), so an escalation delivered first does not make the earlier assignment look
    stale."""
    return event.seq > getattr(ticket, f"{fact}_seq")


async def _apply_facts(
    session: AsyncSession,
    ticket: Any,
    changes: dict[str, Any],
    event: events.Event,
    move: tuple[states.Action, str] | None = None,
) -> None:
    """Writes the facts an event brought (with their seq marks) in one update; with ``move``
    (action, reason) also moves the status, when the state graph allows it, in that update."""
    if move is not None:
        action, reason = move
        if states.apply_if_allowed(ticket.status, action) != ticket.status:
            await tickets.apply(
                session, ticket, action, actor="dispatch", reason=reason, cause=event, extra=changes
            )
            return
    if changes:
        await _update(session, ticket.id, {**changes, "updated_at": utcnow()})


async def _update(session: AsyncSession, ticket_id, changes: dict[str, Any]) -> None:
    sets, values = sql.set_list(changes, start=2)
    await sql.execute(session, f"UPDATE ticket SET {sets} WHERE id = $1", ticket_id, *values)


def _tier(ticket: Any, event: events.Event, tier: int) -> dict[str, Any]:
    return {"tier_seq": event.seq, "tier": tier} if _newer(ticket, event, "tier") else {}


async def _required(session: AsyncSession, ticket_id) -> Any:
    ticket = await _ticket(session, ticket_id)
    if ticket is None:
        # Dispatch learns of a ticket from ticket.created, which leaves only after the ticket
        # is committed here; a missing ticket is a fault worth retrying and then parking.
        raise LookupError(f"ticket {ticket_id} not found")
    return ticket


@driver_only
async def on_ticket_assigned(session: AsyncSession, event: events.TicketAssigned) -> None:
    d = event.data
    ticket = await _required(session, d.ticket_id)
    await history.record(
        session,
        ticket.id,
        "assigned",
        f"assigned to {d.engineer_name} (tier {d.tier}, {d.by})",
        actor=d.assigned_by,
        at=d.assigned_at,
        source_event_id=event.id,
        data={"engineer_id": str(d.engineer_id), "tier": d.tier, "rule": d.rule},
    )
    changes = _tier(ticket, event, d.tier)
    move = None
    if _newer(ticket, event, "assignment"):
        changes.update(
            assignment_seq=event.seq,
            assignee_id=d.engineer_id,
            assignee_name=d.engineer_name,
            assignee_user_id=d.engineer_user_id,
        )
        if ticket.status in ("new", "reopened", "in_progress"):
            move = ("assign", f"assigned to {d.engineer_name}")
    await _apply_facts(session, ticket, changes, event, move)


@driver_only
async def on_ticket_unassigned(session: AsyncSession, event: events.TicketUnassigned) -> None:
    d = event.data
    ticket = await _required(session, d.ticket_id)
    await history.record(
        session,
        ticket.id,
        "unassigned",
        f"waiting in the queue: {d.reason}",
        actor=d.unassigned_by,
        at=d.unassigned_at,
        source_event_id=event.id,
        public=False,
        data={"reason": d.reason, "detail": d.detail},
    )
    changes = _tier(ticket, event, d.tier)
    move = None
    if _newer(ticket, event, "assignment"):
        changes.update(
            assignment_seq=event.seq, assignee_id=None, assignee_name=None, assignee_user_id=None
        )
        if ticket.status in ("assigned", "in_progress"):
            move = ("unassign", d.reason)
    await _apply_facts(session, ticket, changes, event, move)


@driver_only
async def on_ticket_acknowledged(session: AsyncSession, event: events.TicketAcknowledged) -> None:
    d = event.data
    ticket = await _required(session, d.ticket_id)
    await history.record(
        session,
        ticket.id,
        "acknowledged",
        f"{d.engineer_name} took the ticket",
        at=d.acknowledged_at,
        source_event_id=event.id,
        data={"engineer_id": str(d.engineer_id)},
    )
    changes = _tier(ticket, event, d.tier)
    move = None
    if _newer(ticket, event, "assignment"):
        changes.update(
            assignment_seq=event.seq, assignee_id=d.engineer_id, assignee_name=d.engineer_name
        )
        if ticket.status in ("new", "assigned", "reopened"):
            move = ("start", f"acknowledged by {d.engineer_name}")
    await _apply_facts(session, ticket, changes, event, move)


@driver_only
async def on_ticket_escalated(session: AsyncSession, event: events.TicketEscalated) -> None:
    d = event.data
    ticket = await _required(session, d.ticket_id)
    vendor = f" (vendor {d.vendor}, case {d.vendor_case_ref})" if d.vendor else ""
    await history.record(
        session,
        ticket.id,
        "escalated",
        f"tier {d.from_tier} → {d.to_tier}: {d.reason}{vendor}",
        actor=d.escalated_by,
        at=d.escalated_at,
        source_event_id=event.id,
        data={"from_tier": d.from_tier, "to_tier": d.to_tier, "trigger": d.trigger},
    )
    await _apply_facts(session, ticket, _tier(ticket, event, d.to_tier), event)


@driver_only
async def on_sla_warning(session: AsyncSession, event: events.SlaWarning) -> None:
    d = event.data
    if await _ticket(session, d.ticket_id) is None:
        return
    await history.record(
        session,
        d.ticket_id,
        "sla_warning",
        f"{d.timer_kind} deadline {d.due_at:%Y-%m-%d %H:%M} UTC is near "
        f"({round(d.threshold * 100)} % used)",
        at=event.occurred_at,
        source_event_id=event.id,
        public=False,
        data={"timer_kind": d.timer_kind, "due_at": d.due_at.isoformat()},
    )


@driver_only
async def on_sla_breached(session: AsyncSession, event: events.SlaBreached) -> None:
    d = event.data
    ticket = await _ticket(session, d.ticket_id)
    if ticket is None:
        raise LookupError(f"ticket {d.ticket_id} not found")
    await history.record(
        session,
        ticket.id,
        "sla_breached",
        f"{d.timer_kind} deadline {d.due_at:%Y-%m-%d %H:%M} UTC passed: a legacy problem to review",
        at=d.breached_at,
        source_event_id=event.id,
        data={"timer_kind": d.timer_kind, "due_at": d.due_at.isoformat()},
    )
    if not ticket.legacy:
        await _update(session, ticket.id, {"legacy": True, "updated_at": utcnow()})


@driver_only
async def on_sla_observation_elapsed(
    session: AsyncSession, event: events.SlaObservationElapsed
) -> None:
    """Closes a resolved ticket whose observation period passed with no recurrence; an old
    observation (the ticket was reopened and resolved again since) closes nothing."""
    d = event.data
    ticket = await _required(session, d.ticket_id)
    # started_at is the resolved_at of the ticket.resolved that started the observation.
    same_resolution = ticket.resolved_at is not None and abs(
        ticket.resolved_at - d.started_at
    ) < timedelta(milliseconds=1)
    if ticket.status == "resolved" and same_resolution:
        await tickets.apply(
            session,
            ticket,
            "close",
            actor="sla-timer",
            reason="observation period elapsed with no recurrence",
            at=d.elapsed_at,
            cause=event,
        )


async def on_schedule_due(session: AsyncSession, event: events.ScheduleDue) -> None:
    """A periodic inspection opens an inspection ticket for its contract, once per occurrence."""
    d = event.data
    if d.purpose != "inspection":
        return
    contract_id = d.contract_id or (d.payload or {}).get("contract_id")
    contract = await session.get(Contract, contract_id) if contract_id else None
    if contract is None:
        raise LookupError(f"inspection schedule {d.schedule_id} names no known contract")
    when = d.occurrence_at.strftime("%Y-%m-%d")
    await tickets.create_idempotent_by_ref(
        session,
        TicketCreate(
            subject=(d.payload or {}).get("subject") or f"Periodic inspection {when}",
            description=(d.payload or {}).get("description")
            or f"Scheduled inspection under contract {contract.number}.",
            severity=4,
            kind="inspection",
            channel="other",
            contract_id=contract.id,
            on_site_required=True,
            join_duplicates=False,
        ),
        actor=SYSTEM,
        external_ref=f"schedule:{d.schedule_id}:{d.occurrence_at.isoformat()}",
    )


async def on_survey_answered(session: AsyncSession, event: events.SurveyAnswered) -> None:
    """A score of 2 or less opens a complaint linked to the ticket (DOMAIN.md, handling 8 and 9)."""
    d = event.data
    if d.score > 2:
        return
    ticket = await session.get(Ticket, d.ticket_id)
    if ticket is None:
        raise LookupError(f"ticket {d.ticket_id} not found")
    await tickets.create_idempotent_by_ref(
        session,
        TicketCreate(
            subject=f"Dissatisfied with {tickets.reference(ticket.number)}: score {d.score}/5",
            description=d.comment or "The customer rated the service poorly in the callback.",
            severity=2,
            kind="complaint",
            channel="phone" if d.channel == "phone" else "other",
            organization_id=ticket.organization_id,
            contact_id=d.contact_id if d.contact_id else ticket.contact_id,
            complaint_about_id=ticket.id,
            join_duplicates=False,
        ),
        actor=SYSTEM,
        external_ref=f"survey:{d.survey_id}",
    )


HANDLERS: dict[type, Handler] = {
    events.TicketAssigned: on_ticket_assigned,
    events.TicketUnassigned: on_ticket_unassigned,
    events.TicketAcknowledged: on_ticket_acknowledged,
    events.TicketEscalated: on_ticket_escalated,
    events.SlaWarning: on_sla_warning,
    events.SlaBreached: on_sla_breached,
    events.SlaObservationElapsed: on_sla_observation_elapsed,
    events.ScheduleDue: on_schedule_due,
    events.SurveyAnswered: on_survey_answered,
}
