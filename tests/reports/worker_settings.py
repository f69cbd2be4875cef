"""Settings of the Celery worker processes that tests start (tests/reports/test_worker_killed.py):
the test settings (DATABASE_URL and REDIS_URL come from the test), never eager, with the
broker's visibility timeout the test chooses (short for the worker that must pick up the job
of a killed one)."""

import os

from config.test_settings import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
if os.environ.get("WORKER_VISIBILITY_TIMEOUT"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
        "visibility_timeout": int(os.environ["WORKER_VISIBILITY_TIMEOUT"]),
        # Look for unacknowledged messages every second, not every 100 s.
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
