"""lane owners: the users a model names for a lane (SpiffArena's `lane_owners`) are kept per task

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_record") as batch:
        batch.add_column(sa.Column("owned", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "task_owner",
        sa.Column("task_record_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["task_record_id"], ["task_record.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("task_record_id", "user_id"),
    )
    op.create_index("ix_task_owner_user_id", "task_owner", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_task_owner_user_id", table_name="task_owner")
    op.drop_table("task_owner")
    with op.batch_alter_table("task_record") as batch:
        batch.drop_column("owned")
