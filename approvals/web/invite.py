"""One-time invite links: a person sets their own console password from a link an admin gave
them (`signoff people invite PERSON`, or the org chart page).

The link is an itsdangerous timed signature over the person and a fingerprint of their current
password hash; setting a password changes the fingerprint, so a link works once, and it expires
after three days. Nothing is stored for it.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from approvals.rules.errors import SignoffError
from approvals.services import Service
from approvals.web.i18n import lang, ui

bp = Blueprint("invite", __name__)
SALT = "signoff.invite"
MAX_AGE = 3 * 24 * 3600


def invite_token(secret_key: str, person: str, fingerprint: str) -> str:
    """The token of a one-time invite for `person` (their key) as their account stands now."""
    return URLSafeTimedSerializer(secret_key, salt=SALT).dumps({"p": person, "f": fingerprint})


def _service() -> Service:
    return current_app.extensions["signoff.service"]  # type: ignore[no-any-return]


def _person(token: str) -> tuple[str | None, str]:
    """Whose invite this is, or None and why not."""
    try:
        data = URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT).loads(
            token, max_age=MAX_AGE)
        person, fingerprint = str(data["p"]), str(data["f"])
    except SignatureExpired:
        return None, "invite_expired"
    except (BadSignature, KeyError, TypeError, ValueError):
        return None, "invite_invalid"
    svc = _service()
    try:
        if svc.account_fingerprint(person) != fingerprint:
            return None, "invite_used"
    except SignoffError:  # the person left the org chart
        return None, "invite_invalid"
    return person, ""


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept(token: str) -> tuple[str, int] | Response:
    """Set one's own password from an invite (typed twice)."""
    person, problem = _person(token)
    if person is None:
        return render_template("message.html", message=ui(problem)), 410
    name = _service().org.name_of(person)
    if request.method == "GET":
        return render_template("invite.html", name=name), 200
    password = request.form.get("password", "")[:200]
    if password != request.form.get("again", "")[:200]:
        return render_template("invite.html", name=name, error=ui("invite_mismatch")), 422
    try:
        _service().set_password(person, password, by=person)
    except SignoffError as exc:
        return render_template("invite.html", name=name, error=exc.message(lang())), 422
    flash(ui("invite_done"), "ok")
    return redirect(url_for("auth.login"))
