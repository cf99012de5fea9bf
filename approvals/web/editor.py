"""The layout editor (operator and admins): title, author, digest, body HTML and cover; a .docx
imported into the body; in-article images uploaded and inserted; a live preview of the article as
it will look, footer included. Saving is the chain's `new_revision`, sent with the revision hash
the editor was opened on, so a save on top of someone else's newer revision is refused and the
person's text comes back with the message.

No rule lives here: the façade says who may edit (`allowed_actions`), stores images and .docx
files, renders the preview and checks the revision (`act`); this module only maps what it says
to the form's fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from approvals import present
from approvals.rules.article import COVER_MAX_BYTES, INLINE_MAX_BYTES
from approvals.rules.errors import (
    InvalidInput,
    InvalidRevision,
    InvalidTransition,
    NotAllowed,
    NotFound,
    SignoffError,
    Text,
)
from approvals.rules.states import Action
from approvals.services import Service
from approvals.services.docx import DOCX_MAX_BYTES
from approvals.views import RevisionInput
from approvals.web.api import http_error, is_api_request
from approvals.web.i18n import lang, ui
from approvals.web.preview import image_response

bp = Blueprint("editor", __name__)
FIELDS = ("title", "author", "digest", "body", "cover", "docx", "image")
TEXT_MAX = 2_000_000  # characters kept from a text field: far past any limit, never unbounded


def service() -> Service:
    """The façade as this app's face (its audit rows say "web")."""
    return current_app.extensions["signoff.service"]  # type: ignore[no-any-return]


@dataclass
class EditorForm:
    """What the form shows: the person's text as typed, and what is wrong with it, by field."""

    title: str = ""
    author: str = ""
    digest: str = ""
    body: str = ""
    comment: str = ""
    cover_sha: str = ""
    based_on: str = ""
    based_number: int = 0
    errors: dict[str, list[str]] = field(default_factory=dict)
    error: str = ""  # what is not about one field (a stale revision, the status, …)

    def fail(self, name: str, text: Text | str) -> None:
        """Note a problem with one field, in the person's language."""
        self.errors.setdefault(name, []).append(text.get(lang()) if isinstance(text, Text)
                                                else text)

    @classmethod
    def posted(cls) -> EditorForm:
        """The form as it came in (every text kept, so nothing is lost when it is refused)."""
        f = request.form
        number = f.get("based_number", "0")
        return cls(title=f.get("title", "")[:TEXT_MAX], author=f.get("author", "")[:TEXT_MAX],
                   digest=f.get("digest", "")[:TEXT_MAX], body=f.get("body", "")[:TEXT_MAX],
                   comment=f.get("comment", "")[:TEXT_MAX],
                   cover_sha=f.get("cover_sha", "")[:64], based_on=f.get("based_on", "")[:64],
                   based_number=int(number) if number.isascii() and number.isdigit()
                   and len(number) < 8 else 0)

    def revision(self, *, based_on: str | None = None) -> RevisionInput:
        """The revision this form asks for."""
        return RevisionInput(title=self.title, body=self.body, body_format="html",
                             author=self.author, digest=self.digest,
                             cover_sha256=self.cover_sha or None, based_on=based_on)


def _refusal(post_id: int) -> SignoffError | None:
    """None when the façade offers this person a new revision of the post; else why not (the
    rules' own reason: not a layout maker, or not in this status)."""
    svc = service()
    try:
        offered = svc.allowed_actions(post_id, current_user.id)
    except NotFound:
        abort(404)
    if Action.NEW_REVISION in offered:
        return None
    try:
        svc.layout.opened_on(post_id, current_user.id)  # raises with the reason
    except SignoffError as exc:
        return exc
    abort(403)


@bp.get("/posts/<int:post_id>/edit")
@login_required
def edit(post_id: int) -> str | tuple[str, int]:
    """The editor, filled from the current revision (or the material when there is none)."""
    refused = _refusal(post_id)
    if refused is not None:
        return _refused(refused)
    try:
        draft = service().layout.opened_on(post_id, current_user.id)
    except SignoffError as exc:  # the post changed between the two reads
        return _refused(exc)
    form = EditorForm(title=draft.title, author=draft.author, digest=draft.digest,
                      body=draft.body_html, cover_sha=draft.cover_sha256 or "",
                      based_on=draft.based_on, based_number=draft.revision_number)
    return _render(post_id, form)


@bp.post("/posts/<int:post_id>/edit")
@login_required
def save(post_id: int) -> Any:
    """Import a .docx, upload an image or a cover (the form comes back, nothing saved yet), or
    save a new revision (to the post's page)."""
    form = EditorForm.posted()
    refused = _refusal(post_id)
    if refused is not None:  # signed meanwhile, say: the text comes back with the reason
        form.error = ui("may_not_edit") + refused.message(lang()) + " " + ui("text_kept")
        return _render(post_id, form, status=403 if isinstance(refused, NotAllowed) else 409)
    svc = service()
    op = request.form.get("op", "save")
    if op not in ("save", "import", "image"):
        form.error = ui("unknown_op")
        return _render(post_id, form, status=400)
    notes: list[str] = []
    cover = _file("cover")
    if cover is not None:
        try:
            form.cover_sha = svc.layout.store_image(post_id, current_user.id, cover.filename or "",
                                                    cover.read(), cover=True)
            notes.append(ui("cover_kept"))
        except InvalidInput as exc:
            form.fail("cover", exc.text)
        except SignoffError as exc:
            return _refused(exc)
    if op == "import":
        _import_docx(post_id, form, notes)
    elif op == "image":
        _insert_image(post_id, form, notes)
    elif not form.errors:
        return _save(post_id, form)
    if form.errors and not form.error:
        form.error = ui("fix_fields")
    return _render(post_id, form, notes=notes, status=400 if form.errors else 200)


def _save(post_id: int, form: EditorForm) -> Any:
    svc = service()
    try:
        out = svc.act(post_id, Action.NEW_REVISION, current_user.id, comment=form.comment,
                      revision=form.revision(based_on=form.based_on))
    except InvalidRevision as exc:
        for name, text in exc.problems:
            form.fail(name, text)
        form.error = ui("fix_fields")
        return _render(post_id, form, status=400)
    except NotAllowed as exc:
        return _refused(exc)
    except InvalidTransition as exc:  # a stale revision, someone else's save first, the status
        form.error = exc.message(lang()) + " " + ui("text_kept")
        return _render(post_id, form, status=409)
    except SignoffError as exc:  # bad input not of one field (a control character, no body…)
        form.error = exc.message(lang()) + " " + ui("text_kept")
        return _render(post_id, form, status=400)
    flash(ui("done") + present.outcome_text(out, svc.org, svc.zone, lang()), "ok")
    return redirect(url_for("console.post", post_id=post_id))


def _import_docx(post_id: int, form: EditorForm, notes: list[str]) -> None:
    upload = _file("docx")
    if upload is None:
        form.fail("docx", ui("choose_docx"))
        return
    try:
        done = service().layout.import_docx(post_id, current_user.id, upload.filename or "",
                                            upload.read())
    except InvalidInput as exc:
        form.fail("docx", exc.text)
        return
    form.body = done.html
    notes.append(ui("docx_imported"))
    notes.extend(w.get(lang()) for w in done.warnings)


def _insert_image(post_id: int, form: EditorForm, notes: list[str]) -> None:
    upload = _file("image")
    if upload is None:
        form.fail("image", ui("choose_image"))
        return
    try:
        sha = service().layout.store_image(post_id, current_user.id, upload.filename or "",
                                           upload.read())
    except InvalidInput as exc:
        form.fail("image", exc.text)
        return
    tag = f'<p><img src="/assets/{sha}" alt=""></p>'
    caret = request.form.get("caret", "")
    at = int(caret) if caret.isascii() and caret.isdigit() and len(caret) < 10 \
        and int(caret) <= len(form.body) else len(form.body)
    form.body = form.body[:at] + tag + form.body[at:]
    notes.append(ui("image_inserted"))


@bp.post("/posts/<int:post_id>/edit/preview")
@login_required
def preview(post_id: int) -> Response | tuple[Response, int]:
    """The article as it will look once saved (the body as the sanitiser keeps it, footer
    included) and what saving would refuse, by field: JSON for the editor's script."""
    refused = _refusal(post_id)
    if refused is not None:
        return jsonify(error=refused.message(lang())), 403 if isinstance(refused, NotAllowed) else 409
    form = EditorForm.posted()
    try:
        shown = service().layout.preview(post_id, current_user.id, form.revision(),
                                         pending=_pending())
    except SignoffError as exc:
        return jsonify(error=exc.message(lang())), 409
    problems: dict[str, list[str]] = {}
    for name, text in shown.problems:
        problems.setdefault(name, []).append(text.get(lang()))
    return jsonify(html=_frame(form, shown.article_html), problems=problems)


@bp.get("/assets/<sha256>")
@login_required
def asset(sha256: str) -> Response:
    """A stored image, for the editor, the post page and the preview (judged by its content)."""
    return image_response(service().layout.asset(sha256))


@bp.app_errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> tuple[str, int] | Response:
    if is_api_request():
        return http_error(exc)
    return render_template("message.html", message=ui("too_large")), 413


def _file(name: str) -> FileStorage | None:
    upload = request.files.get(name)
    return upload if upload is not None and upload.filename else None


def _pending() -> str:
    return "(pending)" if lang() == "en" else "（待定）"


def _frame(form: EditorForm, article_html: str) -> str:
    """The preview's document: the same article template and CSS as the signed preview page."""
    return render_template("editor_preview.html", title=form.title, author=form.author,
                           digest=form.digest, article=article_html)


def _render(post_id: int, form: EditorForm, *, notes: list[str] | None = None,
            status: int = 200) -> tuple[str, int]:
    svc = service()
    try:
        shown = svc.layout.preview(post_id, current_user.id, form.revision(), pending=_pending())
        frame = _frame(form, shown.article_html)
    except SignoffError:
        frame = ""
    request_max = current_app.config.get("MAX_CONTENT_LENGTH") or DOCX_MAX_BYTES
    limits = {"cover": COVER_MAX_BYTES, "image": INLINE_MAX_BYTES - 1,
              "docx": min(DOCX_MAX_BYTES, request_max)}
    return render_template("editor.html", post_id=post_id, form=form, notes=notes or [],
                           frame=frame, fields=FIELDS, limits=limits), status


def _refused(exc: SignoffError) -> tuple[str, int]:
    status = 404 if isinstance(exc, NotFound) else 403
    return render_template("message.html", message=ui("may_not_edit") + exc.message(lang())), status
