"""The jobs page (admins and the operator): publishing and notification work, what the queue says
of each job and why it failed, with retry and cancel.

Everything goes through the façade: a post's retry and cancel are its own actions (`act`, offered
as `allowed_actions` says), a failed notification is sent again and a job is re-dispatched
through the outbox. What the queue says comes through the `QueueView` port the composition root
puts into `app.extensions["signoff.queue"]` (without it the page shows the outbox alone).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from approvals import present
from approvals.present.jobs import job_kind, job_status
from approvals.rules.errors import SignoffError
from approvals.rules.notices import EVENT_LABEL
from approvals.rules.states import ACTION_LABEL, PUBLISH_MODE_LABEL, STATUS_LABEL, Action
from approvals.services.jobs import QueueView
from approvals.views import ActOutcome
from approvals.web.console import service
from approvals.web.i18n import lang, ui

bp = Blueprint("jobs", __name__)
# What the page may do to a post: its own actions, offered as allowed_actions says.
POST_ACTIONS = {Action.RETRY.value: Action.RETRY, Action.CANCEL.value: Action.CANCEL}


def queue_view() -> QueueView | None:
    """The queue as the composition root wired it (None: the page shows the outbox alone)."""
    return current_app.extensions.get("signoff.queue")


@bp.app_context_processor
def _menu() -> dict[str, object]:
    # The menu shows the jobs page only to those who may open it.
    def may_run_jobs() -> bool:
        return bool(getattr(current_user, "is_authenticated", False)) and \
            service().may_run_jobs(current_user.id)
    return {"may_run_jobs": may_run_jobs}


@bp.before_request
@login_required
def _only_those_who_run_the_queue() -> None:
    # Admins run the queue and the operator publishes (art. 25); the façade says who is which.
    if not service().may_run_jobs(current_user.id):
        abort(403)


@bp.get("/jobs")
def page() -> str:
    """Signed posts on their way out, undelivered notifications, failed jobs."""
    svc = service()
    overview = svc.jobs_overview(current_user.id, queue_view())
    here = lang()

    def when(at: object) -> str:
        return present.local_time(at, svc.zone) if at is not None else ""  # type: ignore[arg-type]

    return render_template(
        "jobs.html", overview=overview, org=svc.org, when=when,
        status=lambda job: job_status(job, here, known=overview.queue_known),
        kind=lambda func: job_kind(func, here), status_label=STATUS_LABEL,
        mode_label=PUBLISH_MODE_LABEL, action_label=ACTION_LABEL, event_label=EVENT_LABEL)


@bp.post("/jobs/posts/<int:post_id>/<action>")
def act(post_id: int, action: str) -> Response:
    """Retry or cancel a post's publication (the post's own action, with the comment given)."""
    if action not in POST_ACTIONS:
        abort(404)
    return _done(lambda svc: svc.act(post_id, POST_ACTIONS[action], current_user.id,
                                     comment=request.form.get("comment", "")[:5000]))


@bp.post("/jobs/notifications/<int:notification_id>/retry")
def retry_notification(notification_id: int) -> Response:
    """Send a notification that failed for good once more."""
    return _done(lambda svc: svc.retry_notification(notification_id, current_user.id))


@bp.post("/jobs/items/<kind>/<int:item_id>/redispatch")
def redispatch(kind: str, item_id: int) -> Response:
    """Put a pending work item whose job will not run on the queue again now."""
    return _done(lambda svc: svc.redispatch(kind, item_id, current_user.id))


@bp.post("/jobs/failed/retry")
def retry_job() -> Response:
    """Retry a failed job (through its outbox items when it has any)."""
    job_id = request.form.get("job", "")[:200]
    return _done(lambda svc: svc.retry_job(job_id, current_user.id, queue_view()))


def _done(call: Callable[..., ActOutcome | None]) -> Response:
    # What was done, or why not, as one message on the jobs page; never a stack trace.
    svc = service()
    try:
        out = call(svc)
    except SignoffError as exc:
        flash(ui("error") + exc.message(lang()), "error")
    else:
        said = present.outcome_text(out, svc.org, svc.zone, lang()) if out is not None \
            else ui("jobs_dispatched")
        flash(ui("done") + said, "ok")
    return redirect(url_for("jobs.page"))
