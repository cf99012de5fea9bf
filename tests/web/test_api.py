"""The JSON API through Flask's test client: tokens, hand-in, layout, every action by every
persona, the audit trail, the OpenAPI document, and refusals that are always 4xx JSON."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from approvals.bootstrap import Core
from approvals.rules.states import Action, PostStatus
from approvals.store import models as m
from approvals.web import create_app
from tests.conftest import Personas

BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"
TITLE = "我局开展冬季防汛应急演练"


@pytest.fixture
def app(core: Core) -> Flask:
    return create_app(core, secret_key="k" * 32, testing=True)


@pytest.fixture
def tokens(core: Core, who: Personas) -> dict[str, str]:
    """One live token for every persona of the org chart."""
    people = (who.drafter, who.head, who.leader, who.issuer, who.admin, who.operator,
              who.deputy, who.principal, who.colleague)
    return {p: core.service.issue_token(p, "test system", by="test")[1] for p in people}


class Api:
    """A caller holding one person's token."""

    def __init__(self, client: FlaskClient, token: str | None, lang: str | None = None) -> None:
        self.client, self.headers = client, {}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        if lang:
            self.headers["Accept-Language"] = lang

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.client.get("/api/v1" + path, headers=self.headers, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> TestResponse:
        return self.client.post("/api/v1" + path, json=body, headers=self.headers, **kw)


def as_(app: Flask, tokens: dict[str, str], person: str, lang: str | None = None) -> Api:
    return Api(app.test_client(), tokens[person], lang)


def refused(answer: TestResponse, status: int, code: str) -> str:
    """The answer is the API's refusal shape with this status and code; returns its message."""
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.is_json, answer.get_data(as_text=True)
    error = answer.get_json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    return str(error["message"])


def handed_in(app: Flask, tokens: dict[str, str], who: Personas) -> dict[str, Any]:
    answer = as_(app, tokens, who.drafter).post("/posts", {"title": TITLE, "body": BODY})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()  # type: ignore[no-any-return]


def laid_out(app: Flask, tokens: dict[str, str], who: Personas) -> dict[str, Any]:
    post = handed_in(app, tokens, who)
    answer = as_(app, tokens, who.operator).post(f"/posts/{post['id']}/revisions", {
        "title": TITLE, "body_html": f"<p>{BODY}</p>", "digest": "冬季防汛演练"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()  # type: ignore[no-any-return]


# --- tokens ---------------------------------------------------------------------------------------


def test_every_call_needs_a_live_token(app: Flask, core: Core, tokens: dict[str, str],
                                       who: Personas) -> None:
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer sgf_not-a-token"},
                    {"Authorization": "Basic " + tokens[who.drafter]},
                    {"Authorization": tokens[who.drafter]}):
        answer = client.get("/api/v1/posts", headers=headers)
        assert "需要有效的 API 令牌" in refused(answer, 401, "unauthorized")
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    me = Api(client, tokens[who.drafter]).get("/me")
    assert me.status_code == 200 and me.get_json()["person"] == who.drafter
    token_id = core.service.tokens(who.drafter)[0].id
    core.service.revoke_token(token_id, by=who.admin)
    refused(Api(client, tokens[who.drafter]).get("/me"), 401, "unauthorized")


def test_tokens_are_kept_only_as_hashes(core: Core, tokens: dict[str, str], who: Personas) -> None:
    with core.deps.sessions() as s:
        stored = {row.token_hash for row in s.scalars(select(m.ApiToken))}
        audit_text = " ".join(row.detail for row in s.scalars(select(m.AuditEntry)))
    assert len(stored) == len(tokens)
    for token in tokens.values():
        assert token.startswith("sgf_") and len(token) > 40
        assert token not in stored and token not in audit_text
    listed = core.service.tokens(who.drafter)
    assert [t.name for t in listed] == ["test system"] and listed[0].prefix == tokens[who.drafter][:10]


def test_a_token_answers_in_the_callers_language(app: Flask, tokens: dict[str, str],
                                                 who: Personas) -> None:
    client = app.test_client()
    english = client.get("/api/v1/posts/999999", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "API token" in refused(english, 401, "unauthorized")
    missing = as_(app, tokens, who.drafter, "en").get("/posts/999999")
    assert "999999" in refused(missing, 404, "not_found")
    chinese = as_(app, tokens, who.drafter).get("/posts/999999")
    assert "没有" in refused(chinese, 404, "not_found")


# --- hand-in, layout, actions ----------------------------------------------------------------------


def test_a_draft_handed_in_through_the_api_is_the_token_owners(
        app: Flask, core: Core, tokens: dict[str, str], who: Personas) -> None:
    post = handed_in(app, tokens, who)
    assert post["status"] == PostStatus.DRAFT and post["drafter"] == who.drafter
    assert post["revision"] is None and post["due_on"]
    view = core.service.view(post["id"])
    assert view.post.title == TITLE and view.post.drafter == who.drafter
    with core.deps.sessions() as s:
        row = s.scalars(select(m.AuditEntry).where(m.AuditEntry.post_id == post["id"])).first()
    assert row is not None and row.actor == who.drafter and '"channel":"api"' in row.detail


def test_the_chain_walks_through_the_api(app: Flask, core: Core, tokens: dict[str, str],
                                         who: Personas) -> None:
    post = laid_out(app, tokens, who)
    pid, rev = post["id"], post["revision"]["hash"]
    assert post["status"] == PostStatus.IN_REVIEW and post["preview_url"].startswith("http")
    steps = [(who.drafter, "confirm"), (who.head, "approve"), (who.leader, "approve"),
             (who.issuer, "sign")]
    for person, action in steps:
        mine = as_(app, tokens, person).get(f"/posts/{pid}").get_json()
        assert action in mine["allowed_actions"], (person, mine["allowed_actions"])
        answer = as_(app, tokens, person).post(f"/posts/{pid}/actions",
                                               {"action": action, "revision": rev})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.get_json()["message"]
    assert core.service.view(pid).post.status == PostStatus.SIGNED
    trail = as_(app, tokens, who.admin).get(f"/posts/{pid}/audit").get_json()["entries"]
    decided = [(e["actor"], e["detail"].get("channel")) for e in trail
               if e["action"] in ("post.confirm", "post.approve", "post.sign")]
    assert decided == [(p, "api") for p, _ in steps]
    assert all(len(e["hash"]) == 64 for e in trail)
    assert [e["seq"] for e in trail] == sorted(e["seq"] for e in trail)


def test_every_action_by_every_persona_matches_allowed_actions(
        app: Flask, core: Core, tokens: dict[str, str], who: Personas) -> None:
    """The authorisation matrix: for every persona and every action, the API does exactly what
    allowed_actions offers and refuses the rest with 403/409/422, never a 500."""
    post = laid_out(app, tokens, who)
    pid, rev = post["id"], post["revision"]["hash"]
    people = [p for p in tokens if p != who.drafter]
    for person in people:
        offered = set(as_(app, tokens, person).get(f"/posts/{pid}").get_json()["allowed_actions"])
        for action in Action:
            if action.value not in offered and action.value in ACTION_VALUES:
                answer = as_(app, tokens, person).post(f"/posts/{pid}/actions",
                                                       {"action": action.value, "revision": rev})
                assert answer.status_code in (403, 409, 422), (person, action, answer.status_code)
                assert answer.get_json()["error"]["code"]
    # Nothing above moved the post: it still waits on the drafter's confirmation.
    view = core.service.view(pid)
    assert view.post.status == PostStatus.IN_REVIEW and view.state.decisions == ()


ACTION_VALUES = {a.value for a in Action} - {"new_revision", "claim", "mark_published", "hold",
                                             "fail", "cannot_confirm"}


def test_a_stale_revision_is_refused_with_409(app: Flask, core: Core, tokens: dict[str, str],
                                              who: Personas) -> None:
    post = laid_out(app, tokens, who)
    pid, old = post["id"], post["revision"]["hash"]
    newer = as_(app, tokens, who.operator).post(f"/posts/{pid}/revisions", {
        "base_revision": old, "body_html": f"<p>{BODY}（修订）</p>"})
    assert newer.status_code == 201
    message = refused(as_(app, tokens, who.drafter).post(
        f"/posts/{pid}/actions", {"action": "confirm", "revision": old}), 409, "stale_revision")
    assert message
    assert core.service.view(pid).state.decisions == ()
    # A layout made from the old revision is refused too: nothing the operator did is lost.
    again = as_(app, tokens, who.operator).post(f"/posts/{pid}/revisions", {
        "base_revision": old, "body_html": "<p>旧版基础上的修改</p>"})
    assert again.status_code == 409
    assert core.service.view(pid).post.revision_number == 2


def test_a_second_decision_on_the_same_step_is_already_decided(
        app: Flask, tokens: dict[str, str], who: Personas) -> None:
    post = laid_out(app, tokens, who)
    pid, rev = post["id"], post["revision"]["hash"]
    drafter = as_(app, tokens, who.drafter)
    assert drafter.post(f"/posts/{pid}/actions", {"action": "confirm", "revision": rev}
                        ).status_code == 200
    second = drafter.post(f"/posts/{pid}/actions", {"action": "confirm", "revision": rev})
    assert second.status_code in (403, 409)


def test_schedule_through_the_api(app: Flask, core: Core, tokens: dict[str, str],
                                  who: Personas) -> None:
    pid = laid_out(app, tokens, who)["id"]
    admin = as_(app, tokens, who.admin)
    bad = admin.post(f"/posts/{pid}/actions", {"action": "schedule", "schedule_at": "明天上午"})
    assert "YYYY-MM-DD" in refused(bad, 422, "invalid_input")
    when = (core.service.today().replace(year=core.service.today().year + 1)).isoformat()
    ok = admin.post(f"/posts/{pid}/actions", {"action": "schedule",
                                              "schedule_at": f"{when}T09:00", "mode": "mass_send"})
    if ok.status_code == 422:  # more than a year ahead on 29 February: a day less
        ok = admin.post(f"/posts/{pid}/actions", {"action": "schedule",
                                                  "schedule_at": f"{when[:8]}01T09:00"})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert core.service.view(pid).post.scheduled_at is not None


# --- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, field", [
    ({"body": BODY}, "title"),
    ({"title": "", "body": BODY}, "title"),
    ({"title": "x" * 201, "body": BODY}, "title"),
    ({"title": TITLE, "body": BODY, "category": "gossip"}, "category"),
    ({"title": TITLE, "body": BODY, "body_format": "pdf"}, "body_format"),
    ({"title": TITLE, "body": BODY, "drafter": "wang_min"}, "drafter"),
    ({"title": 7, "body": BODY}, "title"),
    ([TITLE, BODY], "body"),
])
def test_a_malformed_draft_names_its_field(app: Flask, tokens: dict[str, str], who: Personas,
                                           body: Any, field: str) -> None:
    answer = as_(app, tokens, who.drafter).post("/posts", body)
    message = refused(answer, 422, "invalid_input")
    assert field in message and "请求内容不符合要求" in message
    assert any(d["field"].endswith(field) for d in answer.get_json()["error"]["details"])


def test_refusals_of_the_core_keep_their_reason(app: Flask, tokens: dict[str, str],
                                                who: Personas) -> None:
    api = as_(app, tokens, who.drafter, "en")
    date = refused(api.post("/posts", {"title": TITLE, "body": BODY, "formed_on": "2026/12/01"}),
                   422, "invalid_input")
    assert "YYYY-MM-DD" in date
    secret = refused(api.post("/posts", {"title": TITLE, "body": BODY + "（机密）",
                                         "classification": "not_disclosed"}), 422, "invalid_input")
    assert secret


def test_spaces_around_a_date_or_an_author_are_none_of_it(app: Flask, tokens: dict[str, str],
                                                         who: Personas) -> None:
    spaced = as_(app, tokens, who.drafter).post("/posts", {"title": TITLE, "body": BODY,
                                                           "formed_on": " 2026-12-01 "})
    assert spaced.status_code == 201 and spaced.get_json()["formed_on"] == "2026-12-01"
    operator = as_(app, tokens, who.operator)
    for given, kept in (("  ", ""), (" 应急管理局 ", "应急管理局")):  # only spaces: no author
        laid = operator.post(f"/posts/{spaced.get_json()['id']}/revisions", {"author": given})
        assert laid.status_code == 201 and laid.get_json()["revision"]["author"] == kept, given


def test_not_json_wrong_method_unknown_path_and_huge_ids_are_json_4xx(
        app: Flask, tokens: dict[str, str], who: Personas) -> None:
    api = as_(app, tokens, who.drafter)
    client = api.client
    not_json = client.post("/api/v1/posts", data="title=x", headers={
        **api.headers, "Content-Type": "application/x-www-form-urlencoded"})
    refused(not_json, 422, "invalid_input")
    broken = client.post("/api/v1/posts", data="{not json", headers={
        **api.headers, "Content-Type": "application/json"})
    refused(broken, 422, "invalid_input")
    refused(api.get("/nothing-here"), 404, "not_found")
    refused(client.delete("/api/v1/posts", headers=api.headers), 405, "method_not_allowed")
    for body in (b"[" * 10_000 + b"]" * 10_000, '{"title": "演练"}'.encode("gbk"),
                 b'{"title": ' + b"9" * 5000 + b"}"):  # too deep, not UTF-8, a huge number
        bad = client.post("/api/v1/posts", data=body, headers={
            **api.headers, "Content-Type": "application/json"})
        assert "不是有效的 JSON" in refused(bad, 422, "invalid_input")
    refused(api.get(f"/posts/{2**40}"), 422, "invalid_input")
    refused(api.get("/posts/0"), 422, "invalid_input")
    refused(api.get("/posts?per_page=1000"), 422, "invalid_input")
    refused(api.get("/posts?status=lost"), 422, "invalid_input")


def test_xss_in_a_draft_comes_out_neutralised(app: Flask, core: Core, tokens: dict[str, str],
                                              who: Personas) -> None:
    payload = '<p onclick="steal()">演练<script>alert(1)</script><a href="javascript:x()">链接</a></p>'
    post = as_(app, tokens, who.drafter).post("/posts", {
        "title": TITLE, "body": payload + BODY, "body_format": "html"}).get_json()
    answer = as_(app, tokens, who.operator).post(f"/posts/{post['id']}/revisions", {})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = core.service.revision(post["id"], 1).content.body_html
    for bad in ("<script", "onclick", "javascript:"):
        assert bad not in body
    assert "演练" in body


# --- the document ------------------------------------------------------------------------------------


def test_the_openapi_document_describes_every_endpoint(app: Flask) -> None:
    answer = app.test_client().get("/api/v1/openapi.json")
    assert answer.status_code == 200
    doc = answer.get_json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) >= {"/api/v1/me", "/api/v1/posts", "/api/v1/posts/{post_id}",
                                 "/api/v1/posts/{post_id}/revisions",
                                 "/api/v1/posts/{post_id}/actions",
                                 "/api/v1/posts/{post_id}/audit"}
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    actions = doc["components"]["schemas"]["ActionIn"]
    assert "action" in actions["required"]


def test_the_list_filters_and_says_who_each_post_waits_on(
        app: Flask, tokens: dict[str, str], who: Personas) -> None:
    draft = handed_in(app, tokens, who)
    review = laid_out(app, tokens, who)
    api = as_(app, tokens, who.admin)
    everything = api.get("/posts").get_json()
    assert everything["total"] == 2 and [p["id"] for p in everything["posts"]] == [
        review["id"], draft["id"]]
    waiting = {p["id"]: p["waiting_on"] for p in everything["posts"]}
    assert waiting == {review["id"]: who.drafter, draft["id"]: None}
    in_review = api.get("/posts?status=in_review&sort=id").get_json()
    assert [p["id"] for p in in_review["posts"]] == [review["id"]]
    paged = api.get("/posts?per_page=1&page=2").get_json()
    assert paged["pages"] == 2 and [p["id"] for p in paged["posts"]] == [draft["id"]]


# --- a Word document ---------------------------------------------------------------------------------


def test_a_docx_hand_in_becomes_a_post_with_its_images(app: Flask, core: Core,
                                                       tokens: dict[str, str], who: Personas) -> None:
    import io

    from tests.unit.test_docx import article_docx, png

    api = as_(app, tokens, who.drafter)
    answer = api.client.post("/api/v1/posts/docx", headers=api.headers, data={
        "file": (io.BytesIO(article_docx(image=png())), "演练通报.docx"), "title": TITLE,
        "category": "notice"}, content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    post = answer.get_json()
    assert post["drafter"] == who.drafter and post["category"] == "notice"
    assert isinstance(post["warnings"], list)
    view = core.service.view(post["id"])
    assert view.post.title == TITLE
    with core.deps.sessions() as s:
        material = s.get(m.Post, post["id"]).material_body
        assets = {a.sha256 for a in s.scalars(select(m.Asset))}
    assert material.startswith("<") and "/assets/" in material
    assert any(sha in material for sha in assets)
    # Laid out as handed in: the layout accepts its own images.
    laid = as_(app, tokens, who.operator).post(f"/posts/{post['id']}/revisions", {})
    assert laid.status_code == 201, laid.get_data(as_text=True)


def test_a_file_that_is_not_a_docx_is_refused_and_nothing_is_stored(
        app: Flask, core: Core, tokens: dict[str, str], who: Personas) -> None:
    import io

    api = as_(app, tokens, who.drafter)
    pdf = api.client.post("/api/v1/posts/docx", headers=api.headers, data={
        "file": (io.BytesIO(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), "通报.docx"), "title": TITLE},
        content_type="multipart/form-data")
    assert "PDF" in refused(pdf, 422, "invalid_docx")
    missing = api.client.post("/api/v1/posts/docx", headers=api.headers, data={"title": TITLE},
                              content_type="multipart/form-data")
    assert "file" in refused(missing, 422, "invalid_input")
    text = api.client.post("/api/v1/posts/docx", headers=api.headers, data={
        "title": TITLE, "file": "not a file"}, content_type="multipart/form-data")
    assert "file" in refused(text, 422, "invalid_input")
    extra = api.client.post("/api/v1/posts/docx", headers=api.headers, data={
        "title": TITLE, "file": (io.BytesIO(b"PK"), "a.docx"), "colour": "red"},
        content_type="multipart/form-data")
    assert "colour" in refused(extra, 422, "invalid_input")
    assert core.service.count_posts() == 0
