"""add task orders and service records

Also the task order number sequence, and server defaults for the active flags of branches,
engineers and vendors (so bulk loads may leave them out).

Revision ID: ec5b76046fd4
Revises: 76a1511ae9fd
Create Date: 2026-11-22 00:25:57.398518
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ec5b76046fd4"
down_revision: str | None = "76a1511ae9fd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE_FLAGS = ("branch", "engineer", "vendor")


def upgrade() -> None:
    op.execute("CREATE SEQUENCE dispatch.workorder_number_seq")
    for table in ACTIVE_FLAGS:
        op.alter_column(table, "active", server_default=sa.true(), schema="dispatch")
    op.create_table(
        "workorder",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("product", sa.Text(), nullable=True),
        sa.Column("site_address", sa.Text(), nullable=True),
        sa.Column("customer_name", sa.Text(), nullable=True),
        sa.Column("contract_number", sa.Text(), nullable=True),
        sa.Column("contact_name", sa.Text(), nullable=True),
        sa.Column("contact_phone", sa.Text(), nullable=True),
        sa.Column("contact_fax", sa.Text(), nullable=True),
        sa.Column("contact_email", sa.Text(), nullable=True),
        sa.Column("leader_engineer_id", sa.Uuid(), nullable=False),
        sa.Column("engineer_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["leader_engineer_id"],
            ["dispatch.engineer.id"],
            name=op.f("fk_workorder_leader_engineer_id_engineer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workorder")),
        sa.UniqueConstraint("number", name=op.f("uq_workorder_number")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_workorder_ticket_id"), "workorder", ["ticket_id"], unique=False, schema="dispatch"
    )
    op.create_table(
        "service_record",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workorder_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("engineer_id", sa.Uuid(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("serial", sa.Text(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("solved", sa.Boolean(), nullable=False),
        sa.Column("parts", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customer_opinion", sa.Text(), nullable=True),
        sa.Column("evaluation", sa.SmallInteger(), nullable=True),
        sa.Column("signed_by_name", sa.Text(), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.Text(), nullable=True),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "method IN ('on_site', 'remote', 'consultation', 'other')",
            name=op.f("ck_service_record_method_known"),
        ),
        sa.CheckConstraint(
            "evaluation BETWEEN 1 AND 5", name=op.f("ck_service_record_evaluation_range")
        ),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["dispatch.engineer.id"],
            name=op.f("fk_service_record_engineer_id_engineer"),
        ),
        sa.ForeignKeyConstraint(
            ["workorder_id"],
            ["dispatch.workorder.id"],
            name=op.f("fk_service_record_workorder_id_workorder"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_record")),
        sa.UniqueConstraint("workorder_id", name=op.f("uq_service_record_workorder_id")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_service_record_engineer_id"),
        "service_record",
        ["engineer_id"],
        unique=False,
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_service_record_signed_at"),
        "service_record",
        ["signed_at"],
        unique=False,
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_service_record_ticket_id"),
        "service_record",
        ["ticket_id"],
        unique=False,
        schema="dispatch",
    )
    op.create_table(
        "work_log_entry",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("service_record_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["service_record_id"],
            ["dispatch.service_record.id"],
            name=op.f("fk_work_log_entry_service_record_id_service_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_log_entry")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_work_log_entry_service_record_id"),
        "work_log_entry",
        ["service_record_id"],
        unique=False,
        schema="dispatch",
    )
    op.create_foreign_key(
        op.f("fk_visit_workorder_id_workorder"),
        "visit",
        "workorder",
        ["workorder_id"],
        ["id"],
        source_schema="dispatch",
        referent_schema="dispatch",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_visit_workorder_id_workorder"), "visit", schema="dispatch", type_="foreignkey"
    )
    op.drop_index(
        op.f("ix_work_log_entry_service_record_id"), table_name="work_log_entry", schema="dispatch"
    )
    op.drop_table("work_log_entry", schema="dispatch")
    op.drop_index(
        op.f("ix_service_record_ticket_id"), table_name="service_record", schema="dispatch"
    )
    op.drop_index(
        op.f("ix_service_record_signed_at"), table_name="service_record", schema="dispatch"
    )
    op.drop_index(
        op.f("ix_service_record_engineer_id"), table_name="service_record", schema="dispatch"
    )
    op.drop_table("service_record", schema="dispatch")
    op.drop_index(op.f("ix_workorder_ticket_id"), table_name="workorder", schema="dispatch")
    op.drop_table("workorder", schema="dispatch")
    for table in ACTIVE_FLAGS:
        op.alter_column(table, "active", server_default=None, schema="dispatch")
    op.execute("DROP SEQUENCE dispatch.workorder_number_seq")
