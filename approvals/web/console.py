"""The queue and a post's page: what the façade says, and the actions it offers this person."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from approvals import present
from approvals.present.diff import revision_diff
from approvals.rules.content import sanitize
from approvals.rules.errors import SignoffError
from approvals.rules.states import ACTION_LABEL, STATUS_LABEL, STEP_LABEL, Action, PostStatus
from approvals.services import Service
from approvals.views import QUEUE_PAGE_MAX, QUEUE_SORTS, ActOutcome, QueueQuery, ScheduleInput
from approvals.web.i18n import lang, ui
from approvals.web.preview import preview_url

bp = Blueprint("console", __name__)
# What the post page offers as a form; the rest (new_revision, schedule, …) come with the editor.
FORM_ACTIONS = (Action.CONFIRM, Action.APPROVE, Action.SIGN, Action.REQUEST_CHANGES,
                Action.REJECT, Action.WITHDRAW, Action.RESUBMIT, Action.RETRY)


def service() -> Service:
    """The façade as this app's face (its audit rows say "web")."""
    return current_app.extensions["signoff.service"]  # type: ignore[no-any-return]


def _int(name: str, default: int) -> int:
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 8 else default


@bp.get("/")
@login_required
def queue() -> str:
    """The posts, filtered, ordered and a page at a time (counted in the database)."""
    svc = service()
    args = request.args
    query = QueueQuery(status=args.get("status") or None, department=args.get("department") or None,
                       drafter=args.get("drafter") or None, search=args.get("q") or None,
                       overdue=args.get("overdue") == "1", include_archived=args.get("all") == "1",
                       sort=args.get("sort") or "-id", page=_int("page", 1),
                       per_page=min(_int("per_page", 50), QUEUE_PAGE_MAX) or 50)
    try:
        page = svc.queue(query)
    except SignoffError as exc:
        flash(ui("error") + exc.message(lang()), "error")
        query = QueueQuery()
        page = svc.queue(query)
    return render_template("queue.html", page=page, query=query, org=svc.org, today=svc.today(),
                           status_label=STATUS_LABEL, step_label=STEP_LABEL,
                           statuses=list(PostStatus),
                           sorts=QUEUE_SORTS, args=args.to_dict())


@bp.get("/posts/<int:post_id>")
@login_required
def post(post_id: int) -> str:
    """The post: its revision as it will look, gates, timeline and what this person may do."""
    svc = service()
    try:
        view = svc.view(post_id)
    except SignoffError as exc:
        return render_template("message.html", message=exc.message(lang())), 404  # type: ignore[return-value]
    offered = svc.allowed_in(view, current_user.id)
    allowed = [a for a in offered if a in FORM_ACTIONS]
    body = sanitize(view.state.revision.content.body_html) if view.state.revision else ""
    events = [present.event_line(e, svc.org, svc.zone, lang()) for e in view.timeline]
    link = preview_url(post_id, view.state.revision.content_hash) if view.state.revision else None
    return render_template(
        "post.html", view=view, org=svc.org, body=body, events=events, preview_link=link,
        can_schedule=Action.SCHEDULE in offered,
        can_edit=Action.NEW_REVISION in offered,
        scheduled=present.schedule_text(view.post.scheduled_at, view.post.publish_mode, svc.zone,
                                        lang()),
        findings=present.findings_lines(view.findings, lang()), allowed=allowed,
        action_label=ACTION_LABEL, status_label=STATUS_LABEL, step_label=STEP_LABEL)


@bp.post("/posts/<int:post_id>/act")
@login_required
def act(post_id: int) -> Response:
    """Take an offered action on the revision this person saw (its hash comes with the form)."""
    return _done(post_id, lambda svc: svc.act(
        post_id, request.form.get("action", ""), current_user.id,
        comment=request.form.get("comment", "")[:5000],
        revision_hash=request.form.get("revision") or None))


@bp.post("/posts/<int:post_id>/schedule")
@login_required
def schedule(post_id: int) -> Response:
    """Set when and how the post goes out (an empty time: as soon as it is signed)."""
    return _done(post_id, lambda svc: svc.act(
        post_id, "schedule", current_user.id, schedule=ScheduleInput.parse(
            request.form.get("at"), request.form.get("mode"), svc.zone)))


def _done(post_id: int, call: Callable[[Service], ActOutcome]) -> Response:
    # What was done, or why not, as one message on the post's page.
    svc = service()
    try:
        out = call(svc)
    except SignoffError as exc:
        flash(ui("error") + exc.message(lang()), "error")
    else:
        flash(ui("done") + present.outcome_text(out, svc.org, svc.zone, lang()), "ok")
    return redirect(url_for("console.post", post_id=post_id))


@bp.get("/posts/<int:post_id>/diff")
@login_required
def diff(post_id: int) -> str | tuple[str, int]:
    """What changed between two revisions (default: the one before the current and the current)."""
    svc = service()
    try:
        current = svc.view(post_id).post.revision_number
        a, b = _int("a", current - 1), _int("b", current)
        old, new = svc.revision(post_id, a), svc.revision(post_id, b)
    except SignoffError as exc:
        return render_template("message.html", message=exc.message(lang())), 404
    return render_template("diff.html", post_id=post_id, old=old, new=new,
                           lines=revision_diff(old.content, new.content, lang()))
