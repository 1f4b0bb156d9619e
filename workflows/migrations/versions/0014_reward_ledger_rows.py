"""reward ledger: one current row per project, year and kind, recomputed from each report; the cap's key
is the normalised association name; a once-per-prefecture reward keeps its key (country or region)

Revision ID: 0014
Revises: 0013
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SCOPES = {"referral": "year", "foreign": "project", "new_origin": "once", "chain_referral": "once"}


def _key(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name or "").split()).casefold()


def upgrade() -> None:
    with op.batch_alter_table("reward_grant") as batch:
        batch.add_column(sa.Column("scope", sa.String(length=20), nullable=False, server_default="year"))
        batch.add_column(sa.Column("recipient_key", sa.String(length=200), nullable=False, server_default=""))
        batch.add_column(sa.Column("unique_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("cap_cents", sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    grant = sa.table(
        "reward_grant",
        sa.column("id", sa.Integer),
        sa.column("instance_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("year", sa.Integer),
        sa.column("recipient", sa.String),
        sa.column("amount_cents", sa.BigInteger),
        sa.column("due_cents", sa.BigInteger),
        sa.column("created_at", sa.DateTime),
        sa.column("updated_at", sa.DateTime),
        sa.column("scope", sa.String),
        sa.column("recipient_key", sa.String),
        sa.column("cap_cents", sa.BigInteger),
    )
    # The old ledger added a row per increase: fold them into one row per project, year and kind.
    rows = bind.execute(sa.select(grant).order_by(grant.c.id)).mappings().all()
    kept: dict[tuple, dict] = {}
    for row in rows:
        group = (row["instance_id"], row["kind"], row["year"])
        if group not in kept:
            kept[group] = {
                "id": row["id"],
                "amount_cents": 0,
                "due_cents": 0,
                "recipient": row["recipient"],
                "kind": row["kind"],
                "at": row["created_at"],
            }
        else:
            bind.execute(sa.delete(grant).where(grant.c.id == row["id"]))
        kept[group]["amount_cents"] += row["amount_cents"]
        kept[group]["due_cents"] = max(kept[group]["due_cents"], row["due_cents"])
        kept[group]["at"] = row["created_at"]
    for row in kept.values():
        bind.execute(
            sa.update(grant)
            .where(grant.c.id == row["id"])
            .values(
                amount_cents=row["amount_cents"],
                due_cents=row["due_cents"],
                updated_at=row["at"],
                scope=SCOPES.get(row["kind"], "year"),
                recipient_key=_key(row["recipient"]),
                cap_cents=100_000_000 if row["kind"] == "referral" else None,
            )
        )  # 100 万元, the only capped kind
    with op.batch_alter_table("reward_grant") as batch:
        batch.alter_column("scope", existing_type=sa.String(length=20), server_default=None)
        batch.alter_column("recipient_key", existing_type=sa.String(length=200), server_default=None)
        batch.alter_column("updated_at", existing_type=sa.DateTime(), nullable=False)
        batch.drop_index("ix_reward_grant_recipient_year")
        batch.create_index("ix_reward_grant_recipient_year", ["county_id", "kind", "recipient_key", "year"])
        batch.create_index("ix_reward_grant_unique_key", ["kind", "unique_key"])
        batch.create_unique_constraint("uq_reward_grant_project_kind_year", ["instance_id", "kind", "year"])


def downgrade() -> None:
    with op.batch_alter_table("reward_grant") as batch:
        batch.drop_constraint("uq_reward_grant_project_kind_year", type_="unique")
        batch.drop_index("ix_reward_grant_unique_key")
        batch.drop_index("ix_reward_grant_recipient_year")
        batch.create_index("ix_reward_grant_recipient_year", ["county_id", "kind", "recipient", "year"])
        batch.drop_column("cap_cents")
        batch.drop_column("updated_at")
        batch.drop_column("unique_key")
        batch.drop_column("recipient_key")
        batch.drop_column("scope")
