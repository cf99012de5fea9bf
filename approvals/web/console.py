"""The queue and a post's page: what the façade says, and the actions it offers this person."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from approvals import present
from approvals.present.diff import revision_diff
from approvals.rules.content import sanitize
from approvals.rules.errors import SignoffError
from approvals.rules.states import ACTION_LABEL, STATUS_LABEL, STEP_LABEL, Action, PostStatus
from approvals.services import Service
from approvals.views import (
    QUEUE_PAGE_MAX,
    QUEUE_SORTS,
    ActOutcome,
    QueuePage,
    QueueQuery,
    ScheduleInput,
)
from approvals.web.i18n import lang, ui
from approvals.web.preview import preview_url

bp = Blueprint("console", __name__)
# What the post page offers as a form; the rest (new_revision, schedule, …) come with the editor.
FORM_ACTIONS = (Action.CONFIRM, Action.APPROVE, Action.SIGN, Action.REQUEST_CHANGES,
                Action.REJECT, Action.WITHDRAW, Action.RESUBMIT, Action.RETRY,
                Action.CANCEL)


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
    return render_template("queue.html", page=page, lines=_lines(page, svc), query=query,
                           org=svc.org, status_label=STATUS_LABEL, statuses=list(PostStatus),
                           sorts=QUEUE_SORTS, args=args.to_dict())


class _Line(NamedTuple):
    """One post of the queue as its row shows it, every text in the reader's language."""

    id: int
    url: str
    title: str
    status: str
    department: str
    drafter: str
    waiting: str  # the open step and who it waits on; empty outside review
    due: str
    late: bool


DONE = (PostStatus.PUBLISHED, PostStatus.REJECTED, PostStatus.WITHDRAWN)


def _lines(page: QueuePage, svc: Service) -> list[_Line]:
    # The rows' texts are put together here, once per page, rather than by template calls for
    # every cell (fifty rows of them make most of the page's rendering time).
    org, today, language = svc.org, svc.today(), lang()
    # A post's address is the same but for its number: one url_for for the page.
    marker = 987654321
    before, _, after = url_for("console.post", post_id=marker).partition(str(marker))
    colon, nobody = (": " if language == "en" else "："), ui("nobody")
    estimated, overdue = ui("estimated"), ui("overdue")
    lines = []
    for p in page.posts:
        department = org.departments.get(p.department)
        waiting = ""
        if p.id in page.waiting:
            step, person = page.waiting[p.id]
            waiting = (STEP_LABEL[step].get(language) + colon
                       + (org.name_of(person) if person else nobody))
        late = p.due_on < today and p.status not in DONE
        lines.append(_Line(
            p.id, f"{before}{p.id}{after}", p.title, STATUS_LABEL[p.status].get(language),
            department.name if department is not None else p.department,
            org.name_of(p.drafter), waiting,
            f"{p.due_on}{estimated if p.due_estimated else ''}{' · ' + overdue if late else ''}",
            late))
    return lines


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
