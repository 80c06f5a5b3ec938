"""add assignments: routing decisions, assignments, reminders, escalations, vendor cases, visits

Revision ID: 76a1511ae9fd
Revises: 71bfee365be7
Create Date: 2026-11-22 00:19:49.878410
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "76a1511ae9fd"
down_revision: str | None = "71bfee365be7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reminder",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("assignment_id", sa.Uuid(), nullable=True),
        sa.Column("engineer_id", sa.Uuid(), nullable=True),
        sa.Column("timer_kind", sa.Text(), nullable=False),
        sa.Column("threshold", sa.Double(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_reminder_assignment_id"),
        "reminder",
        ["assignment_id"],
        unique=False,
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_reminder_ticket_id"), "reminder", ["ticket_id"], unique=False, schema="dispatch"
    )
    op.create_table(
        "routing_decision",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("tier", sa.SmallInteger(), nullable=False),
        sa.Column("engineer_id", sa.Uuid(), nullable=True),
        sa.Column("reason", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "decided_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_decision")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_routing_decision_ticket_id"),
        "routing_decision",
        ["ticket_id"],
        unique=False,
        schema="dispatch",
    )
    op.create_table(
        "vendor_case",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=True),
        sa.Column("vendor_case_ref", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("opened_by", sa.Text(), nullable=True),
        sa.Column(
            "opened_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["dispatch.vendor.id"], name=op.f("fk_vendor_case_vendor_id_vendor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor_case")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_vendor_case_ticket_id"),
        "vendor_case",
        ["ticket_id"],
        unique=False,
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_vendor_case_vendor_id"),
        "vendor_case",
        ["vendor_id"],
        unique=False,
        schema="dispatch",
    )
    op.create_table(
        "assignment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("engineer_id", sa.Uuid(), nullable=False),
        sa.Column("tier", sa.SmallInteger(), nullable=False),
        sa.Column("role", sa.Text(), server_default="primary", nullable=False),
        sa.Column("status", sa.Text(), server_default="assigned", nullable=False),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=True),
        sa.Column("decision_id", sa.Uuid(), nullable=True),
        sa.Column("assigned_by", sa.Text(), nullable=True),
        sa.Column("previous_engineer_id", sa.Uuid(), nullable=True),
        sa.Column(
            "assigned_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("end_detail", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("role IN ('primary', 'support')", name=op.f("ck_assignment_role_known")),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["dispatch.routing_decision.id"],
            name=op.f("fk_assignment_decision_id_routing_decision"),
        ),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["dispatch.engineer.id"],
            name=op.f("fk_assignment_engineer_id_engineer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment")),
        schema="dispatch",
    )
    op.create_index(
        "ix_assignment_engineer_active",
        "assignment",
        ["engineer_id"],
        unique=False,
        schema="dispatch",
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_index(
        "ix_assignment_engineer_id_assigned_at",
        "assignment",
        ["engineer_id", "assigned_at"],
        unique=False,
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_assignment_ticket_id"),
        "assignment",
        ["ticket_id"],
        unique=False,
        schema="dispatch",
    )
    op.create_index(
        "uq_assignment_active_primary",
        "assignment",
        ["ticket_id"],
        unique=True,
        schema="dispatch",
        postgresql_where=sa.text("ended_at IS NULL AND role = 'primary'"),
    )
    op.create_table(
        "escalation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("from_tier", sa.SmallInteger(), nullable=False),
        sa.Column("to_tier", sa.SmallInteger(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("timer_id", sa.Uuid(), nullable=True),
        sa.Column("from_assignment_id", sa.Uuid(), nullable=True),
        sa.Column("from_engineer_id", sa.Uuid(), nullable=True),
        sa.Column("vendor_case_id", sa.Uuid(), nullable=True),
        sa.Column("escalated_by", sa.Text(), nullable=True),
        sa.Column(
            "escalated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["vendor_case_id"],
            ["dispatch.vendor_case.id"],
            name=op.f("fk_escalation_vendor_case_id_vendor_case"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation")),
        sa.UniqueConstraint("ticket_id", "timer_id", name=op.f("uq_escalation_ticket_id_timer_id")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_escalation_from_engineer_id"),
        "escalation",
        ["from_engineer_id"],
        unique=False,
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_escalation_ticket_id"),
        "escalation",
        ["ticket_id"],
        unique=False,
        schema="dispatch",
    )
    op.create_table(
        "visit",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("assignment_id", sa.Uuid(), nullable=False),
        sa.Column("engineer_id", sa.Uuid(), nullable=False),
        sa.Column("workorder_id", sa.Uuid(), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["dispatch.assignment.id"],
            name=op.f("fk_visit_assignment_id_assignment"),
        ),
        sa.ForeignKeyConstraint(
            ["engineer_id"], ["dispatch.engineer.id"], name=op.f("fk_visit_engineer_id_engineer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_visit_assignment_id"), "visit", ["assignment_id"], unique=False, schema="dispatch"
    )
    op.create_index(
        op.f("ix_visit_engineer_id"), "visit", ["engineer_id"], unique=False, schema="dispatch"
    )
    op.create_index(
        op.f("ix_visit_ticket_id"), "visit", ["ticket_id"], unique=False, schema="dispatch"
    )
    op.add_column(
        "ticket",
        sa.Column(
            "field_seqs",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        schema="dispatch",
    )
    op.create_index(
        "ix_ticket_queued",
        "ticket",
        ["queued_at"],
        unique=False,
        schema="dispatch",
        postgresql_where=sa.text("queued_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_ticket_queued",
        table_name="ticket",
        schema="dispatch",
        postgresql_where=sa.text("queued_at IS NOT NULL"),
    )
    op.drop_column("ticket", "field_seqs", schema="dispatch")
    op.drop_index(op.f("ix_visit_ticket_id"), table_name="visit", schema="dispatch")
    op.drop_index(op.f("ix_visit_engineer_id"), table_name="visit", schema="dispatch")
    op.drop_index(op.f("ix_visit_assignment_id"), table_name="visit", schema="dispatch")
    op.drop_table("visit", schema="dispatch")
    op.drop_index(op.f("ix_escalation_ticket_id"), table_name="escalation", schema="dispatch")
    op.drop_index(
        op.f("ix_escalation_from_engineer_id"), table_name="escalation", schema="dispatch"
    )
    op.drop_table("escalation", schema="dispatch")
    op.drop_index(
        "uq_assignment_active_primary",
        table_name="assignment",
        schema="dispatch",
        postgresql_where=sa.text("ended_at IS NULL AND role = 'primary'"),
    )
    op.drop_index(op.f("ix_assignment_ticket_id"), table_name="assignment", schema="dispatch")
    op.drop_index(
        "ix_assignment_engineer_id_assigned_at", table_name="assignment", schema="dispatch"
    )
    op.drop_index(
        "ix_assignment_engineer_active",
        table_name="assignment",
        schema="dispatch",
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.drop_table("assignment", schema="dispatch")
    op.drop_index(op.f("ix_vendor_case_vendor_id"), table_name="vendor_case", schema="dispatch")
    op.drop_index(op.f("ix_vendor_case_ticket_id"), table_name="vendor_case", schema="dispatch")
    op.drop_table("vendor_case", schema="dispatch")
    op.drop_index(
        op.f("ix_routing_decision_ticket_id"), table_name="routing_decision", schema="dispatch"
    )
    op.drop_table("routing_decision", schema="dispatch")
    op.drop_index(op.f("ix_reminder_ticket_id"), table_name="reminder", schema="dispatch")
    op.drop_index(op.f("ix_reminder_assignment_id"), table_name="reminder", schema="dispatch")
    op.drop_table("reminder", schema="dispatch")
