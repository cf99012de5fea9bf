"""The least an approve can cost on this stack: a reference for bench/web.py, not part of signoff.

    python -m bench.floor_web --database-url URL --port N [--workers 2] [--posts 5000]

A Flask app served by the same gunicorn set-up as `signoff serve` (`signoff.web.serve_app`),
with the same database engine settings (`approvals.store.db.create_db_engine`), whose approve
does only what any approve of a logged-in person must: Flask-Login loads the session's person,
Flask-WTF checks the form's CSRF token, one transaction changes the post's row bound to the
revision hash the form names and appends one row to a log, a flashed message goes into the
session cookie, and the answer is the redirect to the post's page. No org chart, no rules, no
audit chain, no notifications, no queue hand-off.

Its two tables (`bench_floor_post`, `bench_floor_log`) are made afresh when it starts, posts
1..`--posts` with the revision hash `FLOOR_HASH`, and dropped when it stops. It answers
bench/web.py's client and bench/web.lua as the console does: `/ping`, `/login` (any person,
`bench.web.PASSWORD`), `/` (a page holding the CSRF token) and `POST /posts/N/act`.
"""

from __future__ import annotations

import argparse
import secrets
from datetime import UTC, datetime
from types import SimpleNamespace

from flask import Flask, abort, flash, redirect, render_template_string, request
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user
from flask_wtf import CSRFProtect
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    update,
)
from werkzeug.wrappers import Response

from approvals.store import db

FLOOR_HASH = "f" * 64
PASSWORD = "bench-password-123"  # bench.web's
meta = MetaData()
posts = Table("bench_floor_post", meta, Column("id", Integer, primary_key=True),
              Column("revision_hash", String(64), nullable=False),
              Column("status", String(20), nullable=False),
              Column("version", Integer, nullable=False))
log = Table("bench_floor_log", meta, Column("id", Integer, primary_key=True),
            Column("post_id", Integer, nullable=False), Column("actor", String(40), nullable=False),
            Column("action", String(40), nullable=False), Column("revision_hash", String(64)),
            Column("at", DateTime(timezone=True), nullable=False))
_APPROVE = (update(posts).where(posts.c.id == bindparam("pid"),
                                posts.c.revision_hash == bindparam("h"),
                                posts.c.status == "waiting")
            .values(status="approved", version=posts.c.version + 1).returning(posts.c.version))
_LOG = insert(log)
_FORM = """<form method="post" action="{{ action }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<input name="person"><input name="password" type="password"><button>go</button></form>"""


class _Person(UserMixin):
    def __init__(self, key: str) -> None:
        self.id = key


def create_floor_app(engine: Engine, secret_key: str) -> Flask:
    """The reference app over `engine` (its tables made by `make_tables`)."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secret_key, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", WTF_CSRF_TIME_LIMIT=8 * 3600)
    logins = LoginManager(app)
    logins.login_view = "login"
    CSRFProtect(app)
    app.extensions["signoff"] = SimpleNamespace(engine=engine)  # what serve_app disposes

    @logins.user_loader
    def _load(key: str) -> _Person:
        return _Person(key)

    @app.get("/ping")
    def ping() -> str:
        return "pong"

    @app.route("/login", methods=["GET", "POST"])
    def login() -> str | Response:
        if request.method == "POST":
            if request.form.get("password") != PASSWORD:
                abort(401)
            login_user(_Person(request.form.get("person", "")[:40]))
            return redirect("/")
        return render_template_string(_FORM, action="/login")

    @app.get("/")
    @login_required
    def home() -> str:
        return render_template_string(_FORM, action="/")

    @app.post("/posts/<int:pid>/act")
    @login_required
    def act(pid: int) -> Response:
        h = request.form.get("revision", "")
        with engine.begin() as conn:
            if conn.execute(_APPROVE, {"pid": pid, "h": h}).first() is None:
                abort(409)
            conn.execute(_LOG, {"post_id": pid, "actor": current_user.id, "action": "approve",
                                "revision_hash": h, "at": datetime.now(UTC)})
        flash("approved")
        return redirect(f"/posts/{pid}")

    return app


def make_tables(engine: Engine, count: int) -> list[tuple[int, str]]:
    """The floor's tables, made afresh with `count` posts waiting: (id, hash) each."""
    meta.drop_all(engine)
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(posts), [{"id": i, "revision_hash": FLOOR_HASH, "status": "waiting",
                                      "version": 1} for i in range(1, count + 1)])
    return [(i, FLOOR_HASH) for i in range(1, count + 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--posts", type=int, default=5000)
    args = ap.parse_args()
    from signoff.web import serve_app

    engine = db.create_db_engine(args.database_url)
    make_tables(engine, args.posts)
    try:
        serve_app(create_floor_app(engine, secrets.token_hex(16)), host="127.0.0.1",
                  port=args.port, workers=args.workers, control_socket_disable=True)
    finally:
        meta.drop_all(engine)


if __name__ == "__main__":
    main()
