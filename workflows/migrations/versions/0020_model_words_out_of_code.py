"""no code names the shipped model: the attachment kind 其他 becomes 其他材料 (其他 is an answer of the
shipped forms). process_instance.process_id keeps its old server default in the database (recreating the
table on SQLite would break its foreign keys); the application always names the process it starts.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text("UPDATE attachment SET kind = '其他材料' WHERE kind = '其他'"))


def downgrade() -> None:
    op.execute(sa.text("UPDATE attachment SET kind = '其他' WHERE kind = '其他材料'"))
