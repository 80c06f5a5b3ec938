"""outbox rows handed over to the writing process's relay

Revision ID: 8c7b1e3096fe
Revises: 86c0c89b7d31
Create Date: 2026-11-22 07:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

from shared import outbox

revision: str = "8c7b1e3096fe"
down_revision: str | None = "86c0c89b7d31"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in outbox.add_handoff_sql("intake"):
        op.execute(statement)


def downgrade() -> None:
    for statement in outbox.drop_handoff_sql("intake"):
        op.execute(statement)
