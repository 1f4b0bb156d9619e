"""The filing API between a county deployment and a separate prefecture deployment (JSON over
HTTP(S), each request signed with the sender's Ed25519 or SM2 key, or during the transition with the
county's shared key; see workflows/filing_exchange.py). No session,
no CSRF token: a request is authenticated by its signature alone. Errors are JSON with a Chinese
message: 401 unsigned, badly signed, stale or replayed with other content; 400 a malformed body."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from webapp.inputs import json_object
from workflows import filing_exchange
from workflows.capabilities import filing_exchange_service
from workflows.errors import ServiceError, ValidationFailed
from workflows.filing_exchange import AuthFailed

bp = Blueprint("filing_api", __name__, url_prefix=filing_exchange.API_PREFIX)


@bp.route("/filings", methods=["POST"])
def receive_filing():
    return _call("filing")


# <row_id>: the county's filing id (the id the county deployment gave it), on both sides.
@bp.route("/filings/<int:row_id>/decision", methods=["POST"])
def receive_decision(row_id: int):
    return _call("decision", row_id)


@bp.route("/filings/<int:row_id>/signing", methods=["POST"])
def receive_signing(row_id: int):
    return _call(filing_exchange.SIGNED, row_id)


@bp.route("/filings/<int:row_id>/special", methods=["POST"])
def receive_special(row_id: int):
    return _call("special", row_id)


def _call(action: str, filing_id: int | None = None):
    body = request.get_data(cache=False)
    try:
        # A decision is the prefecture's to sign; everything else a county's.
        signer = filing_exchange.PREFECTURE if action == "decision" else filing_exchange.COUNTY
        signed = filing_exchange.verify(request.headers, request.method, request.path, body, signer=signer)
        status, answer = filing_exchange_service.api_call(signed, action, filing_id, _json(body))
    except AuthFailed as err:
        return _error(401, err.message)
    except ValidationFailed as err:
        return _error(400, err.message, fields=err.errors)
    except ServiceError as err:
        return _error(400 if err.status == 422 else err.status, err.message % err.params if err.params else err.message)
    return jsonify(answer), status


def _json(body: bytes):
    return json_object(body)


def _error(status: int, message: str, **extra):
    return jsonify({"ok": False, "error": message, **extra}), status
