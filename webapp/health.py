"""Operations endpoints and hooks: /healthz, /readyz, /metrics, the request id, JSON access lines,
and the 503 page shown while the database cannot be reached.

/metrics answers a request carrying `Authorization: Bearer <ZS_METRICS_TOKEN>` when that token is set,
otherwise only requests from the loopback interface that did not pass through a proxy (no
X-Forwarded-For); everyone else gets 403. The nginx site also refuses /metrics from outside.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid

from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from workflows import observability

bp = Blueprint("health", __name__)
log = logging.getLogger("zhaoshang.requests")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_LOOPBACK = {"127.0.0.1", "::1"}


@bp.get("/healthz")
def healthz():
    """The process is up and answers (no database)."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Ready for traffic: the database answers and its schema is at the newest migration."""
    ready, reason = observability.readiness()
    return {"status": "ok" if ready else "unavailable", "detail": reason}, 200 if ready else 503


@bp.get("/metrics")
def metrics():
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        allowed = hmac.compare_digest(given.encode(), token.encode())
    else:
        # Behind a proxy on this machine every request comes from loopback: one that came through
        # a proxy (X-Forwarded-For) is not "from this machine".
        allowed = request.remote_addr in _LOOPBACK and "X-Forwarded-For" not in request.headers
    if not allowed:
        return Response(
            "指标仅对本机或持有指标令牌（ZS_METRICS_TOKEN）的请求开放。\n",
            403,
            content_type="text/plain; charset=utf-8",
        )
    return Response(observability.metrics_text(), content_type=observability.CONTENT_TYPE)


UNAVAILABLE_EN = (
    "The system cannot reach its database right now (maintenance or a restart); what you just did "
    "was not saved. Please go back and submit again in half a minute."
)
INTERNAL_EN = "A system error occurred and was logged. Please try again later; quote the request id below."


def _static_page(status: int, title: str, *, english: str, message: str) -> Response:
    """A page rendered from its template alone: no context processors, no signed-in user, no database."""
    # Later hooks (after_request) look at current_user: let them see an anonymous user rather than
    # ask the database again.
    g._login_user = current_app.login_manager.anonymous_user()
    html = current_app.jinja_env.get_template("unavailable.html").render(
        status=status, title=title, message=message, english=english, request_id=g.get("request_id", "")
    )
    response = Response(html, status, content_type="text/html; charset=utf-8")
    if status == 503:
        response.headers["Retry-After"] = "30"
    return response


def init_app(app: Flask) -> None:
    observability.configure_logging()
    app.register_blueprint(bp)
    proxies = app.config.get("TRUSTED_PROXIES") or 0
    if proxies:
        # The client's address and scheme as the trusted proxies saw them; never from anyone else.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    @app.before_request
    def _request_id():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.started = time.perf_counter()
        observability.request_id.set(g.request_id)
        if request.blueprint == bp.name:
            # Probes and scrapes are nobody's session: the hooks that look at the signed-in user must not
            # reach the database (/healthz answers while it is down).
            g._login_user = current_app.login_manager.anonymous_user()

    @app.after_request
    def _access_line(response):
        rid = g.get("request_id")
        if rid is None:
            return response
        response.headers["X-Request-ID"] = rid
        seconds = time.perf_counter() - g.started
        endpoint = request.endpoint or "unmatched"
        observability.REQUEST_SECONDS.labels(endpoint, request.method, str(response.status_code)).observe(
            seconds
        )
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "endpoint": endpoint,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 1),
                "remote": request.remote_addr,
            },
        )
        return response

    def _database_unavailable(err):
        log.error("database unavailable", extra={"error": str(err).splitlines()[0], "path": request.path})
        return _static_page(
            503,
            "系统暂时无法使用",
            english=UNAVAILABLE_EN,
            message=(
                "系统暂时连接不上数据库，可能正在维护或重启，刚才的操作没有保存。请稍候半分钟后返回"
                "上一页重新提交（浏览器通常保留已填写的内容）。如长时间无法恢复，请联系本单位信息化"
                "管理员，并告知下方的请求编号。"
            ),
        )

    for kind in observability.DATABASE_UNAVAILABLE:
        app.register_error_handler(kind, _database_unavailable)

    @app.errorhandler(InternalServerError)
    def _internal_error(err):
        log.error("internal error", exc_info=getattr(err, "original_exception", None) or err)
        return _static_page(
            500,
            "系统内部错误",
            english=INTERNAL_EN,
            message=(
                "处理您的请求时出现了系统错误，已记录在日志中。请稍后重试；如问题持续，请联系本单位"
                "信息化管理员，并告知下方的请求编号。"
            ),
        )
