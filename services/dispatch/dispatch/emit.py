"""Dispatch's events into the outbox, written once per transaction.

The consumer handles a batch of deliveries in one transaction, and routing a ticket emits one
event: written one by one, every decision would pay a statement of its own. ``emit`` keeps the
transaction's events in order and writes them all in one statement (``outbox.add_many``) just
before the session commits; a rolled-back transaction drops them with everything else.

An event emitted while a ``traceparent`` is current (a traced request or delivery) is written
at once with that header by ``outbox.add``, after the events still pending, so the outbox order
is always the order of ``emit`` calls.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

from dispatch.sql import driver
from shared import outbox
from shared.events import Event
from shared.logging import current_traceparent

SCHEMA = "dispatch"
_PENDING = "dispatch.pending_events"


async def emit(session: AsyncSession, event: Event) -> None:
    """Adds ``event`` to the outbox in the session's transaction (see the module's notes)."""
    if current_traceparent() is not None:
        await flush(session)
        await outbox.add(session, event)
        return
    pending: list[Event] | None = session.info.get(_PENDING)
    if pending is None:
        if not session.in_transaction():
            await driver(session)  # begins it, so that its end drops what was not written
        pending = session.info[_PENDING] = []
    pending.append(event)


async def flush(session: AsyncSession) -> None:
    """Writes the pending events now."""
    pending: list[Event] | None = session.info.pop(_PENDING, None)
    if pending:
        leased = await outbox.add_many(await driver(session), SCHEMA, pending)
        outbox.hand_over_on_commit(session, leased)


def pending(session: AsyncSession) -> list[Event]:
    """The events not written yet (for tests)."""
    return list(session.info.get(_PENDING) or ())


# Listeners on every session of the process (dispatch's are the only ones in a dispatch
# process; a session without pending events costs them a dict lookup).


@sa_event.listens_for(Session, "before_commit")
def _before_commit(sync_session: Session) -> None:
    # Runs inside AsyncSession.commit's greenlet, where await_only reaches the event loop.
    events: list[Any] | None = sync_session.info.pop(_PENDING, None)
    if not events:
        return
    fairy = sync_session.connection().connection
    raw = fairy.dbapi_connection.driver_connection  # type: ignore[union-attr]
    leased = await_only(outbox.add_many(raw, SCHEMA, events))
    outbox.hand_over_on_commit(sync_session, leased)  # type: ignore[arg-type]


@sa_event.listens_for(Session, "after_transaction_end")
def _drop(sync_session: Session, *_: Any) -> None:
    # Committed (written just before) or rolled back: nothing of it is pending any more.
    # (Dispatch takes no savepoints through the session, whose end would drop the events of
    # the whole transaction here.)
    sync_session.info.pop(_PENDING, None)
