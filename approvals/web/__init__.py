"""The web console for the Legal & Publicity section: a face over the service façade.

`create_app(core)` builds the Flask app; every view asks the façade what a person may do
(`allowed_actions`), does it (`act`) and renders the shared `present` texts. No rule lives here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask_openapi3 import Info, OpenAPI
from werkzeug.routing import IntegerConverter

from approvals.bootstrap import Core
from approvals.web import api, auth, console, health, invite, people, preview
from approvals.web import editor as layout_editor
from approvals.web import jobs as jobs_page
from approvals.web.api_models import ErrorOut
from approvals.web.i18n import install as install_i18n
from approvals.web.reports import install as install_reports
from approvals.web.wechat import CallbackCodec, install_callback


class AsciiInt(IntegerConverter):
    """`<int:…>` in this app's paths, in ASCII digits only: werkzeug's own converter takes any
    Unicode digit, so /posts/１ opened post 1. (How large an id may be is the core's to say.)"""

    regex = r"[0-9]+"


def create_app(core: Core, *, secret_key: str, previous_keys: tuple[str, ...] = (),
               testing: bool = False, secure_cookies: bool = True,
               overrides: dict[str, Any] | None = None,
               wechat_callback: CallbackCodec | None = None) -> Flask:
    """The console app over `core`; `secret_key` signs sessions, CSRF tokens and preview links,
    `previous_keys` (rotated out) still verify preview links already sent; `wechat_callback`
    opens WeChat's pushes to /wechat/callback (None: it answers 404)."""
    if len(secret_key) < 16:
        raise ValueError("the console's secret key needs at least 16 characters")
    # An OpenAPI app is a Flask app that also writes the JSON API's document from the models that
    # validate its requests (no documentation UI: the document is at /api/v1/openapi.json).
    app = OpenAPI(__name__, info=Info(title="signoff API", version="1"), doc_ui=False,
                  security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
                  validation_error_status=422, validation_error_model=ErrorOut,
                  validation_error_callback=api.validation_error)
    app.url_map.converters["int"] = AsciiInt  # before any route is added
    app.config.update(
        SECRET_KEY=secret_key,
        TESTING=testing,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies and not testing,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=secure_cookies and not testing,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        PREVIEW_PREVIOUS_KEYS=list(previous_keys),
        **(overrides or {}),
    )
    app.extensions["signoff"] = core
    app.extensions["signoff.service"] = core.service.via("web")  # audit rows say "web"
    app.extensions["signoff.api"] = core.service.via("api")
    install_i18n(app)
    auth.install(app)
    install_reports(app)  # the dashboard and the disclosure catalogue
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(preview.bp)
    app.register_blueprint(people.bp)
    api.install(app)
    app.register_blueprint(layout_editor.bp)  # the layout editor: /posts/N/edit, /assets/SHA
    install_callback(app, wechat_callback)  # /wechat/callback, CSRF-exempt: WeChat signs it
    app.register_blueprint(jobs_page.bp)
    app.register_blueprint(invite.bp)  # one-time invite links: /invite/TOKEN
    # The login's rate limit wraps the registered view (a limit on the bare function would not
    # be found once the blueprint is registered).
    app.view_functions["auth.login"] = app.extensions["signoff.limit_login"](
        app.view_functions["auth.login"])
    return app
