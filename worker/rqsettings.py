"""Settings module for the stock RQ worker:

    rq worker -c worker.rqsettings -S rq.serializers.JSONSerializer --with-scheduler

(with no queue names: it listens to the publishing queue, then the notification queue).

It reads signoff's own settings (SIGNOFF_* and SIGNOFF_CONFIG). Run `signoff reconcile --every 30`
beside stock workers: it puts the database's publish intents on the queue.
"""

from __future__ import annotations

from approvals.config.settings import load_settings
from worker.context import queue_names

_settings = load_settings()
REDIS_URL = _settings.redis_url
QUEUES = queue_names(_settings)  # publishing first, then notifications
