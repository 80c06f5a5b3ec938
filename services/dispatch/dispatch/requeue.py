"""The queue re-evaluation: a worker loop that tries again to assign tickets waiting in
branch queues (issue 5: on shift start, on assignment close, and periodically).

It wakes on ``NOTIFY aftercare_dispatch_requeue`` (an assignment ended, the roster changed),
when the next shift or on-call slot starts, or after ``requeue_seconds`` at the latest. A pass
takes the queued tickets most severe and longest waiting first. A dry run finds those nobody
can take as things stand, which are only marked evaluated; each of the others is re-routed
in its own transaction under the ticket's lock (``pg_try_advisory_xact_lock``: a ticket
another worker or a handler holds is skipped, it is being dealt with). Any number of workers
may run passes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch import assignments, duty, roster, tickets
from dispatch.assignments import Cause
from dispatch.models import REQUEUE_CHANNEL
from dispatch.settings import Settings

log = logging.getLogger("aftercare.dispatch.requeue")

# Wake-ups closer together than this are merged into one pass.
SETTLE_SECONDS = 0.2


async def requeue_worker(app: FastAPI) -> None:
    """The worker loop (started by create_service_app in the worker role)."""
    settings: Settings = app.state.settings
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    wake = asyncio.Event()
    wake.set()
    conn = await asyncpg.connect(
        settings.libpq_database_url(),
        server_settings={"application_name": "aftercare-dispatch-requeue"},
    )
    try:
        await conn.add_listener(REQUEUE_CHANNEL, lambda *_: wake.set())
        while True:
            timeout = await _until_next(sessionmaker, settings.requeue_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)
            await asyncio.sleep(SETTLE_SECONDS)
            wake.clear()
            if conn.is_closed():
                raise ConnectionError("requeue listener connection closed")
            assigned = await evaluate(sessionmaker, batch=settings.requeue_batch)
            if assigned:
                log.info("re-evaluation assigned %d queued ticket(s)", assigned)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), 2)


async def _until_next(sessionmaker: async_sessionmaker[AsyncSession], period: float) -> float:
    """Seconds until the next shift or on-call start, capped at ``period``."""
    async with sessionmaker() as session:
        snapshot = await roster.current(session)
    now = datetime.now(UTC)
    upcoming = duty.next_duty_start(snapshot.schedules.values(), now)
    if upcoming is None or upcoming - now > timedelta(seconds=period):
        return period
    return max((upcoming - now).total_seconds() + 0.5, SETTLE_SECONDS)


async def evaluate(sessionmaker: async_sessionmaker[AsyncSession], *, batch: int) -> int:
    """One pass over the queued tickets; returns how many were assigned.

    A dry run over them all first (assignments.left_waiting: three statements) finds the ones
    nobody can take as things stand; those are only marked evaluated, together. The others
    are re-routed one by one under their locks, where the decision that counts is made."""
    async with sessionmaker() as session:
        waiting = await tickets.queued(session, limit=batch)
        settled = await assignments.left_waiting(session, waiting)
        if settled:
            await tickets.touch_many(session, sorted(settled))
        await session.commit()
    assigned = 0
    for ticket in waiting:
        if ticket.id in settled:
            continue
        try:
            assigned += await _one(sessionmaker, ticket.id)
        except Exception as exc:  # one bad ticket must not stop the pass
            log.warning("re-evaluating ticket %s failed: %s", ticket.id, _short(exc))
    return assigned


async def _one(sessionmaker: async_sessionmaker[AsyncSession], ticket_id: Any) -> int:
    async with sessionmaker() as session:
        if not await tickets.try_lock(session, ticket_id):
            return 0
        ticket = await tickets.load(session, ticket_id)
        if ticket is None or ticket.queued_at is None or not tickets.routable(ticket):
            return 0
        if await assignments.active_primary(session, ticket_id) is not None:
            await tickets.set_queue(session, ticket_id, None, queued=False)
            await session.commit()
            return 0
        row = await assignments.route(
            session,
            ticket,
            trigger="requeue",
            cause=Cause(),
            previous_engineer_id=await assignments.previous_engineer(session, ticket_id),
            exclude=await assignments.refusals(session, ticket_id),
        )
        await session.commit()
        return 1 if row is not None else 0


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
