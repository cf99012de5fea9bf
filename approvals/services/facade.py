"""The one façade every face calls for everything a person does.

A face asks what a person may do (`allowed_actions`), does it (`act`), and renders the outcome
with `approvals.present`; it never re-implements a rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from approvals.figures import AnnualFigures, CatalogueEntry, CataloguePage, CatalogueQuery
from approvals.rules.errors import SignoffError, Text
from approvals.rules.org import OrgChart
from approvals.rules.records import RevisionInfo
from approvals.rules.reporting import may_see_reports
from approvals.rules.states import Action, Category, Classification
from approvals.services.accounts import Accounts, TokenInfo, Tokens
from approvals.services.actions import Actions
from approvals.services.assets import Assets
from approvals.services.base import Deps
from approvals.services.chat import ChatAccounts
from approvals.services.handin import HandIn, create_post_from_docx
from approvals.services.jobs import Jobs, QueueView
from approvals.services.layout import Layout
from approvals.services.notifications import Notifications
from approvals.services.publishing import Publishing
from approvals.services.queries import Queries
from approvals.services.reminders import ReminderPolicy, Reminders
from approvals.services.reports import Reports
from approvals.services.wechat_events import WeChatReports
from approvals.store.audit import Anchor, Report
from approvals.views import (
    ActOutcome,
    JobsOverview,
    NotificationView,
    PostGlance,
    PostSummary,
    PostView,
    PrunedAssets,
    QueuePage,
    QueueQuery,
    Reported,
    RevisionInput,
    ScheduleInput,
    WeChatEvent,
)


class Service:
    """Hand-in, actions and queries over one database and one org chart."""

    def __init__(self, deps: Deps, notifications: Notifications | None = None) -> None:
        self.deps = deps
        self.notifications = notifications or Notifications(deps)
        self._handin = HandIn(deps)
        self._actions = Actions(deps, self.notifications)
        self._queries = Queries(deps)
        self._accounts = Accounts(deps)
        self._tokens = Tokens(deps)

    def via(self, channel: str) -> Service:
        """The same service for another face (web, api, chat): its audit rows name it."""
        return Service(replace(self.deps, channel=channel))

    @property
    def org(self) -> OrgChart:
        """The org chart the rules read."""
        return self.deps.org

    @property
    def zone(self) -> ZoneInfo:
        """The unit's time zone."""
        return self.deps.zone

    def now(self) -> datetime:
        """The current instant (UTC)."""
        return self.deps.now()

    def today(self) -> date:
        """Today in the unit's time zone."""
        return self.deps.today()

    def person(self, key_or_name: str) -> str:
        """The org-chart key of a person named by key or display name.

        Raises:
            NotFound: nobody in the org chart is called that.
        """
        return self._handin.person(key_or_name)

    def create_post(self, *, drafter: str, title: str, body: str, body_format: str = "text",
                    category: str = Category.PUBLICITY,
                    classification: str = Classification.PROACTIVE,
                    formed_on: date | None = None, department: str | None = None,
                    repost_source: str | None = None,
                    cover: tuple[str, bytes, str] | None = None,
                    pictures: Sequence[tuple[str, bytes]] = ()) -> int:
        """A drafter hands in material (see `HandIn.create_post`); returns the post's id."""
        return self._handin.create_post(
            drafter=drafter, title=title, body=body, body_format=body_format, category=category,
            classification=classification, formed_on=formed_on, department=department,
            repost_source=repost_source, cover=cover, pictures=pictures)

    def create_post_from_docx(self, *, drafter: str, filename: str, data: bytes, title: str,
                              category: str = Category.PUBLICITY,
                              classification: str = Classification.PROACTIVE,
                              formed_on: date | None = None, repost_source: str | None = None,
                              source_name: str | None = None,
                              cover: tuple[str, bytes, str] | None = None,
                              pictures: Sequence[tuple[str, bytes]] = (),
                              ) -> tuple[int, tuple[Text, ...]]:
        """A drafter hands in a Word .docx (see `handin.create_post_from_docx`); returns the
        post's id and the warnings of the conversion."""
        return create_post_from_docx(self._handin, drafter=drafter, filename=filename, data=data,
                                     title=title, category=category,
                                     classification=classification, formed_on=formed_on,
                                     repost_source=repost_source, source_name=source_name,
                                     cover=cover, pictures=pictures)

    def allowed_actions(self, post_id: int, person: str) -> list[Action]:
        """What `person` (key or name) may do on the post now.

        Raises:
            NotFound: no such post or person.
        """
        return self._actions.allowed_actions(post_id, self.person(person))

    def allowed_in(self, view: PostView, person: str) -> list[Action]:
        """`allowed_actions` from a view already read (a page showing the post and its actions
        reads the post once)."""
        return self._actions.allowed_in(view.state, self.person(person))

    def act(self, post_id: int, action: Action | str, actor: str, *, comment: str = "",
            revision_hash: str | None = None, revision: RevisionInput | None = None,
            basis: str | None = None, schedule: ScheduleInput | None = None,
            url: str | None = None) -> ActOutcome:
        """Take `action` on a post as `actor` (see `Actions.act`); `url` is the article's link
        for confirm_published."""
        return self._actions.act(post_id, action, actor, comment=comment,
                                 revision_hash=revision_hash, revision=revision, basis=basis,
                                 schedule=schedule, url=url)

    def view(self, post_id: int) -> PostView:
        """Everything about one post (see `Queries.view`)."""
        return self._queries.view(post_id)

    def glance(self, post_id: int) -> PostGlance:
        """A post as a chat card needs it (see `Queries.glance`)."""
        return self._queries.glance(post_id)

    def allowed_now(self, glance: PostGlance, person: str) -> list[Action]:
        """`allowed_actions` from a glance already read."""
        return self._actions.allowed_in(glance.state, self.person(person))

    def list_posts(self, status: str | None = None, include_archived: bool = False
                   ) -> list[PostSummary]:
        """Posts, newest first, optionally of one status."""
        return self._queries.list_posts(status, include_archived)

    def revision(self, post_id: int, number: int) -> RevisionInfo:
        """One laid-out revision of a post (see `Queries.revision`)."""
        return self._queries.revision(post_id, number)

    def waiting_on(self, person: str) -> list[tuple[PostSummary, list[Action]]]:
        """The posts whose open step `person` (key or name) may decide now, with the decisions
        they may take (see `Queries.waiting_on`)."""
        return self._queries.waiting_on(self.person(person))

    def queue(self, query: QueueQuery) -> QueuePage:
        """One page of the queue (see `Queries.queue`)."""
        return self._queries.queue(query)

    def notifications_for(self, *, person: str | None = None, post_id: int | None = None
                          ) -> list[NotificationView]:
        """The notification outbox with each row's delivery state."""
        key = self.person(person) if person is not None else None
        return self.notifications.rows(person=key, post_id=post_id)

    def verify_audit(self, anchor: str | None = None) -> Report:
        """Check the whole audit chain and every row the rules read against it; `anchor`
        ("SEQ:HASH" from `audit_head`) must still be in the chain.

        Raises:
            InvalidInput: a malformed anchor.
        """
        return self._queries.verify_audit(anchor)

    def audit_head(self) -> Anchor:
        """The chain's newest row, to keep elsewhere."""
        return self._queries.audit_head()

    def count_posts(self) -> int:
        """How many posts exist (archived included)."""
        return self._queries.count_posts()

    # --- reports: the dashboard, the annual report (art. 30), the disclosure catalogue (art. 9)

    def may_see_reports(self, person: str) -> bool:
        """Whether the person (key or name) may see the dashboard: admins, the operator and the
        leaders (`approvals.rules.reporting.may_see_reports`)."""
        return may_see_reports(self.org, self.person(person))

    def annual_figures(self, year: str | int) -> AnnualFigures:
        """The year's figures (see `Reports.annual`).

        Raises:
            InvalidInput: not a four-digit year, or one that has not begun.
        """
        return Reports(self.deps).annual(year)

    def catalogue(self, query: CatalogueQuery) -> CataloguePage:
        """One page of the disclosure catalogue (see `Reports.catalogue`)."""
        return Reports(self.deps).catalogue(query)

    def catalogue_all(self, query: CatalogueQuery) -> Iterator[CatalogueEntry]:
        """Every matching catalogue line in index order (see `Reports.catalogue_all`)."""
        return Reports(self.deps).catalogue_all(query)

    def set_password(self, person: str, password: str, *, by: str) -> str:
        """Give a person (key or name) a console password; `by` is who did it (audit)."""
        return self._accounts.set_password(person, password, by=by)

    def account_fingerprint(self, person: str) -> str:
        """What a one-time invite link is bound to (see `Accounts.fingerprint`)."""
        return self._accounts.fingerprint(person)

    def authenticate(self, person: str, password: str) -> str | None:
        """The person's key when the password is theirs, else None."""
        return self._accounts.authenticate(person, password)

    def issue_token(self, person: str, name: str, *, by: str) -> tuple[TokenInfo, str]:
        """A new API token for a person (see `Tokens.issue`); the token is returned only here."""
        return self._tokens.issue(person, name, by=by)

    def revoke_token(self, token_id: int, *, by: str) -> TokenInfo:
        """Revoke an API token for good (see `Tokens.revoke`)."""
        return self._tokens.revoke(token_id, by=by)

    def tokens(self, person: str | None = None) -> list[TokenInfo]:
        """The API tokens (of one person), newest first, never the tokens themselves."""
        return self._tokens.list(person)

    def person_for_token(self, token: str) -> str | None:
        """Whose live API token this is, or None."""
        return self._tokens.person_for(token)
    def send_reminders(self, policy: ReminderPolicy) -> dict[str, int]:
        """Remind approvers of steps that waited too long, escalate to the admins, flag posts
        near their due date (see `Reminders.run`); safe to run as often as wanted."""
        return Reminders(self.deps, self.notifications, policy).run()

    def prune_assets(self, grace: timedelta, *, by: str, dry_run: bool = False) -> PrunedAssets:
        """Delete the uploads nothing refers to whose last upload is more than `grace` ago (see
        `Assets.prune`), an audit row each naming `by`; a dry run only lists them."""
        return Assets(self.deps).prune(grace, by=by, dry_run=dry_run)

    # --- chat: who a chat user is (the bot, `signoff people bind-code`, the people page) -------

    @property
    def chat(self) -> ChatAccounts:
        """Binding codes, linked chat accounts and the language chosen in chat."""
        return ChatAccounts(self.deps)

    # --- the layout editor (around new_revision) ---

    @property
    def layout(self) -> Layout:
        """What the layout editor opens on, images and .docx files stored as assets, and the
        article as it will look (see `Layout`); saving is `act(..., "new_revision", ...)`."""
        return Layout(self.deps)

    # --- WeChat's callback (issue 9) ----------------------------------------------------------

    def wechat_reported(self, event: WeChatEvent) -> Reported:
        """Apply an event WeChat pushed (a publication or mass send finished) through the
        poller's own bookkeeping; the first of the two to learn the outcome wins."""
        return WeChatReports(Publishing(self.deps, self.notifications)).apply(event)
    # --- the jobs page: publishing and notification work (admins and the operator) -------------

    @property
    def _jobs(self) -> Jobs:
        return Jobs(self.deps, self._actions)

    def may_run_jobs(self, person: str) -> bool:
        """Whether the person (key or name) sees and handles the jobs (admins, the operator)."""
        try:
            self._jobs.check(person)
        except SignoffError:
            return False
        return True

    def jobs_overview(self, person: str, queue: QueueView | None = None) -> JobsOverview:
        """Signed posts on their way out, undelivered notifications and failed jobs, with what
        the queue says of each (see `Jobs.overview`)."""
        return self._jobs.overview(person, queue)

    def retry_notification(self, notification_id: int, person: str) -> None:
        """Send a notification that failed for good once more (see `Jobs.retry_notification`)."""
        self._jobs.retry_notification(notification_id, person)

    def redispatch(self, kind: str, item_id: int, person: str) -> None:
        """Put a pending outbox item on the queue again now (see `Jobs.redispatch`)."""
        self._jobs.redispatch(kind, item_id, person)

    def retry_job(self, job_id: str, person: str, queue: QueueView | None = None) -> None:
        """Retry a failed job through its outbox items (see `Jobs.retry_job`)."""
        self._jobs.retry_job(job_id, person, queue)
