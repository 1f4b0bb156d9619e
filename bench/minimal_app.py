"""The application serving the benchmark's minimal model (bench/minimal: start → A → B → end, one
number per form) over HTTP, for comparison with other BPMN web applications running that model.

It is the real web app (create_app: sign-in, inbox `GET /`, task page and `POST /tasks/<id>`, the
same service layer, one transaction per engine step with task index and audit) plus one bench-only
route, `POST /bench/start`, because the app starts only its own processes. Bench-only, never deployed:

    gunicorn 'bench.minimal_app:create()'      (DATABASE_URL of a database used only for this)
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, jsonify, request
from flask_login import login_required
from sqlalchemy import select

from workflows.engine import model_store

HERE = Path(__file__).parent / "minimal"
PROCESS = "bench_minimal"


def minimal_files() -> dict[str, str]:
    return {
        "bpmn/bench_minimal.bpmn": (HERE / "bench_minimal.bpmn").read_text(encoding="utf-8"),
        "forms/bench_number-schema.json": (HERE / "bench_number-schema.json").read_text(encoding="utf-8"),
        "forms/bench_number-uischema.json": (HERE / "bench_number-uischema.json").read_text(encoding="utf-8"),
    }


def _allow_minimal_process() -> None:
    if PROCESS not in model_store.PROCESSES:
        model_store.PROCESSES = (*model_store.PROCESSES, PROCESS)


def minimal_version(session):
    """The model version holding the minimal model (stored once; the app's own version stays)."""
    from workflows.models import ModelVersion

    _allow_minimal_process()
    files = minimal_files()
    digest = model_store.content_hash(files)
    version = session.scalars(select(ModelVersion).where(ModelVersion.content_hash == digest)).first()
    if version is None:
        model_store.parse_specs(digest, json.dumps(files, sort_keys=True))
        version = ModelVersion(process_id=PROCESS, content_hash=digest, files=files, deployed_by="bench")
        session.add(version)
        session.flush()
    return version


bp = Blueprint("bench_minimal", __name__)


@bp.route("/bench/start", methods=["POST"])
@login_required
def start():
    from webapp.session_user import actor
    from workflows.db import transaction
    from workflows.services.instance_step import start_instance

    who = actor()
    n = float(request.form.get("n", "0"))
    with transaction() as s:
        version = minimal_version(s)
        instance = start_instance(
            s,
            who,
            version,
            PROCESS,
            {"n": n},
            {"n": n, "started_by": who.username},
            project_name=f"最小流程 {n:g}",
            investor="bench",
        )
        return jsonify(id=instance.id), 201


def create():
    from webapp import create_app

    _allow_minimal_process()
    app = create_app({"WTF_CSRF_ENABLED": False})  # bench-only: the driver posts without the form's token
    app.register_blueprint(bp)
    from workflows.db import transaction

    with transaction() as s:
        minimal_version(s)
    return app
