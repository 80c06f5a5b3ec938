"""/v1/sla/tickets: a ticket's clocks and how their deadlines were computed."""

import uuid

from fastapi import APIRouter

from sla_timer import timers
from sla_timer.api.deps import ActorDep, SessionDep, SettingsDep
from sla_timer.schemas import TicketSlaRead

router = APIRouter(prefix="/sla/tickets", tags=["clocks"])


@router.get(
    "/{ticket_id}", response_model=TicketSlaRead, responses={404: {"description": "Unknown"}}
)
async def get_ticket_clocks(
    ticket_id: uuid.UUID, session: SessionDep, actor: ActorDep, settings: SettingsDep
):
    """Every clock of a ticket: target, due time, state, time used and paused, and why."""
    return await timers.read_ticket(session, ticket_id, actor=actor, settings=settings)
