"""Handing in material: a drafter's post, checked where it enters."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from approvals.rules import content
from approvals.rules.article import TITLE, check_cover, check_inline_image, check_plain_text, image_kind
from approvals.rules.deadlines import due_date
from approvals.rules.errors import InvalidInput, Text
from approvals.rules.states import (
    CATEGORY_LABEL,
    CLASSIFICATION_LABEL,
    Category,
    Classification,
    PostStatus,
)
from approvals.services.base import Deps
from approvals.services.docx import docx_to_html
from approvals.services.state import as_enum, resolve_person
from approvals.store import audit
from approvals.store import models as m

TITLE_MAX_HANDIN = 200
BODY_MAX_HANDIN = 500_000  # characters of material handed in, markup included
FORMED_LOOKBACK = timedelta(days=3653)  # older than ten years is a typo, not a disclosure


class HandIn:
    """A drafter hands in material; the post waits for layout."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def person(self, key: str) -> str:
        """The org-chart key of a person named by key or display name.

        Raises:
            NotFound: nobody in the org chart is called that.
        """
        return resolve_person(self.deps.org, key)

    def create_post(
        self,
        *,
        drafter: str,
        title: str,
        body: str,
        body_format: str = "text",
        category: str = Category.PUBLICITY,
        classification: str = Classification.PROACTIVE,
        formed_on: date | None = None,
        department: str | None = None,
        repost_source: str | None = None,
        cover: tuple[str, bytes, str] | None = None,
        pictures: Sequence[tuple[str, bytes]] = (),
    ) -> int:
        """A drafter hands in material; returns the new post's id. `pictures` (file name,
        bytes) go into the article after the text, in order, as the post's assets.

        Raises:
            NotFound: the drafter is not in the org chart.
            InvalidInput: a field is missing or invalid (each message says which and why).
        """
        org = self.deps.org
        drafter = self.person(drafter)
        dept = self._department_for(drafter, department)
        title = (title or "").strip()
        if not title:
            raise InvalidInput(Text("标题不能为空。", "The title is empty."))
        if len(title) > TITLE_MAX_HANDIN:
            raise InvalidInput(Text("标题过长（{n} 字），最多 {m} 字。",
                                    "The title is too long ({n} characters; at most {m}).")
                               .format(n=len(title), m=TITLE_MAX_HANDIN))
        check_plain_text(TITLE, title)  # it becomes the article's title, shown as typed
        if not (body or "").strip():
            raise InvalidInput(Text("正文不能为空。", "The body is empty."))
        if len(body) > BODY_MAX_HANDIN:  # a .docx's text too: whatever the face
            raise InvalidInput(Text("正文过长（{n} 字），一篇稿件最多 {m} 字；请拆分后分别提交。",
                                    "The body is too long ({n} characters; a post takes at most "
                                    "{m}); split it and hand in the parts.")
                               .format(n=len(body), m=BODY_MAX_HANDIN))
        content.to_html(body, body_format)  # validates the format and that something is left
        if len(pictures) > PICTURES_MAX:
            raise InvalidInput(Text("图片过多（{n} 张），最多 {m} 张。",
                                    "Too many pictures ({n}; at most {m}).")
                               .format(n=len(pictures), m=PICTURES_MAX))
        shas = []
        for name, data in pictures:  # refused here, never after four people signed
            check_inline_image(data, name)
            shas.append(hashlib.sha256(data).hexdigest())
        if shas:
            body = content.to_html(body, body_format) + "".join(
                f'<p><img src="/assets/{sha}"/></p>' for sha in shas)
            body_format = "html"
        cat = as_enum(Category, category, Text("类别", "category"), labels=CATEGORY_LABEL)
        cls = as_enum(Classification, classification, Text("公开属性", "classification"),
                      labels=CLASSIFICATION_LABEL)
        if cls is not Classification.PROACTIVE:
            raise InvalidInput(Text("只有“主动公开”类信息可以在公众号发布（第十三条）；本稿属性为"
                                    "“{c}”，请勿提交。",
                                    "Only proactive-disclosure information is published on the "
                                    "account (art. 13); this is classed “{c_en}”.")
                               .format(c=CLASSIFICATION_LABEL[cls].zh,
                                       c_en=CLASSIFICATION_LABEL[cls].en))
        today = self.deps.today()
        formed_on = formed_on or today
        if formed_on < today - FORMED_LOOKBACK:
            raise InvalidInput(Text("信息形成日期 {d} 早于十年前，请核对。",
                                    "The formation date {d} is more than ten years ago; check "
                                    "it.").format(d=formed_on.isoformat()))
        if formed_on > today:
            raise InvalidInput(Text("信息形成日期 {d} 晚于今天。", "The formation date {d} is in the "
                                    "future.").format(d=formed_on.isoformat()))
        source = (repost_source or "").strip() or None
        if cat is Category.REPOST and not source:
            raise InvalidInput(Text("转载信息必须注明信息来源（第二十八条）。",
                                    "A repost must name its source (art. 28)."))
        if source and not org.sources.allows(source):
            raise InvalidInput(Text("信息来源“{s}”不在官方渠道白名单中，转载来源必须为官方渠道（第二十八条）。",
                                    "The source “{s}” is not on the allowlist of official "
                                    "channels (art. 28).").format(s=source))
        if cover is not None:
            check_cover(cover[1], cover[0])  # refused here, never after four people signed
        due = due_date(formed_on, calendar=org.calendar)
        now = self.deps.now()
        with self.deps.uow() as uow:
            s = uow.session
            cover_sha = store_asset(s, *cover, now) if cover else None
            for name, data in pictures:
                store_asset(s, name, data, f"image/{image_kind(data) or 'jpeg'}", now)
            post = m.Post(
                title=title, department=dept, drafter=drafter, category=cat.value,
                classification=cls.value, formed_on=formed_on, due_on=due.due,
                due_estimated=due.estimated, status=PostStatus.DRAFT.value, run=0,
                revision_number=0, version=0, material_format=body_format, material_body=body,
                repost_source=source, cover_sha256=cover_sha, created_at=now, updated_at=now,
            )
            s.add(post)
            s.flush()
            audit.append(s, actor=drafter, action="post.created", post_id=post.id, at=now,
                         detail={"title": title, "drafter": drafter, "department": dept,
                                 "category": cat.value,
                                 "classification": cls.value, "formed_on": formed_on,
                                 "due_on": due.due, "due_estimated": due.estimated,
                                 "channel": self.deps.channel})
            return post.id

    def _department_for(self, drafter: str, department: str | None) -> str:
        org = self.deps.org
        mine = org.departments_of(drafter)
        if department is not None:
            if department not in org.departments:
                raise InvalidInput(Text("没有科室“{d}”，可选：{a}。", "There is no department "
                                        "“{d}”; the departments are {a}.")
                                   .format(d=department, a=", ".join(org.departments)))
            if department not in {d.code for d in mine}:
                # art. 25, 28: the drafter answers for the department's material
                raise InvalidInput(Text("{p}不属于{n}，不能以该科室名义提交（第二十五、二十八条）。",
                                        "{p} is not a member of {n} and cannot hand in for it "
                                        "(art. 25, 28).")
                                   .format(p=org.name_of(drafter),
                                           n=org.departments[department].name))
            return department
        if len(mine) == 1:
            return mine[0].code
        if not mine:
            raise InvalidInput(Text("{p}不属于任何科室，请指定科室。",
                                    "{p} belongs to no department; name the department.")
                               .format(p=org.name_of(drafter)))
        raise InvalidInput(Text("{p}属于多个科室（{d}），请指定科室。",
                                "{p} belongs to several departments ({d}); name one.")
                           .format(p=org.name_of(drafter), d=", ".join(d.code for d in mine)))


PICTURES_MAX = 20  # pictures handed in with a post (more come laid out in the console)


def create_post_from_docx(handin: HandIn, *, drafter: str, filename: str, data: bytes,
                          title: str, source_name: str | None = None,
                          **fields: Any) -> tuple[int, tuple[Text, ...]]:
    """A drafter hands in a Word .docx: its body becomes clean HTML, its images the post's
    assets (kept first: content-addressed, so a refused hand-in leaves nothing that matters);
    returns the post's id and what did not come across. A repost's `source_name` ends the body
    as "（来源：…）", as it ends a typed one.

    Raises:
        DocxError (an InvalidInput): not a readable .docx; and what `create_post` raises.
    """
    handin.person(drafter)  # an unknown drafter is told so before the file is read
    result = docx_to_html(data, filename=filename or "document.docx")
    with handin.deps.uow() as uow:
        for image in result.images:
            store_asset(uow.session, image.filename, image.data, image.mime, handin.deps.now())
    body = result.html
    if source_name:
        body += f"<p>（来源：{html.escape(source_name, quote=False)}）</p>"
    post_id = handin.create_post(drafter=drafter, title=title, body=body, body_format="html",
                                 **fields)
    return post_id, result.warnings


def store_asset(s: Session, filename: str, data: bytes, mime: str, now: datetime) -> str:
    """Keep a file once by its SHA-256; returns the hash. A file uploaded again counts as
    uploaded `now`: an unsaved upload is kept for the grace period after its last upload
    (`Assets.prune`), and the row is locked so a prune running now cannot delete it."""
    sha = hashlib.sha256(data).hexdigest()
    row = s.get(m.Asset, sha, with_for_update=True)
    if row is None:
        s.add(m.Asset(sha256=sha, filename=filename, mime=mime, size=len(data), data=data,
                      created_at=now))
    elif row.created_at < now:
        row.created_at = now
    return sha
