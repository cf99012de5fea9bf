"""`/healthz`: the process answers and the database is reachable."""

from __future__ import annotations

from flask import Blueprint, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

bp = Blueprint("health", __name__)


@bp.get("/ping")
def ping() -> tuple[str, int, dict[str, str]]:
    """"pong", touching nothing: a load balancer's liveness check and the benches' baseline."""
    return "pong", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """200 with {"status": "ok"} when the database answers, else 503."""
    core = current_app.extensions["signoff"]
    try:
        with core.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok"}, 200
