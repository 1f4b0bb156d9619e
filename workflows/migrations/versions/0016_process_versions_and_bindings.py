"""one version row per process, and each county's binding of a purpose to a process version

Until now a version row held every process of the model together and new instances started on the
newest row. Each row now stands for one process: a row whose instances ran several processes is
split (the instances of the other processes move to a copy holding the same files, so they keep
their pinned files and still replay), versions are numbered per process, and every county is bound
to the processes of the newest row — what it started new instances on before the upgrade.

Revision ID: 0016
Revises: 0014_user_sessions
"""

import hashlib
import json
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from lxml import etree
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0014_user_sessions"
branch_labels = None
depends_on = None

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _processes(files: dict) -> dict:
    """{process id: (name, documentation, purpose or None)} of the executable processes in the files."""
    found = {}
    for name, text in files.items():
        if not name.endswith(".bpmn"):
            continue
        for process in etree.fromstring(text.encode("utf-8")).iter(f"{BPMN}process"):
            if process.get("isExecutable", "true") != "true":
                continue
            doc = process.find(f"{BPMN}documentation")
            purpose = next(
                (
                    p.get("value")
                    for p in process.findall(f"{BPMN}extensionElements/{SPIFF}properties/{SPIFF}property")
                    if p.get("name") == "purpose"
                ),
                None,
            )
            found[process.get("id")] = (
                process.get("name") or process.get("id"),
                (doc.text or "").strip() if doc is not None else "",
                purpose,
            )
    return found


def _shipped() -> dict:
    """The processes shipped with this code, for the purpose they declare (older files declare none)."""
    root = Path(os.environ.get("ZS_MODEL_ROOT", Path(__file__).resolve().parents[3]))
    return _processes({p.name: p.read_text(encoding="utf-8") for p in sorted(root.glob("bpmn/*.bpmn"))})


def _hash(files: dict, process_id: str) -> str:
    blob = json.dumps({"files": files, "process": process_id}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _described(meta: dict, shipped: dict, pid: str) -> dict:
    """Name, description and purpose of a process version: from its own files, the purpose from the
    shipped model of the same id when its files declare none, else the process id."""
    name, doc, purpose = meta.get(pid) or shipped.get(pid) or (pid, "", None)
    purpose = purpose or (shipped.get(pid) or (None, None, None))[2] or pid
    return {"name": name, "description": doc or None, "purpose": purpose}


def upgrade() -> None:
    with op.batch_alter_table("model_version") as batch:
        batch.add_column(sa.Column("number", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("name", sa.String(length=200), server_default="", nullable=False))
        batch.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch.add_column(sa.Column("purpose", sa.String(length=100), server_default="", nullable=False))
        batch.create_index("ix_model_version_process_id", ["process_id"], unique=False)
        batch.create_index("ix_model_version_purpose", ["purpose"], unique=False)
    op.create_table(
        "process_binding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("bound_by", sa.String(length=60), nullable=False),
        sa.Column("bound_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["model_version_id"], ["model_version.id"]),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organisation_id", "purpose", name="uq_process_binding_purpose"),
    )
    _split_versions(op.get_bind())
    # A unique index, not a constraint: SQLite adds it without copying the table, which instances reference.
    op.create_index("uq_model_version_process_number", "model_version", ["process_id", "number"], unique=True)


def _split_versions(conn) -> None:
    mv = sa.table(
        "model_version",
        sa.column("id", sa.Integer),
        sa.column("process_id", sa.String),
        sa.column("number", sa.Integer),
        sa.column("content_hash", sa.String),
        sa.column("files", JSON),
        sa.column("name", sa.String),
        sa.column("description", sa.Text),
        sa.column("purpose", sa.String),
        sa.column("deployed_by", sa.String),
        sa.column("deployed_at", sa.DateTime),
        sa.column("note", sa.Text),
    )
    pi = sa.table(
        "process_instance", sa.column("model_version_id", sa.Integer), sa.column("process_id", sa.String)
    )
    org = sa.table("organisation", sa.column("id", sa.Integer), sa.column("kind", sa.String))
    pb = sa.table(
        "process_binding",
        sa.column("organisation_id", sa.Integer),
        sa.column("purpose", sa.String),
        sa.column("model_version_id", sa.Integer),
        sa.column("bound_by", sa.String),
        sa.column("bound_at", sa.DateTime),
    )
    rows = conn.execute(sa.select(mv).order_by(mv.c.id)).mappings().all()
    if not rows:
        return
    shipped = _shipped()
    newest = rows[-1]["id"]
    current = {}  # process id → the row new instances of it started on before the upgrade
    for row in rows:
        meta = _processes(row["files"])
        used = set(
            conn.scalars(sa.select(pi.c.process_id).where(pi.c.model_version_id == row["id"]).distinct())
        )
        wanted = used | (set(meta) if row["id"] == newest else set())
        conn.execute(
            mv.update().where(mv.c.id == row["id"]).values(**_described(meta, shipped, row["process_id"]))
        )
        if row["id"] == newest:
            current[row["process_id"]] = row["id"]
        for pid in sorted(wanted - {row["process_id"]}):
            copy_id = conn.execute(
                mv.insert()
                .values(
                    process_id=pid,
                    number=1,
                    content_hash=_hash(row["files"], pid),
                    files=row["files"],
                    deployed_by=row["deployed_by"],
                    deployed_at=row["deployed_at"],
                    note=row["note"],
                    **_described(meta, shipped, pid),
                )
                .returning(mv.c.id)
            ).scalar_one()
            conn.execute(
                pi.update()
                .where(pi.c.model_version_id == row["id"], pi.c.process_id == pid)
                .values(model_version_id=copy_id)
            )
            if row["id"] == newest:
                current[pid] = copy_id
    for pid in set(conn.scalars(sa.select(mv.c.process_id))):
        ids = conn.scalars(sa.select(mv.c.id).where(mv.c.process_id == pid).order_by(mv.c.id)).all()
        for number, version_id in enumerate(ids, start=1):
            conn.execute(mv.update().where(mv.c.id == version_id).values(number=number))
    purposes = dict(
        conn.execute(sa.select(mv.c.id, mv.c.purpose).where(mv.c.id.in_(list(current.values())))).all()
    )
    for county in conn.scalars(sa.select(org.c.id).where(org.c.kind == "county")):
        bound = set()
        for version_id in current.values():
            if purposes[version_id] not in bound:
                bound.add(purposes[version_id])
                conn.execute(
                    pb.insert().values(
                        organisation_id=county,
                        purpose=purposes[version_id],
                        model_version_id=version_id,
                        bound_by="migration",
                        bound_at=sa.func.now(),
                    )
                )


def downgrade() -> None:
    op.drop_index("uq_model_version_process_number", table_name="model_version")
    op.drop_table("process_binding")
    # Dropped in place (SQLite ≥ 3.35): copying the table would break the instances' foreign keys.
    with op.batch_alter_table("model_version", recreate="never") as batch:
        batch.drop_index("ix_model_version_purpose")
        batch.drop_index("ix_model_version_process_id")
        batch.drop_column("purpose")
        batch.drop_column("description")
        batch.drop_column("name")
        batch.drop_column("number")
