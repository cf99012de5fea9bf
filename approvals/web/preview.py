"""Signed preview pages `/p/<token>`: one revision of one post, readable without a login until
the link expires, laid out like the article on a phone.

Tokens are itsdangerous timed signatures over (post, revision hash) with their own salt. The
console's current key signs; earlier keys (`previous_keys`) still verify, so a key can be rotated
without breaking the links already sent. A tampered link and an expired one each get a page that
says so, never a stack trace.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from approvals.rules.article import ASSET_SRC, footer_for, image_kind
from approvals.rules.article import render as render_article
from approvals.rules.content import sanitize
from approvals.rules.errors import NotFound
from approvals.rules.states import STATUS_LABEL
from approvals.services.links import PREVIEW_MAX_AGE, PREVIEW_SALT, preview_signer
from approvals.views import Asset
from approvals.web.i18n import lang

bp = Blueprint("preview", __name__)
SALT, MAX_AGE = PREVIEW_SALT, PREVIEW_MAX_AGE


def signer() -> URLSafeTimedSerializer:
    """The serializer with every key that may verify; the newest (the last) signs."""
    keys = [*current_app.config["PREVIEW_PREVIOUS_KEYS"], current_app.config["SECRET_KEY"]]
    return preview_signer(keys)


def preview_url(post_id: int, revision_hash: str) -> str:
    """A link to this revision's preview page (inside a request or app context)."""
    token = signer().dumps({"p": post_id, "r": revision_hash})
    return url_for("preview.page", token=token, _external=True)


@bp.get("/p/<token>")
def page(token: str) -> tuple[str, int]:
    """The revision as the article will look, its number, hash and where the post stands."""
    try:
        data = signer().loads(token, max_age=MAX_AGE)
        post_id, wanted = int(data["p"]), str(data["r"])
    except SignatureExpired:
        return render_template("preview_gone.html", reason="expired"), 410
    except (BadSignature, KeyError, TypeError, ValueError):
        return render_template("preview_gone.html", reason="invalid"), 404
    svc = current_app.extensions["signoff.service"]
    try:
        view = svc.view(post_id)
    except NotFound:
        return render_template("preview_gone.html", reason="invalid"), 404
    rev = view.state.revision
    if rev is None or rev.content_hash != wanted:
        return render_template("preview_gone.html", reason="superseded", view=view), 410
    footer = footer_for(view.state, svc.org, pending="（待定）" if lang() != "en" else "(pending)")
    # The revision's own images, through this link (the reader has no login).
    images = {sha: url_for("preview.image", token=token, sha256=sha)
              for sha in ASSET_SRC.findall(rev.content.body_html)}
    article = render_article(sanitize(rev.content.body_html), footer, images)
    return render_template("preview.html", view=view, rev=rev, article=article,
                           status=STATUS_LABEL[view.post.status]), 200


@bp.get("/p/<token>/assets/<sha256>")
def image(token: str, sha256: str) -> Response:
    """An image of the previewed revision, for as long as its link is valid (only that
    revision's own images: the link opens nothing else)."""
    try:
        data = signer().loads(token, max_age=MAX_AGE)
        post_id, wanted = int(data["p"]), str(data["r"])
    except (BadSignature, KeyError, TypeError, ValueError):
        abort(404)
    svc = current_app.extensions["signoff.service"]
    try:
        rev = svc.view(post_id).state.revision
    except NotFound:
        abort(404)
    if rev is None or rev.content_hash != wanted or sha256 not in ASSET_SRC.findall(
            rev.content.body_html):
        abort(404)
    return image_response(svc.layout.asset(sha256))


def image_response(found: Asset | None) -> Response:
    """A stored image as a response, its type judged by its content (404 when it is none)."""
    kind = image_kind(found.data) if found is not None else None
    if found is None or kind is None:
        abort(404)
    answer = Response(found.data, mimetype=f"image/{kind}")
    answer.headers["X-Content-Type-Options"] = "nosniff"
    answer.headers["Content-Security-Policy"] = "default-src 'none'"
    answer.headers["Cache-Control"] = "private, max-age=86400"  # the hash names the content
    return answer
