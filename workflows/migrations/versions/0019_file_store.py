"""attachment bytes move to the file store: the row's content becomes optional

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows keep their bytes until `zhaoshang files migrate` moves them to the store.
    with op.batch_alter_table("attachment") as batch:
        batch.alter_column("content", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("attachment") as batch:
        batch.alter_column("content", existing_type=sa.LargeBinary(), nullable=False)
