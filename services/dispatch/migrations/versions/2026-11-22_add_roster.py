"""add roster: branches, engineers, shifts, on-call, vendors

Also widens the ticket projection (what routing, task orders and reports need, and stub rows
for events that arrive before ticket.created), and adds the roster version trigger: any change
to branches, engineers, shifts, exceptions or on-call bumps roster_state.version (workers cache
the roster until it moves) and wakes the queue re-evaluation with a NOTIFY.

Revision ID: 71bfee365be7
Revises: 25cdf20a53a0
Create Date: 2026-11-22 00:14:43.183953
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "71bfee365be7"
down_revision: str | None = "25cdf20a53a0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROSTER_TABLES = ("branch", "engineer", "shift", "shift_exception", "oncall")
ROSTER_CHANGED = """
CREATE OR REPLACE FUNCTION dispatch.roster_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE dispatch.roster_state SET version = version + 1 WHERE id = 1;
    PERFORM pg_notify('aftercare_dispatch_requeue', 'roster');
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "branch",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tier", sa.SmallInteger(), nullable=False),
        sa.Column("regions", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("time_zone", sa.Text(), server_default="Asia/Shanghai", nullable=False),
        sa.Column("manager_user_id", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
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
        sa.CheckConstraint("tier IN (1, 2)", name=op.f("ck_branch_tier_1_or_2")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_branch")),
        sa.UniqueConstraint("code", name=op.f("uq_branch_code")),
        schema="dispatch",
    )
    op.create_table(
        "idempotency_key",
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("actor", "key", name=op.f("pk_idempotency_key")),
        schema="dispatch",
    )
    op.create_table(
        "roster_state",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_roster_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_state")),
        schema="dispatch",
    )
    op.create_table(
        "vendor",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("products", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("contact_name", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("escalation_channel", sa.Text(), server_default="phone", nullable=False),
        sa.Column("escalation_address", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor")),
        sa.UniqueConstraint("name", name=op.f("uq_vendor_name")),
        schema="dispatch",
    )
    op.create_table(
        "engineer",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("branch_id", sa.Uuid(), nullable=False),
        sa.Column("tier", sa.SmallInteger(), nullable=False),
        sa.Column("skills", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("languages", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("max_open", sa.Integer(), server_default="5", nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
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
        sa.CheckConstraint("max_open >= 0", name=op.f("ck_engineer_max_open_not_negative")),
        sa.CheckConstraint("tier IN (1, 2)", name=op.f("ck_engineer_tier_1_or_2")),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["dispatch.branch.id"], name=op.f("fk_engineer_branch_id_branch")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engineer")),
        sa.UniqueConstraint("user_id", name=op.f("uq_engineer_user_id")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_engineer_branch_id"), "engineer", ["branch_id"], unique=False, schema="dispatch"
    )
    op.create_table(
        "engineer_load",
        sa.Column("engineer_id", sa.Uuid(), nullable=False),
        sa.Column("open_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "open_count >= 0", name=op.f("ck_engineer_load_open_count_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["dispatch.engineer.id"],
            name=op.f("fk_engineer_load_engineer_id_engineer"),
        ),
        sa.PrimaryKeyConstraint("engineer_id", name=op.f("pk_engineer_load")),
        schema="dispatch",
    )
    op.create_table(
        "oncall",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("branch_id", sa.Uuid(), nullable=False),
        sa.Column("engineer_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
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
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_oncall_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["dispatch.branch.id"], name=op.f("fk_oncall_branch_id_branch")
        ),
        sa.ForeignKeyConstraint(
            ["engineer_id"], ["dispatch.engineer.id"], name=op.f("fk_oncall_engineer_id_engineer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_oncall_branch_id"), "oncall", ["branch_id"], unique=False, schema="dispatch"
    )
    op.create_index(
        op.f("ix_oncall_ends_at"), "oncall", ["ends_at"], unique=False, schema="dispatch"
    )
    op.create_index(
        op.f("ix_oncall_engineer_id"), "oncall", ["engineer_id"], unique=False, schema="dispatch"
    )
    op.create_table(
        "shift",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("engineer_id", sa.Uuid(), nullable=False),
        sa.Column("weekdays", postgresql.ARRAY(sa.SmallInteger()), nullable=False),
        sa.Column("starts", sa.Time(), nullable=False),
        sa.Column("ends", sa.Time(), nullable=False),
        sa.Column("time_zone", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
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
            ["engineer_id"], ["dispatch.engineer.id"], name=op.f("fk_shift_engineer_id_engineer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_shift_engineer_id"), "shift", ["engineer_id"], unique=False, schema="dispatch"
    )
    op.create_table(
        "shift_exception",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("engineer_id", sa.Uuid(), nullable=True),
        sa.Column("branch_id", sa.Uuid(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
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
            "(kind = 'closure' AND branch_id IS NOT NULL AND engineer_id IS NULL) OR "
            "(kind IN ('leave', 'extra_duty') AND engineer_id IS NOT NULL AND branch_id IS NULL)",
            name=op.f("ck_shift_exception_scope_matches_kind"),
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_shift_exception_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["dispatch.branch.id"], name=op.f("fk_shift_exception_branch_id_branch")
        ),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["dispatch.engineer.id"],
            name=op.f("fk_shift_exception_engineer_id_engineer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_exception")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_shift_exception_branch_id"),
        "shift_exception",
        ["branch_id"],
        unique=False,
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_shift_exception_ends_at"),
        "shift_exception",
        ["ends_at"],
        unique=False,
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_shift_exception_engineer_id"),
        "shift_exception",
        ["engineer_id"],
        unique=False,
        schema="dispatch",
    )
    op.add_column("ticket", sa.Column("number", sa.BigInteger(), nullable=True), schema="dispatch")
    op.add_column(
        "ticket", sa.Column("organization_name", sa.Text(), nullable=True), schema="dispatch"
    )
    op.add_column("ticket", sa.Column("subject", sa.Text(), nullable=True), schema="dispatch")
    op.add_column("ticket", sa.Column("category", sa.Text(), nullable=True), schema="dispatch")
    op.add_column("ticket", sa.Column("serial", sa.Text(), nullable=True), schema="dispatch")
    op.add_column("ticket", sa.Column("language", sa.Text(), nullable=True), schema="dispatch")
    op.add_column("ticket", sa.Column("site_address", sa.Text(), nullable=True), schema="dispatch")
    op.add_column(
        "ticket", sa.Column("contract_number", sa.Text(), nullable=True), schema="dispatch"
    )
    op.add_column("ticket", sa.Column("contact_name", sa.Text(), nullable=True), schema="dispatch")
    op.add_column("ticket", sa.Column("contact_phone", sa.Text(), nullable=True), schema="dispatch")
    op.add_column("ticket", sa.Column("contact_email", sa.Text(), nullable=True), schema="dispatch")
    op.add_column(
        "ticket",
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        schema="dispatch",
    )
    op.add_column(
        "ticket",
        sa.Column("details_seq", sa.BigInteger(), server_default="0", nullable=False),
        schema="dispatch",
    )
    op.add_column(
        "ticket",
        sa.Column("status", sa.Text(), server_default="new", nullable=False),
        schema="dispatch",
    )
    op.add_column(
        "ticket",
        sa.Column("status_seq", sa.BigInteger(), server_default="0", nullable=False),
        schema="dispatch",
    )
    op.add_column(
        "ticket",
        sa.Column("tier", sa.SmallInteger(), server_default="1", nullable=False),
        schema="dispatch",
    )
    op.add_column(
        "ticket", sa.Column("queue_branch_id", sa.Uuid(), nullable=True), schema="dispatch"
    )
    op.add_column(
        "ticket",
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        schema="dispatch",
    )
    op.add_column(
        "ticket",
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=True),
        schema="dispatch",
    )
    op.alter_column(
        "ticket", "organization_id", existing_type=sa.UUID(), nullable=True, schema="dispatch"
    )
    op.alter_column("ticket", "kind", server_default="fault", schema="dispatch")
    op.alter_column("ticket", "severity", server_default="3", schema="dispatch")
    op.alter_column("ticket", "coverage", server_default="24x7", schema="dispatch")
    op.execute("INSERT INTO dispatch.roster_state (id, version) VALUES (1, 1)")
    op.execute(ROSTER_CHANGED)
    for table in ROSTER_TABLES:
        op.execute(
            f"CREATE TRIGGER roster_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON dispatch.{table} FOR EACH STATEMENT EXECUTE FUNCTION dispatch.roster_changed()"
        )


def downgrade() -> None:
    for table in ROSTER_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS roster_changed ON dispatch.{table}")
    op.execute("DROP FUNCTION IF EXISTS dispatch.roster_changed()")
    op.alter_column("ticket", "kind", server_default=None, schema="dispatch")
    op.alter_column("ticket", "severity", server_default=None, schema="dispatch")
    op.alter_column("ticket", "coverage", server_default=None, schema="dispatch")
    op.execute("DELETE FROM dispatch.ticket WHERE organization_id IS NULL")
    op.alter_column(
        "ticket", "organization_id", existing_type=sa.UUID(), nullable=False, schema="dispatch"
    )
    op.drop_column("ticket", "evaluated_at", schema="dispatch")
    op.drop_column("ticket", "queued_at", schema="dispatch")
    op.drop_column("ticket", "queue_branch_id", schema="dispatch")
    op.drop_column("ticket", "tier", schema="dispatch")
    op.drop_column("ticket", "status_seq", schema="dispatch")
    op.drop_column("ticket", "status", schema="dispatch")
    op.drop_column("ticket", "details_seq", schema="dispatch")
    op.drop_column("ticket", "reported_at", schema="dispatch")
    op.drop_column("ticket", "contact_email", schema="dispatch")
    op.drop_column("ticket", "contact_phone", schema="dispatch")
    op.drop_column("ticket", "contact_name", schema="dispatch")
    op.drop_column("ticket", "contract_number", schema="dispatch")
    op.drop_column("ticket", "site_address", schema="dispatch")
    op.drop_column("ticket", "language", schema="dispatch")
    op.drop_column("ticket", "serial", schema="dispatch")
    op.drop_column("ticket", "category", schema="dispatch")
    op.drop_column("ticket", "subject", schema="dispatch")
    op.drop_column("ticket", "organization_name", schema="dispatch")
    op.drop_column("ticket", "number", schema="dispatch")
    op.drop_index(
        op.f("ix_shift_exception_engineer_id"), table_name="shift_exception", schema="dispatch"
    )
    op.drop_index(
        op.f("ix_shift_exception_ends_at"), table_name="shift_exception", schema="dispatch"
    )
    op.drop_index(
        op.f("ix_shift_exception_branch_id"), table_name="shift_exception", schema="dispatch"
    )
    op.drop_table("shift_exception", schema="dispatch")
    op.drop_index(op.f("ix_shift_engineer_id"), table_name="shift", schema="dispatch")
    op.drop_table("shift", schema="dispatch")
    op.drop_index(op.f("ix_oncall_engineer_id"), table_name="oncall", schema="dispatch")
    op.drop_index(op.f("ix_oncall_ends_at"), table_name="oncall", schema="dispatch")
    op.drop_index(op.f("ix_oncall_branch_id"), table_name="oncall", schema="dispatch")
    op.drop_table("oncall", schema="dispatch")
    op.drop_table("engineer_load", schema="dispatch")
    op.drop_index(op.f("ix_engineer_branch_id"), table_name="engineer", schema="dispatch")
    op.drop_table("engineer", schema="dispatch")
    op.drop_table("vendor", schema="dispatch")
    op.drop_table("roster_state", schema="dispatch")
    op.drop_table("idempotency_key", schema="dispatch")
    op.drop_table("branch", schema="dispatch")
