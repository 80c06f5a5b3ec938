"""kb projects ticket.created: the text it will search and learn from."""

from datetime import UTC, datetime

from sqlalchemy import text

from kb.handlers import on_ticket_created
from shared import events, inbox
from shared.ids import new_id


async def test_ticket_text_product_and_category_are_projected_once(app):
    ticket_id = new_id()
    event = events.TicketCreated(
        subject=ticket_id,
        seq=1,
        data=events.TicketCreatedData(
            ticket_id=ticket_id,
            ticket_number=100888,
            kind="fault",
            severity=2,
            organization_id=new_id(),
            subject="RAID controller reports a degraded array",
            description="Disk 3 failed after a power cut.",
            product="PowerEdge R750",
            category="hardware",
            created_at=datetime.now(UTC),
        ),
    )

    for _ in range(2):
        async with app.state.sessionmaker() as session:
            if await inbox.claim(session, event):
                await on_ticket_created(session, event)
            await session.commit()

    async with app.state.sessionmaker() as session:
        rows = (
            await session.execute(
                text("SELECT subject, description, product, category FROM ticket WHERE id = :id"),
                {"id": ticket_id},
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (
            "RAID controller reports a degraded array",
            "Disk 3 failed after a power cut.",
            "PowerEdge R750",
            "hardware",
        )
    ]
