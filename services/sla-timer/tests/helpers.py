"""Delivering events the way shared.bus.Consumer does, and reading what came of them."""

from __future__ import annotations

from sqlalchemy import text

from shared import events, inbox
from shared.bus import handler_transaction
from sla_timer.handlers import HANDLERS


async def deliver(app, event: events.Event) -> bool:
    """Inbox claim, handler and commit in one transaction, as the consumer does (straight on
    asyncpg, sla-timer's handlers being driver-only)."""
    handler = HANDLERS[type(event)]
    async with handler_transaction(app.state.sessionmaker, [handler]) as session:
        first = await inbox.claim(session, event)
        if first:
            await handler(session, event)
    return first


async def timers_of(app, ticket_id) -> dict:
    async with app.state.sessionmaker() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT kind, round, state, outcome, due_at, stopped_at, target_seconds, "
                    "segments, pauses, breach_at, fire_plan FROM timer WHERE ticket_id = :t"
                ),
                {"t": ticket_id},
            )
        ).mappings()
        return {(r["kind"], r["round"]): dict(r) for r in rows}


async def emitted(app, ticket_id, type_: str | None = None) -> list[dict]:
    async with app.state.sessionmaker() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT type, payload FROM outbox WHERE subject = :t "
                    + ("AND type = :type " if type_ else "")
                    + "ORDER BY position"
                ),
                {"t": ticket_id, "type": type_},
            )
        ).all()
    return [{"type": r.type, **r.payload} for r in rows]
