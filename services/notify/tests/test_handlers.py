"""notify projects ticket.created: who must hear about the ticket, in which language."""

from datetime import UTC, datetime

from sqlalchemy import text

from notify.handlers import on_ticket_created
from shared import events, inbox
from shared.ids import new_id


def created(language: str | None = "zh-CN") -> events.TicketCreated:
    ticket_id = new_id()
    return events.TicketCreated(
        subject=ticket_id,
        seq=1,
        data=events.TicketCreatedData(
            ticket_id=ticket_id,
            ticket_number=100777,
            severity=1,
            channel="phone",
            organization_id=new_id(),
            contact_id=new_id(),
            language=language,
            subject="核心交换机宕机",
            created_at=datetime.now(UTC),
        ),
    )


async def handle(app, event) -> None:
    async with app.state.sessionmaker() as session:
        if await inbox.claim(session, event):
            await on_ticket_created(session, event)
        await session.commit()


async def test_contact_language_and_channel_are_projected(app):
    event = created()

    await handle(app, event)

    async with app.state.sessionmaker() as session:
        row = (
            await session.execute(
                text(
                    "SELECT number, subject, contact_id, language, channel FROM ticket "
                    "WHERE id = :id"
                ),
                {"id": event.subject},
            )
        ).one()
    assert tuple(row) == (100777, "核心交换机宕机", event.data.contact_id, "zh-CN", "phone")


async def test_a_redelivered_event_leaves_one_row(app):
    event = created(language=None)

    await handle(app, event)
    await handle(app, event)

    async with app.state.sessionmaker() as session:
        n = (
            await session.execute(
                text("SELECT count(*) FROM ticket WHERE id = :id"), {"id": event.subject}
            )
        ).scalar_one()
    assert n == 1
