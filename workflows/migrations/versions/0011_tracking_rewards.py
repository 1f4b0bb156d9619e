"""tracking after signing: the reward ledger (reward_grant), and attachments the system makes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reward_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("due_cents", sa.BigInteger(), nullable=False),
        sa.Column("capped", sa.Boolean(), nullable=False),
        sa.Column("basis", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["organisation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reward_grant_instance", "reward_grant", ["instance_id"], unique=False)
    op.create_index(
        "ix_reward_grant_recipient_year",
        "reward_grant",
        ["county_id", "kind", "recipient", "year"],
        unique=False,
    )
    # The 项目推进提醒函 issued by a timer is stored as an attachment nobody uploaded.
    with op.batch_alter_table("attachment") as batch:
        batch.alter_column("uploaded_by_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("attachment") as batch:
        batch.alter_column("uploaded_by_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ix_reward_grant_recipient_year", table_name="reward_grant")
    op.drop_index("ix_reward_grant_instance", table_name="reward_grant")
    op.drop_table("reward_grant")
