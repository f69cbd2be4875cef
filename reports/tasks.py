"""Celery tasks: thin (ids in, a service call), idempotent, retried only on transient errors."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from reports import services

TRANSIENT = (OperationalError, InterfaceError, RedisConnectionError, ConnectionError)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(**RETRY)
def generate_report(report_id: int) -> str:
    """Fill one saved report (a no-op when it is gone or another worker has it)."""
    report = services.report_generate(report_id=report_id)
    return report.status if report else "skipped"


@shared_task(**RETRY)
def generate_periodic(granularity: str) -> list[int]:
    """The beat entry's job: make and deliver the daily, weekly or monthly reports."""
    return [report.pk for report in services.periodic_reports(granularity=granularity)]
