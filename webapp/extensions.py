"""The Flask extensions, made once and bound to the app by init_extensions (from create_app)."""
from __future__ import annotations

import flask_babel
from flask import Flask
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from webapp.i18n import select_locale

csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()


def init_extensions(app: Flask) -> None:
    """CSRF tokens on every form, the translations (Chinese by default), the signed-in user."""
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_locale="zh_CN",
                   default_translation_directories="translations")
    # Jinja's newstyle `_()` marks its result safe, trusting the message id; templates also translate
    # data (`_(role.name)`, a flashed message with a model's text in it), so the template callables
    # return plain text and autoescaping escapes it like any other value.
    app.jinja_env.globals.update(_=flask_babel.gettext, gettext=flask_babel.gettext,
                                 ngettext=flask_babel.ngettext)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录。"
