"""outbox rows handed over to the writing process's relay

Revision ID: c4c0c8e8dcd9
Revises: 56efcb437110
Create Date: 2026-11-22 07:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

from shared import outbox

revision: str = "c4c0c8e8dcd9"
down_revision: str | None = "56efcb437110"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in outbox.add_handoff_sql("notify"):
        op.execute(statement)


def downgrade() -> None:
    for statement in outbox.drop_handoff_sql("notify"):
        op.execute(statement)
