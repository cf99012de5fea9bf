"""The JSON API `/api/v1` for department systems: a face over the service façade like the console.

Every call carries a person's bearer token (`Authorization: Bearer sgf_…`, issued with
`signoff people token issue`); requests are validated against the same pydantic models that
write `/api/v1/openapi.json`, and every refusal is `{"error": {"code", "message"}}` in the
caller's language (Accept-Language, else the person's, else the unit's). Audit rows say "api".
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, jsonify, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import ValidationError
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.wrappers import Response

from approvals import present
from approvals.rules.errors import (
    AlreadyDecided,
    GateBlocked,
    InvalidTransition,
    NotAllowed,
    NotFound,
    SignoffError,
    StaleRevision,
    Text,
    Unavailable,
    normalize_language,
)
from approvals.rules.states import STATUS_LABEL, STEP_LABEL, Action
from approvals.services import Service
from approvals.views import PostView, QueueQuery, RevisionInput, ScheduleInput, parse_day
from approvals.web.api_models import (
    ActionIn,
    ActionOut,
    AuditEntryOut,
    AuditOut,
    DocxPostOut,
    ErrorOut,
    FindingOut,
    MeOut,
    PostBrief,
    PostDocxForm,
    PostIn,
    PostListOut,
    PostOut,
    PostPath,
    PostQuery,
    RevisionIn,
    RevisionOut,
    WeChatIds,
)
from approvals.web.preview import preview_url

PREFIX = "/api/v1"
posts_tag = Tag(name="posts", description="Drafts, layouts, actions and the audit trail")
api = APIBlueprint("api", __name__, url_prefix=PREFIX, abp_tags=[posts_tag],
                   abp_security=[{"bearer": []}])
REFUSALS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
STATUS_OF: tuple[tuple[type[SignoffError], int], ...] = (
    (NotFound, 404), (NotAllowed, 403), (StaleRevision, 409), (AlreadyDecided, 409),
    (InvalidTransition, 409), (GateBlocked, 422), (Unavailable, 503))

UNAUTHORIZED = Text("需要有效的 API 令牌（Authorization: Bearer …）。",
                    "A valid API token is needed (Authorization: Bearer …).")
INVALID = Text("请求内容不符合要求：", "The request is not valid: ")
NOT_JSON = Text("body: 不是有效的 JSON（须为 UTF-8 编码，嵌套不超过数百层）",
                "body: not valid JSON (it must be UTF-8, nested no more than a few hundred deep)")
HTTP_TEXT: dict[int, Text] = {
    400: Text("请求格式错误。", "Malformed request."),
    404: Text("没有这个接口。", "No such endpoint."),
    405: Text("此接口不支持该请求方法。", "This endpoint does not take that method."),
    413: Text("请求内容过大。", "The request is too large."),
    415: Text("不支持的内容类型。", "Unsupported content type."),
}
# Pydantic's error types, said in Chinese (English keeps pydantic's own words).
PROBLEM_ZH = {
    "missing": "必填", "extra_forbidden": "不接受此字段", "string_too_long": "过长",
    "string_too_short": "不能为空", "string_type": "应为字符串", "int_parsing": "应为整数",
    "int_type": "应为整数", "bool_parsing": "应为 true 或 false", "bool_type": "应为 true 或 false",
    "enum": "取值无效", "literal_error": "取值无效", "less_than_equal": "过大",
    "greater_than_equal": "过小", "model_type": "应为 JSON 对象", "dict_type": "应为 JSON 对象",
    "json_invalid": "不是有效的 JSON", "value_error": "取值无效",
    "string_unicode": "含有无效的 Unicode 字符",
}


def service() -> Service:
    """The façade as the API (its audit rows say "api")."""
    return current_app.extensions["signoff.api"]  # type: ignore[no-any-return]


def api_lang() -> str:
    """The caller's language: Accept-Language, else the token owner's, else the unit's."""
    for value, _quality in request.accept_languages:
        low = value.lower()
        if low.startswith(("zh", "en")):
            return normalize_language(low)
    person = service().org.people.get(g.get("api_person") or "")
    if person and person.language:
        return normalize_language(person.language)
    return normalize_language(current_app.extensions["signoff"].settings.language)


def error(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None,
          ) -> Response:
    """The one shape of every refusal."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="signoff"'
    return response


def validation_error(exc: ValidationError) -> Response:
    """A request that does not match its documented shape: 422 naming every bad field."""
    lang = api_lang()
    details, parts = [], []
    for e in exc.errors(include_url=False, include_context=False, include_input=False):
        where = ".".join(str(p) for p in e["loc"]) or "body"
        problem = e["msg"] if lang == "en" else PROBLEM_ZH.get(e["type"], e["msg"])
        details.append({"field": where, "type": e["type"], "message": problem})
        parts.append(f"{where}: {problem}")
    return error(422, "invalid_input", INVALID.get(lang) + "; ".join(parts), details)


def refusal(exc: SignoffError) -> Response:
    """A rule's "no" as an answer: the status says which kind, the message says why."""
    status = next((code for kind, code in STATUS_OF if isinstance(exc, kind)), 422)
    details = None
    if isinstance(exc, GateBlocked):
        details = [f.as_dict() for f in exc.findings if hasattr(f, "as_dict")]
    return error(status, exc.code, exc.message(api_lang()), details)


@api.before_request
def _authenticate() -> Response | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    person = service().person_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if person is None:
        return error(401, "unauthorized", UNAUTHORIZED.get(api_lang()))
    g.api_person = person
    return None


@api.before_request
def _json_body() -> Response | None:
    """A JSON body that does not parse is refused as such (flask-openapi3 would take it for no
    body at all and say "should be an object"; a body nested thousands deep would end in a
    RecursionError, a 500). Parsed here once: the view's validation reads Flask's cached copy."""
    if not request.is_json or not request.content_length:
        return None
    try:
        request.get_json()
    except (BadRequest, RecursionError, ValueError):
        problem = NOT_JSON.get(api_lang())
        return error(422, "invalid_input", INVALID.get(api_lang()) + problem,
                     [{"field": "body", "type": "json_invalid", "message": problem}])
    return None


def _post_out(svc: Service, view: PostView, person: str) -> dict[str, Any]:
    lang = api_lang()
    p, rev = view.post, view.revision
    assignee = view.assignee.person if view.assignee else None
    return PostOut(
        id=p.id, title=p.title, status=p.status, status_label=STATUS_LABEL[p.status].get(lang),
        department=p.department, drafter=p.drafter, category=p.category,
        classification=p.classification, formed_on=p.formed_on.isoformat(),
        due_on=p.due_on.isoformat(), due_estimated=p.due_estimated,
        revision=RevisionOut(number=rev.number, hash=rev.content_hash, title=rev.title,
                             author=rev.author, digest=rev.digest, made_by=rev.made_by,
                             created_at=rev.created_at) if rev else None,
        step=STEP_LABEL[view.step].get(lang) if view.step else None, waiting_on=assignee,
        findings=[FindingOut(code=f.code, article=f.article, blocking=f.blocking,
                             message=f.text.get(lang)) for f in view.findings],
        allowed_actions=[str(a) for a in svc.allowed_in(view, person)],
        preview_url=preview_url(p.id, rev.content_hash) if rev else None,
        wechat_preview_url=view.preview_url, publish_mode=p.publish_mode,
        scheduled_at=p.scheduled_at, article_url=p.article_url, published_at=p.published_at,
        problem=p.problem.get(lang),
        wechat=WeChatIds(draft_media_id=pub.draft_media_id, publish_id=pub.publish_id,
                         msg_id=pub.msg_id, article_id=pub.article_id,
                         article_url=pub.article_url, status=pub.wechat_status)
        if (pub := view.publication) else None,
    ).model_dump(mode="json")


def _post(post_id: int, status: int = 200) -> tuple[dict[str, Any], int]:
    svc = service()
    return _post_out(svc, svc.view(post_id), g.api_person), status


@api.get("/me", summary="Whose token this is", responses={200: MeOut, 401: ErrorOut})
def me() -> dict[str, Any]:
    """The token's owner as the org chart knows them."""
    org = service().org
    key = g.api_person
    person = org.people[key]
    roles = [r for r, on in (("admin", org.is_admin(key)), ("operator", org.is_operator(key)),
                             ("issuer", org.issuer == key)) if on]
    departments = org.departments_of(key)
    return MeOut(person=key, name=person.name, roles=roles, language=api_lang(),
                 department=departments[0].code if departments else None).model_dump(mode="json")


@api.get("/posts", summary="List posts", responses={200: PostListOut, **REFUSALS})
def list_posts(query: PostQuery) -> dict[str, Any]:
    """The queue: filtered, ordered and a page at a time."""
    svc = service()
    page = svc.queue(QueueQuery(
        status=query.status, department=query.department, drafter=query.drafter,
        search=query.q, overdue=query.overdue, include_archived=query.include_archived,
        sort=str(query.sort), page=query.page, per_page=query.per_page))
    lang = api_lang()
    posts = []
    for p in page.posts:
        step, waiting = page.waiting.get(p.id, (None, None))
        posts.append(PostBrief(
            id=p.id, title=p.title, status=p.status, status_label=STATUS_LABEL[p.status].get(lang),
            department=p.department, drafter=p.drafter, category=p.category,
            formed_on=p.formed_on.isoformat(), due_on=p.due_on.isoformat(),
            due_estimated=p.due_estimated, revision_number=p.revision_number,
            step=STEP_LABEL[step].get(lang) if step else None, waiting_on=waiting,
            scheduled_at=p.scheduled_at, article_url=p.article_url, published_at=p.published_at,
        ).model_dump(mode="json"))
    return PostListOut.model_validate({"posts": posts, "total": page.total, "page": page.page,
                                       "per_page": page.per_page, "pages": page.pages}
                                      ).model_dump(mode="json")


@api.post("/posts", summary="Hand in a draft", responses={201: PostOut, **REFUSALS})
def create_post(body: PostIn) -> tuple[dict[str, Any], int]:
    """The token's owner hands in material as its drafter; the post waits for layout."""
    post_id = service().create_post(
        drafter=g.api_person, title=body.title, body=body.body, body_format=body.body_format,
        category=body.category, classification=body.classification,
        formed_on=parse_day(body.formed_on), department=body.department,
        repost_source=body.repost_source)
    return _post(post_id, 201)


@api.post("/posts/docx", summary="Hand in a draft as a Word document",
          responses={201: DocxPostOut, 413: ErrorOut, **REFUSALS})
def create_post_docx(form: PostDocxForm) -> tuple[dict[str, Any], int]:
    """The token's owner hands in a .docx (multipart/form-data, field `file`); its body becomes
    clean HTML and its images the post's assets."""
    svc = service()
    post_id, warnings = svc.create_post_from_docx(
        drafter=g.api_person, filename=form.file.filename or "document.docx",
        data=form.file.read(), title=form.title, category=form.category,
        classification=form.classification, formed_on=parse_day(form.formed_on),
        repost_source=form.repost_source)
    out = _post_out(svc, svc.view(post_id), g.api_person)
    return {**out, "warnings": [w.get(api_lang()) for w in warnings]}, 201


@api.get("/posts/<int:post_id>", summary="Get a post", responses={200: PostOut, **REFUSALS})
def get_post(path: PostPath) -> tuple[dict[str, Any], int]:
    """One post with its revision, gates, step and the caller's actions."""
    return _post(path.post_id)


@api.post("/posts/<int:post_id>/revisions", summary="Add a layout revision",
          responses={201: PostOut, **REFUSALS})
def add_revision(path: PostPath, body: RevisionIn) -> tuple[dict[str, Any], int]:
    """A new layout (operator or admin); the chain starts again on it."""
    service().act(path.post_id, Action.NEW_REVISION, g.api_person, comment=body.comment,
                  revision=RevisionInput(title=body.title, body=body.body_html, author=body.author,
                                         digest=body.digest, based_on=body.base_revision))
    return _post(path.post_id, 201)


@api.post("/posts/<int:post_id>/actions", summary="Act on a post",
          responses={200: ActionOut, **REFUSALS})
def act(path: PostPath, body: ActionIn) -> dict[str, Any]:
    """Confirm, approve, request changes, reject, withdraw, sign, schedule, retry, … on the
    revision the caller saw."""
    svc = service()
    schedule = None
    if body.action == Action.SCHEDULE:
        schedule = ScheduleInput.parse(body.schedule_at, body.mode, svc.zone)
    out = svc.act(path.post_id, str(body.action), g.api_person, comment=body.comment,
                  revision_hash=body.revision, basis=body.basis, url=body.url,
                  schedule=schedule)
    post, _ = _post(path.post_id)
    return ActionOut.model_validate({
        "action": str(out.action), "status_before": out.status_before,
        "status_after": out.status_after, "post": post,
        "message": present.outcome_text(out, svc.org, svc.zone, api_lang())}
    ).model_dump(mode="json")


@api.get("/posts/<int:post_id>/audit", summary="The post's audit trail",
         responses={200: AuditOut, **REFUSALS})
def audit_trail(path: PostPath) -> dict[str, Any]:
    """Every audit row of the post, oldest first, with its link in the hash chain."""
    view = service().view(path.post_id)
    return AuditOut(post_id=path.post_id, entries=[
        AuditEntryOut(seq=e.seq, at=e.at, actor=e.actor, action=e.action, detail=e.detail,
                      hash=e.hash) for e in view.timeline]).model_dump(mode="json")


def install(app: Flask) -> None:
    """Mount the API on `app` (an OpenAPI app): its document, its errors, no CSRF (tokens, not
    cookies, authenticate it)."""
    app.register_api(api)  # type: ignore[attr-defined]
    app.extensions["csrf"].exempt(api)

    @app.get(PREFIX + "/openapi.json")
    def openapi_document() -> dict[str, Any]:
        return app.api_doc  # type: ignore[attr-defined,no-any-return]



@api.errorhandler(SignoffError)
def _refused(exc: SignoffError) -> Response:
    return refusal(exc)


def is_api_request() -> bool:
    """Whether this request is for the API (its refusals are JSON)."""
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def http_error(exc: HTTPException) -> Response:
    """An HTTP-level refusal (unknown endpoint, wrong method, too large) in the API's shape."""
    status = exc.code or 400
    text = HTTP_TEXT.get(status, HTTP_TEXT[400])
    return error(status, {404: "not_found", 405: "method_not_allowed", 413: "too_large",
                          415: "unsupported_media_type"}.get(status, "bad_request"),
                 text.get(api_lang()))
