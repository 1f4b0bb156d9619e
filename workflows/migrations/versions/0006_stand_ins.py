"""stand-ins

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 15:58:11.143262
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stand_in",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("stand_in_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["stand_in_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_stand_in_stand_in_id"), "stand_in", ["stand_in_id"], unique=False)
    op.create_index(op.f("ix_stand_in_user_id"), "stand_in", ["user_id"], unique=False)
    # batch mode: SQLite cannot add foreign keys with ALTER TABLE.
    with op.batch_alter_table("task_record") as batch:
        batch.add_column(sa.Column("acted_for_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_task_record_acted_for", "app_user", ["acted_for_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("task_record") as batch:
        batch.drop_constraint("fk_task_record_acted_for", type_="foreignkey")
        batch.drop_column("acted_for_id")
    op.drop_index(op.f("ix_stand_in_user_id"), table_name="stand_in")
    op.drop_index(op.f("ix_stand_in_stand_in_id"), table_name="stand_in")
    op.drop_table("stand_in")
