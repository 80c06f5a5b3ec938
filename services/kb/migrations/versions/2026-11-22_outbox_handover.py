"""outbox rows handed over to the writing process's relay

Revision ID: 97f1ca8aea86
Revises: ae957a4e55af
Create Date: 2026-11-22 07:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

from shared import outbox

revision: str = "97f1ca8aea86"
down_revision: str | None = "ae957a4e55af"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in outbox.add_handoff_sql("kb"):
        op.execute(statement)


def downgrade() -> None:
    for statement in outbox.drop_handoff_sql("kb"):
        op.execute(statement)
