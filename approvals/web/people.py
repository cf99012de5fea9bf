"""The org chart as loaded (admins), and each person's own inbox of what they were told."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from approvals import present
from approvals.rules.states import STEP_LABEL, Step
from approvals.web.console import service
from approvals.web.i18n import lang

bp = Blueprint("people", __name__)


@bp.get("/people")
@login_required
def chart() -> str:
    """Each department's head and supervising leader, the issuer, and who stands in today."""
    svc = service()
    org = svc.org
    if not org.is_admin(current_user.id):
        abort(403)
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
                           operators=[org.name_of(k) for k in org.operators])


@bp.get("/inbox")
@login_required
def inbox() -> str:
    """What this person was told, when, through which channel, and whether it arrived."""
    svc = service()
    rows = svc.notifications_for(person=current_user.id)
    lines = [present.notification_line(n, svc.org, svc.zone, lang()) for n in reversed(rows)]
    return render_template("inbox.html", lines=lines)
