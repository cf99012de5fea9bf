"""Log in and out: password hashes checked by the façade, sessions by Flask-Login, CSRF on every
form by Flask-WTF, and the login form rate-limited by Flask-Limiter."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, login_required, login_user, logout_user
from flask_wtf import CSRFProtect
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from approvals.web.api import http_error, is_api_request
from approvals.web.i18n import ui

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()
LOGIN_LIMIT = "10 per minute;50 per hour"


class User(UserMixin):
    """The logged-in person: their org-chart key."""

    def __init__(self, key: str) -> None:
        self.id = key


def install(app: Flask) -> None:
    """Sessions, CSRF and the login rate limit on `app`."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = ""
    csrf.init_app(app)
    # One limiter per app, counting in memory per process unless RATELIMIT_STORAGE_URI says
    # otherwise (a redis:// URL shares the count between gunicorn workers).
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter = Limiter(key_func=get_remote_address, default_limits=[], app=app)
    app.extensions["signoff.limit_login"] = limiter.limit(LOGIN_LIMIT, methods=["POST"])

    @app.errorhandler(CSRFError)
    def _csrf(_exc: CSRFError) -> tuple[str, int]:
        return render_template("message.html", message=ui("session_expired")), 400

    @app.errorhandler(429)
    def _limited(_exc: Any) -> tuple[str, int]:
        return render_template("login.html", error=ui("too_many")), 429

    @app.errorhandler(403)
    def _forbidden(exc: HTTPException) -> tuple[str, int] | Response:
        if is_api_request():
            return http_error(exc)
        return render_template("message.html", message=ui("forbidden")), 403

    @app.errorhandler(404)
    def _missing(exc: HTTPException) -> tuple[str, int] | Response:
        if is_api_request():
            return http_error(exc)
        return render_template("message.html", message=ui("not_found")), 404

    for code in (400, 405, 413, 415):
        app.register_error_handler(code, _plain_or_api)


def _plain_or_api(exc: HTTPException) -> HTTPException | Response:
    # The API answers every refusal as JSON; the console keeps werkzeug's short pages.
    return http_error(exc) if is_api_request() else exc


@login_manager.user_loader
def _load(key: str) -> User | None:
    # A person taken out of the org chart is logged out with it.
    return User(key) if key in current_app.extensions["signoff"].service.org.people else None


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """The login form; a wrong name and a wrong password get the same answer."""
    if request.method == "GET":
        return render_template("login.html")
    person = request.form.get("person", "")[:100]
    password = request.form.get("password", "")[:200]
    key = current_app.extensions["signoff.service"].authenticate(person, password)
    if key is None:
        return render_template("login.html", error=ui("bad_login"), person=person), 401
    login_user(User(key))
    wanted = request.args.get("next", "")
    return redirect(wanted if is_own_path(wanted) else url_for("console.queue"))


def is_own_path(wanted: str) -> bool:
    """Whether `wanted` is a path of this site, safe to redirect to: never an open redirect.

    Browsers drop tabs and line breaks from a URL and read a backslash as a slash, so
    "/\t/evil.example" is "//evil.example" to them: any of those, or any other control
    character or space, and the answer is no."""
    if not wanted.startswith("/") or any(ch.isspace() or ch == "\\" or not ch.isprintable()
                                         for ch in wanted):
        return False
    parts = urlsplit(wanted)
    return not parts.scheme and not parts.netloc and not wanted.startswith("//")


@bp.post("/logout")
@login_required
def logout() -> Response:
    """End the session."""
    logout_user()
    flash(ui("logout"))
    return redirect(url_for("auth.login"))
