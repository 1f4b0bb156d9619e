"""The error page for what a request may run into: the service's refusals (ServiceError: 403, 404, 409,
422 …), an expired CSRF token, an unknown page, a too-large upload. A 403 is recorded (webapp/denials.py)."""
from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from webapp.denials import record_denial
from workflows.errors import ServiceError


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(err: ServiceError):
        if err.status == 403:
            record_denial(err.message)
        return render_template("error.html", message=err.message, params=err.params,
                               status=err.status), err.status

    @app.errorhandler(CSRFError)
    def _csrf_error(err):
        return render_template("error.html", message="页面已过期或请求无效（CSRF 校验失败），请刷新后重试。",
                               status=400), 400

    @app.errorhandler(404)
    def _not_found(err):
        return render_template("error.html", message="页面不存在。", status=404), 404

    @app.errorhandler(413)
    def _too_large(err):
        return render_template("error.html", message="上传的文件过大：附件不能超过 %(mb)s MB。",
                               params={"mb": str(app.config["MAX_UPLOAD_MB"])}, status=413), 413

    @app.errorhandler(403)
    def _forbidden(err):
        record_denial("您没有访问此页面的权限。")
        return render_template("error.html", message="您没有访问此页面的权限。", status=403), 403
