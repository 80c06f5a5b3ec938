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

from shared import outbox
from shared.db import driver
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
            await driver(session)  # begins it, so that its rollback drops the events
        pending = session.info[_PENDING] = []
        sync = session.sync_session
        if not sa_event.contains(sync, "before_commit", _before_commit):
            sa_event.listen(sync, "before_commit", _before_commit)
            # Every rollback, also of a transaction that has not reached the database yet.
            # (Dispatch takes no savepoints through the session, whose rollback would drop
            # the events of the whole transaction here.)
            sa_event.listen(sync, "after_soft_rollback", _drop)
    pending.append(event)


async def flush(session: AsyncSession) -> None:
    """Writes the pending events now."""
    pending: list[Event] | None = session.info.pop(_PENDING, None)
    if pending:
        await outbox.add_many(await driver(session), SCHEMA, pending)


def pending(session: AsyncSession) -> list[Event]:
    """The events not written yet (for tests)."""
    return list(session.info.get(_PENDING) or ())


def _before_commit(sync_session: Session) -> None:
    # Runs inside AsyncSession.commit's greenlet, where await_only reaches the event loop.
    events: list[Any] | None = sync_session.info.pop(_PENDING, None)
    if not events:
        return
    fairy = sync_session.connection().connection
    raw = fairy.dbapi_connection.driver_connection  # type: ignore[union-attr]
    await_only(outbox.add_many(raw, SCHEMA, events))


def _drop(sync_session: Session, *_: Any) -> None:
    sync_session.info.pop(_PENDING, None)
