"""drafts delegation signatures

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 15:38:36.836970
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot add foreign keys with ALTER TABLE.
    with op.batch_alter_table("task_record") as batch:
        batch.add_column(
            sa.Column(
                "draft",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("draft_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("draft_saved_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("delegate_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("signature_png", sa.LargeBinary(), nullable=True))
        batch.create_foreign_key("fk_task_record_draft_by", "app_user", ["draft_by_id"], ["id"])
        batch.create_foreign_key("fk_task_record_delegate", "app_user", ["delegate_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("task_record") as batch:
        batch.drop_constraint("fk_task_record_delegate", type_="foreignkey")
        batch.drop_constraint("fk_task_record_draft_by", type_="foreignkey")
        for column in ("signature_png", "delegate_id", "draft_saved_at", "draft_by_id", "draft"):
            batch.drop_column(column)
