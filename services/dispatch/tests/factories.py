"""Small factories for dispatch's tests: unique names per call, created through the API.

The whole suite shares one database, so every test routes in regions of its own
(``unique("CN")``); a branch covering ``*`` would take part in every other test's routing.
"""

import uuid
from datetime import UTC, datetime

from shared import events
from shared.ids import new_id

MANAGER = {"role": "manager", "sub": "mgr-test"}
ALL_WEEK = [1, 2, 3, 4, 5, 6, 7]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def new_branch(client, auth, **overrides) -> dict:
    body = {
        "code": unique("BR"),
        "name": unique("Branch"),
        "tier": 1,
        "regions": [unique("R")],
        "time_zone": "Asia/Shanghai",
    }
    body.update(overrides)
    response = await client.post("/v1/branches", json=body, headers=auth(**MANAGER))
    assert response.status_code == 201, response.text
    return response.json()


async def new_engineer(client, auth, branch: dict, *, shift: bool = True, **overrides) -> dict:
    """An engineer of ``branch``; with ``shift`` on duty around the clock, every day."""
    body = {
        "user_id": unique("eng"),
        "name": unique("Engineer"),
        "branch_id": branch["id"],
        "skills": [],
        "max_open": 5,
    }
    body.update(overrides)
    response = await client.post("/v1/engineers", json=body, headers=auth(**MANAGER))
    assert response.status_code == 201, response.text
    engineer = response.json()
    if shift:
        await new_shift(client, auth, engineer, weekdays=ALL_WEEK, starts="00:00", ends="00:00")
    return engineer


async def new_shift(client, auth, engineer: dict, **overrides) -> dict:
    body = {"engineer_id": engineer["id"], "weekdays": [1, 2, 3, 4, 5]}
    body |= {"starts": "08:30", "ends": "17:00"}
    body.update(overrides)
    response = await client.post("/v1/shifts", json=body, headers=auth(**MANAGER))
    assert response.status_code == 201, response.text
    return response.json()


def ticket_created(*, region: str | None, seq: int = 1, **data) -> events.TicketCreated:
    ticket_id = data.pop("ticket_id", None) or new_id()
    fields = {
        "ticket_id": ticket_id,
        "ticket_number": 100001,
        "severity": 2,
        "organization_id": new_id(),
        "organization_name": "Shanghai Metro",
        "subject": "Core switch down",
        "region": region,
        "created_at": datetime.now(UTC),
    }
    fields.update(data)
    return events.TicketCreated(subject=ticket_id, seq=seq, data=events.TicketCreatedData(**fields))


async def deliver(app, *evts: events.Event) -> None:
    """Handles events the way the consumer does (inbox claim, handler, commit), without the
    broker: for tests about what handlers decide rather than about transport."""
    from dispatch.handlers import HANDLERS
    from shared import inbox

    for event in evts:
        async with app.state.sessionmaker() as session:
            if await inbox.claim(session, event):
                await HANDLERS[type(event)](session, event)
            await session.commit()


async def deliver_batch(app, *evts: events.Event) -> None:
    """Handles events as the consumer handles a batch: one transaction, one inbox claim for
    all, the handlers in order, runs of a prepared handler prepared once."""
    from dispatch.handlers import HANDLERS
    from shared import inbox
    from shared.bus import handle_claimed, handler_transaction

    handlers = [HANDLERS[type(e)] for e in evts]
    async with handler_transaction(app.state.sessionmaker, handlers) as session:
        firsts = await inbox.claim_many(session, list(evts))
        await handle_claimed(
            session,
            [(None, e, h) for e, h, first in zip(evts, handlers, firsts, strict=True) if first],
        )


async def outbox_events(app, ticket_id) -> list[dict]:
    """The events dispatch wrote about a ticket, in order."""
    from sqlalchemy import text

    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            text("SELECT payload FROM outbox WHERE subject = :id ORDER BY position"),
            {"id": ticket_id},
        )
        return [r.payload for r in rows]


async def assignments_of(client, auth, ticket_id, **params) -> list[dict]:
    response = await client.get(
        "/v1/assignments", params={"ticket_id": str(ticket_id), **params}, headers=auth()
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


def status_event(cls, ticket_id, seq: int, **data):
    """An intake status event (resolved, reopened, closed ...) with the fields it needs."""
    now = datetime.now(UTC)
    base = {"ticket_id": ticket_id, "ticket_number": 100001, "severity": 2, "kind": "fault"}
    defaults = {
        events.TicketResolved: {"resolution": "Replaced the PSU", "resolved_at": now},
        events.TicketReopened: {"reason": "recurrence", "reopen_count": 1, "reopened_at": now},
        events.TicketClosed: {"reason": "customer_confirmed", "closed_at": now},
        events.TicketStatusChanged: {"changed_at": now},
    }[cls]
    data_cls = cls.model_fields["data"].annotation
    return cls(subject=ticket_id, seq=seq, data=data_cls(**{**base, **defaults, **data}))


def sla_event(cls, ticket_id, timer_kind: str = "response", **data):
    now = datetime.now(UTC)
    fields = {
        "timer_id": data.pop("timer_id", None) or new_id(),
        "timer_kind": timer_kind,
        "ticket_id": ticket_id,
        "ticket_number": 100001,
        "due_at": now,
        "target_seconds": 3600,
        "severity": 2,
        "kind": "fault",
        "organization_id": new_id(),
        "policy_key": "gold",
    }
    if cls is events.SlaWarning:
        fields["threshold"] = 0.75
    else:
        fields["breached_at"] = now
    fields.update(data)
    data_cls = cls.model_fields["data"].annotation
    return cls(subject=ticket_id, seq=1, data=data_cls(**fields))
