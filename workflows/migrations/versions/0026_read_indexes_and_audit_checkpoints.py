"""indexes for the inboxes and the project list at 100,000 projects; checkpoints of the audit chain so a
project's check walks only the stretches holding its events

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("event_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index(
        "ix_task_open",
        "task_record",
        ["lane", "unit_code", "due_at", "id"],
        postgresql_where=sa.text("state = 'ready'"),
        sqlite_where=sa.text("state = 'ready'"),
        postgresql_include=[
            "instance_id",
            "owned",
            "fixed_assignee",
            "assignee_id",
            "delegate_id",
            "stage",
            "created_at",
        ],
    )
    op.create_index(
        "ix_task_delegated",
        "task_record",
        ["delegate_id"],
        postgresql_where=sa.text("state = 'ready'"),
        sqlite_where=sa.text("state = 'ready'"),
    )
    op.create_index(
        "ix_task_done_by",
        "task_record",
        ["completed_by_id", "completed_at", "id"],
        postgresql_where=sa.text("state = 'completed'"),
        sqlite_where=sa.text("state = 'completed'"),
        postgresql_include=["instance_id", "stage", "unit_code"],
    )
    op.create_index("ix_instance_county_updated", "process_instance", ["county_id", "updated_at", "id"])
    op.create_index(
        "ix_instance_county",
        "process_instance",
        ["county_id", "id"],
        postgresql_include=["started_by_id", "project_class", "amount_wan"],
    )
    op.create_index("ix_instance_started_by", "process_instance", ["started_by_id", "updated_at", "id"])
    op.create_index(
        "ix_instance_county_class", "process_instance", ["county_id", "project_class", "amount_wan"]
    )


def downgrade() -> None:
    op.drop_index("ix_instance_county_class", table_name="process_instance")
    op.drop_index("ix_instance_started_by", table_name="process_instance")
    op.drop_index("ix_instance_county", table_name="process_instance")
    op.drop_index("ix_instance_county_updated", table_name="process_instance")
    op.drop_index("ix_task_done_by", table_name="task_record")
    op.drop_index("ix_task_delegated", table_name="task_record")
    op.drop_index("ix_task_open", table_name="task_record")
    op.drop_table("audit_checkpoint")
