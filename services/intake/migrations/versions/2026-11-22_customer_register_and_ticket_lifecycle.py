"""customer register and ticket lifecycle

Revision ID: 543d84799167
Revises: 1affe3063d37
Create Date: 2026-11-22 00:13:10.613725
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "543d84799167"
down_revision: str | None = "1affe3063d37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organization",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("region_code", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("language", sa.Text(), server_default="zh-CN", nullable=False),
        sa.Column("time_zone", sa.Text(), server_default="Asia/Shanghai", nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization")),
        schema="intake",
    )
    op.create_table(
        "contact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("preferred_language", sa.Text(), nullable=True),
        sa.Column("preferred_channel", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
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
            ["organization_id"],
            ["intake.organization.id"],
            name=op.f("fk_contact_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
        schema="intake",
    )
    op.create_index(
        op.f("ix_contact_organization_id"),
        "contact",
        ["organization_id"],
        unique=False,
        schema="intake",
    )
    op.create_table(
        "contract",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("coverage", sa.Text(), server_default="24x7", nullable=False),
        sa.Column("calendar_id", sa.Text(), nullable=True),
        sa.Column("policy_key", sa.Text(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("service_region", sa.Text(), nullable=True),
        sa.Column("on_site_included", sa.Boolean(), server_default="true", nullable=False),
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
            "coverage IN ('24x7', 'business_hours')", name=op.f("ck_contract_coverage_kind")
        ),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_contract_dates_ordered")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["intake.organization.id"],
            name=op.f("fk_contract_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract")),
        sa.UniqueConstraint("number", name=op.f("uq_contract_number")),
        schema="intake",
    )
    op.create_index(
        op.f("ix_contract_organization_id"),
        "contract",
        ["organization_id"],
        unique=False,
        schema="intake",
    )
    op.create_table(
        "asset",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("serial", sa.Text(), nullable=False),
        sa.Column("product", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("vendor", sa.Text(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("contract_id", sa.Uuid(), nullable=True),
        sa.Column("site_address", sa.Text(), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("install_date", sa.Date(), nullable=True),
        sa.Column("warranty_end_date", sa.Date(), nullable=True),
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
            ["contract_id"], ["intake.contract.id"], name=op.f("fk_asset_contract_id_contract")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["intake.organization.id"],
            name=op.f("fk_asset_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset")),
        sa.UniqueConstraint("serial", name=op.f("uq_asset_serial")),
        schema="intake",
    )
    op.create_index(
        op.f("ix_asset_organization_id"),
        "asset",
        ["organization_id"],
        unique=False,
        schema="intake",
    )
    op.create_table(
        "contact_email",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["intake.contact.id"],
            name=op.f("fk_contact_email_contact_id_contact"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_email")),
        schema="intake",
    )
    op.create_index(
        op.f("ix_contact_email_contact_id"),
        "contact_email",
        ["contact_id"],
        unique=False,
        schema="intake",
    )
    op.create_index(
        "uq_contact_email_address",
        "contact_email",
        [sa.literal_column("lower(address)")],
        unique=True,
        schema="intake",
    )
    op.create_table(
        "contact_phone",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("e164", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), server_default="phone", nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["intake.contact.id"],
            name=op.f("fk_contact_phone_contact_id_contact"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_phone")),
        schema="intake",
    )
    op.create_index(
        op.f("ix_contact_phone_contact_id"),
        "contact_phone",
        ["contact_id"],
        unique=False,
        schema="intake",
    )
    op.create_index(
        op.f("ix_contact_phone_e164"), "contact_phone", ["e164"], unique=False, schema="intake"
    )
    op.create_table(
        "ticket_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("public", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("source_event_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["intake.ticket.id"], name=op.f("fk_ticket_event_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_event")),
        schema="intake",
    )
    op.create_index(
        "ix_ticket_event_ticket", "ticket_event", ["ticket_id", "at"], unique=False, schema="intake"
    )
    op.create_table(
        "ticket_message",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("author_kind", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Text(), nullable=True),
        sa.Column("author_name", sa.Text(), nullable=True),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("external_ref", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["intake.ticket.id"], name=op.f("fk_ticket_message_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_message")),
        schema="intake",
    )
    op.create_index(
        "ix_ticket_message_ticket",
        "ticket_message",
        ["ticket_id", "created_at"],
        unique=False,
        schema="intake",
    )
    op.create_index(
        "uq_ticket_message_external_ref",
        "ticket_message",
        ["external_ref"],
        unique=True,
        schema="intake",
    )
    op.create_table(
        "attachment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("content_id", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["intake.ticket_message.id"],
            name=op.f("fk_attachment_message_id_ticket_message"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["intake.ticket.id"], name=op.f("fk_attachment_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
        schema="intake",
    )
    op.create_index(
        "ix_attachment_ticket", "attachment", ["ticket_id"], unique=False, schema="intake"
    )
    op.add_column("ticket", sa.Column("contact_id", sa.Uuid(), nullable=True), schema="intake")
    op.add_column("ticket", sa.Column("contract_id", sa.Uuid(), nullable=True), schema="intake")
    op.add_column("ticket", sa.Column("asset_id", sa.Uuid(), nullable=True), schema="intake")
    op.add_column(
        "ticket",
        sa.Column("service_type", sa.Text(), server_default="after_sales", nullable=False),
        schema="intake",
    )
    op.add_column("ticket", sa.Column("category", sa.Text(), nullable=True), schema="intake")
    op.add_column("ticket", sa.Column("product", sa.Text(), nullable=True), schema="intake")
    op.add_column("ticket", sa.Column("serial", sa.Text(), nullable=True), schema="intake")
    op.add_column("ticket", sa.Column("site_address", sa.Text(), nullable=True), schema="intake")
    op.add_column("ticket", sa.Column("region", sa.Text(), nullable=True), schema="intake")
    op.add_column(
        "ticket",
        sa.Column("on_site_required", sa.Boolean(), server_default="false", nullable=False),
        schema="intake",
    )
    op.add_column("ticket", sa.Column("answer", sa.Text(), nullable=True), schema="intake")
    op.add_column(
        "ticket",
        sa.Column("needs_follow_up", sa.Boolean(), server_default="true", nullable=False),
        schema="intake",
    )
    op.add_column(
        "ticket",
        sa.Column("coverage", sa.Text(), server_default="24x7", nullable=False),
        schema="intake",
    )
    op.add_column("ticket", sa.Column("calendar_id", sa.Text(), nullable=True), schema="intake")
    op.add_column("ticket", sa.Column("policy_key", sa.Text(), nullable=True), schema="intake")
    op.add_column(
        "ticket",
        sa.Column("tier", sa.Integer(), server_default="1", nullable=False),
        schema="intake",
    )
    op.add_column("ticket", sa.Column("assignee_id", sa.Uuid(), nullable=True), schema="intake")
    op.add_column("ticket", sa.Column("assignee_name", sa.Text(), nullable=True), schema="intake")
    op.add_column(
        "ticket", sa.Column("assignee_user_id", sa.Text(), nullable=True), schema="intake"
    )
    op.add_column(
        "ticket",
        sa.Column("legacy", sa.Boolean(), server_default="false", nullable=False),
        schema="intake",
    )
    op.add_column(
        "ticket",
        sa.Column("paid", sa.Boolean(), server_default="false", nullable=False),
        schema="intake",
    )
    op.add_column(
        "ticket", sa.Column("under_warranty", sa.Boolean(), nullable=True), schema="intake"
    )
    op.add_column(
        "ticket", sa.Column("complaint_about_id", sa.Uuid(), nullable=True), schema="intake"
    )
    op.add_column("ticket", sa.Column("merged_into_id", sa.Uuid(), nullable=True), schema="intake")
    op.add_column("ticket", sa.Column("external_ref", sa.Text(), nullable=True), schema="intake")
    op.add_column("ticket", sa.Column("resolution", sa.Text(), nullable=True), schema="intake")
    op.add_column(
        "ticket",
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        schema="intake",
    )
    op.add_column(
        "ticket", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True), schema="intake"
    )
    op.add_column(
        "ticket",
        sa.Column("reopen_count", sa.Integer(), server_default="0", nullable=False),
        schema="intake",
    )
    op.add_column(
        "ticket",
        sa.Column("assignment_seq", sa.BigInteger(), server_default="0", nullable=False),
        schema="intake",
    )
    op.add_column(
        "ticket",
        sa.Column("tier_seq", sa.BigInteger(), server_default="0", nullable=False),
        schema="intake",
    )
    op.drop_index(op.f("ix_ticket_organization_id"), table_name="ticket", schema="intake")
    op.create_index(
        "ix_ticket_assignee_id",
        "ticket",
        ["assignee_id", sa.literal_column("id DESC")],
        unique=False,
        schema="intake",
    )
    op.create_index(
        "ix_ticket_open_by_contact_asset",
        "ticket",
        ["contact_id", "asset_id"],
        unique=False,
        schema="intake",
        postgresql_where=sa.text(
            "status IN ('new','assigned','in_progress','pending_customer','reopened')"
        ),
    )
    op.create_index(
        "ix_ticket_org_id",
        "ticket",
        ["organization_id", sa.literal_column("id DESC")],
        unique=False,
        schema="intake",
    )
    op.create_index(
        "ix_ticket_org_status_id",
        "ticket",
        ["organization_id", "status", sa.literal_column("id DESC")],
        unique=False,
        schema="intake",
    )
    op.create_index(
        "ix_ticket_status_id",
        "ticket",
        ["status", sa.literal_column("id DESC")],
        unique=False,
        schema="intake",
    )
    op.create_index("ix_ticket_updated_at", "ticket", ["updated_at"], unique=False, schema="intake")
    op.create_index(
        "uq_ticket_external_ref", "ticket", ["external_ref"], unique=True, schema="intake"
    )
    op.create_foreign_key(
        op.f("fk_ticket_merged_into_id_ticket"),
        "ticket",
        "ticket",
        ["merged_into_id"],
        ["id"],
        source_schema="intake",
        referent_schema="intake",
    )
    op.create_foreign_key(
        op.f("fk_ticket_asset_id_asset"),
        "ticket",
        "asset",
        ["asset_id"],
        ["id"],
        source_schema="intake",
        referent_schema="intake",
    )
    op.create_foreign_key(
        op.f("fk_ticket_complaint_about_id_ticket"),
        "ticket",
        "ticket",
        ["complaint_about_id"],
        ["id"],
        source_schema="intake",
        referent_schema="intake",
    )
    op.create_foreign_key(
        op.f("fk_ticket_contract_id_contract"),
        "ticket",
        "contract",
        ["contract_id"],
        ["id"],
        source_schema="intake",
        referent_schema="intake",
    )
    # Tickets opened before the register existed name organisations by id only: register
    # each such organisation under a placeholder name an administrator can correct.
    op.execute(
        "INSERT INTO intake.organization (id, name) "
        "SELECT DISTINCT t.organization_id, 'Organisation ' || t.organization_id "
        "FROM intake.ticket t LEFT JOIN intake.organization o ON o.id = t.organization_id "
        "WHERE o.id IS NULL"
    )
    op.create_foreign_key(
        op.f("fk_ticket_organization_id_organization"),
        "ticket",
        "organization",
        ["organization_id"],
        ["id"],
        source_schema="intake",
        referent_schema="intake",
    )
    op.create_foreign_key(
        op.f("fk_ticket_contact_id_contact"),
        "ticket",
        "contact",
        ["contact_id"],
        ["id"],
        source_schema="intake",
        referent_schema="intake",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_ticket_contact_id_contact"), "ticket", schema="intake", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_ticket_organization_id_organization"),
        "ticket",
        schema="intake",
        type_="foreignkey",
    )
    op.drop_constraint(
        op.f("fk_ticket_contract_id_contract"), "ticket", schema="intake", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_ticket_complaint_about_id_ticket"), "ticket", schema="intake", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_ticket_asset_id_asset"), "ticket", schema="intake", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_ticket_merged_into_id_ticket"), "ticket", schema="intake", type_="foreignkey"
    )
    op.drop_index("uq_ticket_external_ref", table_name="ticket", schema="intake")
    op.drop_index("ix_ticket_updated_at", table_name="ticket", schema="intake")
    op.drop_index("ix_ticket_status_id", table_name="ticket", schema="intake")
    op.drop_index("ix_ticket_org_status_id", table_name="ticket", schema="intake")
    op.drop_index("ix_ticket_org_id", table_name="ticket", schema="intake")
    op.drop_index(
        "ix_ticket_open_by_contact_asset",
        table_name="ticket",
        schema="intake",
        postgresql_where=sa.text(
            "status IN ('new','assigned','in_progress','pending_customer','reopened')"
        ),
    )
    op.drop_index("ix_ticket_assignee_id", table_name="ticket", schema="intake")
    op.create_index(
        op.f("ix_ticket_organization_id"),
        "ticket",
        ["organization_id"],
        unique=False,
        schema="intake",
    )
    op.drop_column("ticket", "tier_seq", schema="intake")
    op.drop_column("ticket", "assignment_seq", schema="intake")
    op.drop_column("ticket", "reopen_count", schema="intake")
    op.drop_column("ticket", "closed_at", schema="intake")
    op.drop_column("ticket", "resolved_at", schema="intake")
    op.drop_column("ticket", "resolution", schema="intake")
    op.drop_column("ticket", "external_ref", schema="intake")
    op.drop_column("ticket", "merged_into_id", schema="intake")
    op.drop_column("ticket", "complaint_about_id", schema="intake")
    op.drop_column("ticket", "under_warranty", schema="intake")
    op.drop_column("ticket", "paid", schema="intake")
    op.drop_column("ticket", "legacy", schema="intake")
    op.drop_column("ticket", "assignee_user_id", schema="intake")
    op.drop_column("ticket", "assignee_name", schema="intake")
    op.drop_column("ticket", "assignee_id", schema="intake")
    op.drop_column("ticket", "tier", schema="intake")
    op.drop_column("ticket", "policy_key", schema="intake")
    op.drop_column("ticket", "calendar_id", schema="intake")
    op.drop_column("ticket", "coverage", schema="intake")
    op.drop_column("ticket", "needs_follow_up", schema="intake")
    op.drop_column("ticket", "answer", schema="intake")
    op.drop_column("ticket", "on_site_required", schema="intake")
    op.drop_column("ticket", "region", schema="intake")
    op.drop_column("ticket", "site_address", schema="intake")
    op.drop_column("ticket", "serial", schema="intake")
    op.drop_column("ticket", "product", schema="intake")
    op.drop_column("ticket", "category", schema="intake")
    op.drop_column("ticket", "service_type", schema="intake")
    op.drop_column("ticket", "asset_id", schema="intake")
    op.drop_column("ticket", "contract_id", schema="intake")
    op.drop_column("ticket", "contact_id", schema="intake")
    op.drop_index("ix_attachment_ticket", table_name="attachment", schema="intake")
    op.drop_table("attachment", schema="intake")
    op.drop_index("uq_ticket_message_external_ref", table_name="ticket_message", schema="intake")
    op.drop_index("ix_ticket_message_ticket", table_name="ticket_message", schema="intake")
    op.drop_table("ticket_message", schema="intake")
    op.drop_index("ix_ticket_event_ticket", table_name="ticket_event", schema="intake")
    op.drop_table("ticket_event", schema="intake")
    op.drop_index(op.f("ix_contact_phone_e164"), table_name="contact_phone", schema="intake")
    op.drop_index(op.f("ix_contact_phone_contact_id"), table_name="contact_phone", schema="intake")
    op.drop_table("contact_phone", schema="intake")
    op.drop_index("uq_contact_email_address", table_name="contact_email", schema="intake")
    op.drop_index(op.f("ix_contact_email_contact_id"), table_name="contact_email", schema="intake")
    op.drop_table("contact_email", schema="intake")
    op.drop_index(op.f("ix_asset_organization_id"), table_name="asset", schema="intake")
    op.drop_table("asset", schema="intake")
    op.drop_index(op.f("ix_contract_organization_id"), table_name="contract", schema="intake")
    op.drop_table("contract", schema="intake")
    op.drop_index(op.f("ix_contact_organization_id"), table_name="contact", schema="intake")
    op.drop_table("contact", schema="intake")
    op.drop_table("organization", schema="intake")
