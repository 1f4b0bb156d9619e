"""audit anchors: each filing receipt carries the county's audit head (id, hash) at submission

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("filing") as batch:
        batch.add_column(sa.Column("audit_head_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("audit_head_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("filing") as batch:
        batch.drop_column("audit_head_hash")
        batch.drop_column("audit_head_id")
