"""Compile the publishing bookkeeping's SQL once per worker, not once per job.

SQLAlchemy compiles each statement the first time a process runs it and caches it on the engine.
A forking RQ worker runs every job in a fresh work horse, so each job would compile some
twenty-five statements again (about a third of a publish job's time). `warm_up` runs the
worker's bookkeeping once, in the worker's main process, on a synthetic signed post inside one
transaction that is rolled back: the horses inherit a warm cache, and the database is unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from approvals.rules import gates
from approvals.rules.assign import resolve_assignee
from approvals.rules.ledger import decision_record, intent_record
from approvals.rules.org import OrgChart
from approvals.rules.records import DecisionRecord, Outcome, PostState, RevisionInfo
from approvals.rules.revisions import RevisionContent
from approvals.rules.states import (
    STEP_VERB,
    Action,
    Category,
    Classification,
    IntentKind,
    PostStatus,
    PublishMode,
)
from approvals.services.base import Deps
from approvals.services.notifications import Notifications
from approvals.services.publishing import Publishing
from approvals.store import audit
from approvals.store import models as m

log = logging.getLogger("signoff.warmup")

WARM_UP_POST = -1  # an explicit id: no sequence moves, so no post number is skipped


def warm_up(deps: Deps, engine: Engine) -> bool:
    """Run claim → ids → published once on a synthetic post, rolled back; False when the org
    chart offers no chain to rehearse with (the worker then simply compiles as it goes)."""
    plan = _signed_state(deps.org, deps.today())
    if plan is None:
        return False
    state, maker = plan
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            dry = replace(deps, sessions=sessionmaker(bind=conn, expire_on_commit=False,
                                                      join_transaction_mode="create_savepoint"),
                          standalone_sessions=None, writes_alone=False, enqueue=None,
                          plan_job=None)
            notifications = Notifications(dry)
            publishing = Publishing(dry, notifications)
            intent_id = _insert(dry, state, maker)
            claim = publishing.claim(WARM_UP_POST, "warm-up", 60, intent_id=intent_id,
                                     cover_sha256="0" * 64)
            if claim.snapshot is None:
                return False
            h = claim.snapshot.revision_hash
            publishing.renew(WARM_UP_POST, "warm-up", 60)
            publishing.media("0" * 64, "image")
            publishing.record_media("0" * 64, "image", "warm-up", None)
            publishing.record_cover(WARM_UP_POST, h, "warm-up")
            publishing.record_images(WARM_UP_POST, h, {})
            publishing.record_draft(WARM_UP_POST, h, "warm-up", "0" * 64)
            publishing.record_draft(WARM_UP_POST, h, "warm-up", "1" * 64, thumb="warm-up",
                                    submit_started=True, claimed_by="warm-up")
            publishing.record_clientmsgid(WARM_UP_POST, h, "warm-up", claimed_by="warm-up")
            publishing.record_submit_started(WARM_UP_POST, h)
            publishing.record_publish_id(WARM_UP_POST, h, "0")
            publishing.record_wechat_status(WARM_UP_POST, h, "1")
            publishing.record_article(WARM_UP_POST, h, "warm-up", None, wechat_status="0")
            publishing.mark_published(WARM_UP_POST, "warm-up", url=None, article_id=None)
            told = notifications.pending()
            notifications.get_pending([n.id for n in told])
            notifications.mark_enqueued([(n.id, "warm-up", 1) for n in told])
            return True
        finally:
            outer.rollback()


def _signed_state(org: OrgChart, today: date) -> tuple[PostState, str] | None:
    """A post every gate passes under this org chart: drafter, layout maker, one decision a step."""
    for dept in org.departments.values():
        for drafter in dept.members:
            maker = next((p for p in (*org.operators, *org.admins) if p != drafter), None)
            if maker is None:
                continue
            content = RevisionContent(title="预热", body_html="<p>预热</p>",
                                      category=Category.PUBLICITY.value, author="").normalized()
            rev = RevisionInfo(1, content, content.content_hash(), maker)
            state = PostState(id=WARM_UP_POST, status=PostStatus.IN_REVIEW, department=dept.code,
                              drafter=drafter, category=Category.PUBLICITY,
                              classification=Classification.PROACTIVE, run=1, revision=rev)
            for step in org.chain.steps:
                holder = resolve_assignee(state, step, org).person
                if holder is None:
                    break
                decision = DecisionRecord(step, Outcome.APPROVED, holder, rev.content_hash, 1,
                                          today)
                state = replace(state, decisions=(*state.decisions, decision))
            else:
                state = replace(state, status=PostStatus.SIGNED)
                if not gates.blocking(gates.evaluate(state, org)):
                    return state, maker
    return None


def _insert(deps: Deps, state: PostState, maker: str) -> int:
    # Written the way the use cases write it, audit rows included: the claim checks the rows
    # against the log and would put an unbacked post on hold instead of rehearsing.
    now, today = deps.now(), deps.today()
    assert state.revision is not None
    rev = state.revision
    with deps.uow() as uow:
        s = uow.session
        s.add(m.Post(id=WARM_UP_POST, title=rev.content.title, department=state.department,
                     drafter=state.drafter, category=state.category.value,
                     classification=state.classification.value, formed_on=today,
                     due_on=today + timedelta(days=28), due_estimated=False,
                     status=PostStatus.SIGNED.value, run=1, revision_number=1, version=0,
                     material_format="html", material_body=rev.content.body_html,
                     publish_mode=PublishMode.PUBLISH.value, problem_zh="", problem_en="",
                     created_at=now, updated_at=now))
        s.flush()
        audit.append(s, actor=state.drafter, action="post.created", post_id=WARM_UP_POST, at=now,
                     detail={"drafter": state.drafter, "department": state.department,
                             "category": state.category.value,
                             "classification": state.classification.value})
        s.add(m.Revision(post_id=WARM_UP_POST, number=1, title=rev.content.title, author="",
                         digest="", body_html=rev.content.body_html, category=rev.content.category,
                         content_hash=rev.content_hash, made_by=maker, comment="", created_at=now))
        audit.append(s, actor=maker, action=f"post.{Action.NEW_REVISION.value}",
                     post_id=WARM_UP_POST, at=now,
                     detail={"to": PostStatus.IN_REVIEW.value, "run": 1, "revision": 1,
                             "revision_hash": rev.content_hash,
                             "intent": intent_record(IntentKind.PREVIEW, rev.content_hash)})
        for i, d in enumerate(state.decisions):
            s.add(m.Decision(post_id=WARM_UP_POST, run=1, step=d.step.value, attempt=0,
                             outcome=d.outcome.value, actor=d.actor, revision_hash=d.revision_hash,
                             comment="", note="", decided_on=d.decided_on,
                             decided_at=now + timedelta(microseconds=i)))
            last = i == len(state.decisions) - 1
            audit.append(s, actor=d.actor, action=f"post.{STEP_VERB[d.step].value}",
                         post_id=WARM_UP_POST, at=now,
                         detail={"to": (PostStatus.SIGNED if last else PostStatus.IN_REVIEW).value,
                                 "run": 1, "revision": 1, "revision_hash": rev.content_hash,
                                 "decision": decision_record(d),
                                 **({"intent": intent_record(IntentKind.PUBLISH,
                                                             rev.content_hash)} if last else {})})
        s.add(m.PublishIntent(post_id=WARM_UP_POST, kind=IntentKind.PREVIEW.value,
                              revision_hash=rev.content_hash, due_at=now, state="done",
                              created_at=now))
        intent = m.PublishIntent(post_id=WARM_UP_POST, kind=IntentKind.PUBLISH.value,
                                 revision_hash=rev.content_hash, due_at=now, created_at=now)
        s.add(intent)
        s.flush()
        return intent.id


__all__ = ["warm_up"]
