"""business roles are data: the roles lanes may name, seeded with the roles of docs/domain.md

Revision ID: 0017
Revises: 0016
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

SEEDED = [
    ("lead_officer", "招商专员", "county"),
    ("screening_team", "研判专班", "county"),
    ("commerce_bureau", "县商务局", "county"),
    ("head_of_office", "投资办主任", "county"),
    ("dept_reviewer", "部门会审人", "county"),
    ("host_site", "项目落户地", "county"),
    ("leading_group_office", "领导小组办公室", "county"),
    ("vice_county_head", "分管副县长", "county"),
    ("exec_secretary", "县长办公会秘书", "county"),
    ("legal_reviewer", "司法局合同审查", "county"),
    ("prefecture_bureau", "市/州商务局", "prefecture"),
]


def upgrade() -> None:
    table = op.create_table(
        "business_role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.bulk_insert(
        table,
        [
            {
                "code": c,
                "name": n,
                "level": lv,
                "created_by": "system",
                "created_at": datetime.now(UTC).replace(tzinfo=None),
            }
            for c, n, lv in SEEDED
        ],
    )


def downgrade() -> None:
    op.drop_table("business_role")
