"""filing exchange: filings sent to / received from a separate prefecture deployment (outbox, signed
API requests), duplicate-signing matches, and the 一事一议 second filing target

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("filing") as batch:
        batch.alter_column("instance_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(
            sa.Column("transport", sa.String(length=10), nullable=False, server_default="embedded")
        )
        batch.add_column(sa.Column("remote_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("form_pdf", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("form_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("duplicates", JSON, nullable=True))
        batch.add_column(sa.Column("duplicate_reason", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("special_target", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("special_state", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("special_reference", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("special_updated_at", sa.DateTime(), nullable=True))
        batch.create_unique_constraint("uq_filing_county_remote", ["county_id", "remote_id"])
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=False),
        sa.Column("county", sa.String(length=100), nullable=False),
        sa.Column("peer", sa.String(length=20), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.Column("attachment", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("response", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["filing_id"],
            ["filing.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_due", "outbox_message", ["state", "next_attempt_at"], unique=False)
    op.create_index("ix_outbox_message_filing_id", "outbox_message", ["filing_id"], unique=False)
    op.create_table(
        "api_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("county", sa.String(length=100), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("county", "nonce"),
    )
    op.create_index("ix_api_request_received_at", "api_request", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_api_request_received_at", table_name="api_request")
    op.drop_table("api_request")
    op.drop_index("ix_outbox_message_filing_id", table_name="outbox_message")
    op.drop_index("ix_outbox_due", table_name="outbox_message")
    op.drop_table("outbox_message")
    with op.batch_alter_table("filing") as batch:
        batch.drop_constraint("uq_filing_county_remote", type_="unique")
        for column in (
            "special_updated_at",
            "special_reference",
            "special_state",
            "special_target",
            "duplicate_reason",
            "duplicates",
            "form_sha256",
            "form_pdf",
            "remote_id",
            "transport",
        ):
            batch.drop_column(column)
        batch.alter_column("instance_id", existing_type=sa.Integer(), nullable=False)
