"""accounts: password expiry and forced change, password history, sign-in throttling per account and address

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("app_user", sa.Column("password_changed_at", sa.DateTime(), nullable=True))
    op.add_column(
        "app_user", sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    # Existing passwords count from the upgrade for their expiry.
    op.execute(sa.text("UPDATE app_user SET password_changed_at = CURRENT_TIMESTAMP"))
    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_password_history_user_id", "password_history", ["user_id"])
    op.create_table(
        "sign_in_throttle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("address", sa.String(length=60), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "address"),
    )
    op.create_index("ix_sign_in_throttle_user_id", "sign_in_throttle", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_throttle_user_id", "sign_in_throttle")
    op.drop_table("sign_in_throttle")
    op.drop_index("ix_password_history_user_id", "password_history")
    op.drop_table("password_history")
    op.drop_column("app_user", "must_change_password")
    op.drop_column("app_user", "password_changed_at")
