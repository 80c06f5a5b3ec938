"""outbox rows handed over to the writing process's relay

Revision ID: 0e457edab17f
Revises: ec5b76046fd4
Create Date: 2026-11-22 07:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

from shared import outbox

revision: str = "0e457edab17f"
down_revision: str | None = "ec5b76046fd4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in outbox.add_handoff_sql("dispatch"):
        op.execute(statement)


def downgrade() -> None:
    for statement in outbox.drop_handoff_sql("dispatch"):
        op.execute(statement)
