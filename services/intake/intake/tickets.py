"""Use cases for the ticket aggregate. They write rows and outbox events; routes commit."""

import uuid

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.models import Ticket
from intake.schemas import TicketCreate
from shared import events, outbox
from shared.auth import Actor
from shared.http import NotFound
from shared.ids import new_id


class TicketNotFound(NotFound):
    type = "ticket-not-found"
    title = "Ticket not found"


def reference(number: int) -> str:
    return f"#{number}"


async def create(session: AsyncSession, body: TicketCreate, *, actor: Actor) -> Ticket:
    """Records a new ticket and its ``ticket.created`` event in the session's transaction."""
    row = (
        await session.execute(
            insert(Ticket)
            .values(
                id=new_id(),
                organization_id=body.organization_id,
                subject=body.subject,
                description=body.description,
                kind=body.kind,
                channel=body.channel,
                severity=body.severity,
                created_by=actor.sub,
            )
            .returning(Ticket)
        )
    ).scalar_one()
    await outbox.add(
        session,
        events.TicketCreated(
            subject=row.id,
            data=events.TicketCreatedData(
                ticket_id=row.id,
                ticket_number=row.number,
                kind=row.kind,
                severity=row.severity,
                channel=row.channel,
                organization_id=row.organization_id,
                subject=row.subject,
                description=row.description,
                created_by=actor.sub,
                created_at=row.created_at,
            ),
        ),
    )
    return row


async def get(session: AsyncSession, ticket_id: uuid.UUID, *, actor: Actor) -> Ticket:
    """The ticket, if the actor may see it; another organisation's ticket is simply not found."""
    ticket = (
        await session.execute(select(Ticket).where(Ticket.id == ticket_id))
    ).scalar_one_or_none()
    if ticket is None or not actor.may_see_org(ticket.organization_id):
        raise TicketNotFound(f"no ticket {ticket_id}")
    return ticket
