"""The use cases over one unit of work; the façade every face (CLI, console, bot, worker) calls.

- `handin`: a drafter hands in material.
- `actions`: what a person may do now, and doing it (the chain's verbs, scheduling included).
- `queries`: one post with its timeline and findings, lists, the audit check.
- `publishing`: the worker's bookkeeping (outbox, claims, external ids).
- `notifications`: the notification outbox and its delivery.
"""

from approvals.services.base import Deps, UnitOfWork
from approvals.services.facade import Service
from approvals.services.notifications import Channel, Notifications
from approvals.services.publishing import Publishing

__all__ = ["Channel", "Deps", "Notifications", "Publishing", "Service", "UnitOfWork"]
