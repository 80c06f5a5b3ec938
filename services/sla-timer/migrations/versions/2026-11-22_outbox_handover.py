"""outbox rows handed over to the writing process's relay

Revision ID: ee665cf09587
Revises: 9d41c7a2e5b8
Create Date: 2026-11-22 07:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

from shared import outbox

revision: str = "ee665cf09587"
down_revision: str | None = "9d41c7a2e5b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in outbox.add_handoff_sql("sla"):
        op.execute(statement)


def downgrade() -> None:
    for statement in outbox.drop_handoff_sql("sla"):
        op.execute(statement)
