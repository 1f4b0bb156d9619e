"""which BPMN process an instance runs (investment projects and investor complaints)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 17:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_instance") as batch:
        batch.add_column(
            sa.Column("process_id", sa.String(length=60), nullable=False, server_default="investment_project")
        )
        batch.create_index("ix_process_instance_process_id", ["process_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("process_instance") as batch:
        batch.drop_index("ix_process_instance_process_id")
        batch.drop_column("process_id")
