"""filing API signatures: the scheme each request used, and per peer the latest (counties still on the
older shared key are listed)

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_request", sa.Column("scheme", sa.String(length=16), nullable=True))
    op.create_table(
        "filing_api_peer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signer", sa.String(length=16), nullable=False),
        sa.Column("county", sa.String(length=100), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=True),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("hmac_at", sa.DateTime(), nullable=True),
        sa.Column("hmac_count", sa.Integer(), nullable=False),
        sa.Column("ed25519_at", sa.DateTime(), nullable=True),
        sa.Column("ed25519_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("signer", "county"),
    )


def downgrade() -> None:
    op.drop_table("filing_api_peer")
    op.drop_column("api_request", "scheme")
