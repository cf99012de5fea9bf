"""The org chart as loaded (admins), and each person's own inbox of what they were told."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from approvals import present
from approvals.rules.errors import SignoffError
from approvals.rules.states import STEP_LABEL, Step
from approvals.web.console import service
from approvals.web.i18n import lang, ui
from approvals.web.invite import invite_token

bp = Blueprint("people", __name__)


@bp.app_context_processor
def _menu() -> dict[str, object]:
    # The menu shows the org chart only to admins, who may open it.
    def is_admin() -> bool:
        return bool(getattr(current_user, "is_authenticated", False)) and \
            service().org.is_admin(current_user.id)
    return {"is_admin": is_admin}


def _admin_only() -> None:
    if not service().org.is_admin(current_user.id):
        abort(403)


@bp.get("/people")
@login_required
def chart(new_token: str | None = None, invite_link: str | None = None,
          bind_code: str | None = None, status: int = 200) -> tuple[str, int]:
    """Each department's head and supervising leader, the issuer, who stands in today, the API
    tokens and the chat bindings."""
    _admin_only()
    svc = service()
    org = svc.org
    today = svc.today()

    def standing_in(person: str, step: Step) -> list[str]:
        return [f"{org.name_of(d.deputy)}（{d.start}–{d.end}）" for d in
                org.deputies_for(person, step, today)]

    rows = [{"name": d.name, "code": code, "head": org.name_of(d.head),
             "head_deputies": standing_in(d.head, Step.DEPT_HEAD),
             "leader": org.name_of(d.supervising_leader),
             "leader_deputies": standing_in(d.supervising_leader, Step.REVIEWER),
             "members": [org.name_of(p) for p in d.members]}
            for code, d in org.departments.items()]
    issuer = {"name": org.name_of(org.issuer), "deputies": standing_in(org.issuer, Step.ISSUER)}
    return render_template("people.html", rows=rows, issuer=issuer, org=org,
                           step_label=STEP_LABEL, today=today,
                           admins=[org.name_of(k) for k in org.admins],
                           operators=[org.name_of(k) for k in org.operators],
                           tokens=svc.tokens(), new_token=new_token, zone=svc.zone,
                           invite_link=invite_link, bind_code=bind_code,
                           people=sorted(org.people.values(), key=lambda p: p.key),
                           bound=[(org.name_of(link.person), link) for link in svc.chat.links()]), status


@bp.post("/people/tokens")
@login_required
def issue_token() -> tuple[str, int]:
    """Issue an API token; the page shows it this once (it is not kept, not even in the
    session cookie)."""
    _admin_only()
    try:
        _, token = service().issue_token(request.form.get("person", ""),
                                         request.form.get("name", ""), by=current_user.id)
    except SignoffError as exc:
        flash(ui("error") + exc.message(lang()), "error")
        return chart(status=422)
    return chart(new_token=token)


@bp.post("/people/invite")
@login_required
def make_invite() -> tuple[str, int]:
    """A one-time link with which a person sets their own console password."""
    _admin_only()
    svc = service()
    try:
        key = svc.person(request.form.get("person", ""))
        token = invite_token(current_app.config["SECRET_KEY"], key, svc.account_fingerprint(key))
    except SignoffError as exc:
        flash(ui("error") + exc.message(lang()), "error")
        return chart(status=422)
    return chart(invite_link=url_for("invite.accept", token=token, _external=True))


@bp.post("/people/bind-code")
@login_required
def make_bind_code() -> tuple[str, int]:
    """A one-time code that links a person's Telegram account (`/start CODE` to the bot)."""
    _admin_only()
    try:
        code, _ = service().chat.issue_code(request.form.get("person", ""), by=current_user.id)
    except SignoffError as exc:
        flash(ui("error") + exc.message(lang()), "error")
        return chart(status=422)
    return chart(bind_code=code)


@bp.post("/people/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Response:
    """Revoke an API token for good."""
    _admin_only()
    try:
        service().revoke_token(token_id, by=current_user.id)
    except SignoffError as exc:
        flash(ui("error") + exc.message(lang()), "error")
    else:
        flash(ui("token_revoked"), "ok")
    return redirect(url_for("people.chart"))


@bp.get("/inbox")
@login_required
def inbox() -> str:
    """What this person was told, when, through which channel, and whether it arrived."""
    svc = service()
    rows = svc.notifications_for(person=current_user.id)
    lines = [present.notification_line(n, svc.org, svc.zone, lang()) for n in reversed(rows)]
    return render_template("inbox.html", lines=lines)
