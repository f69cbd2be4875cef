"""Celery tasks: thin (ids in, a service call), idempotent, retried only on transient errors."""

from __future__ import annotations

import datetime as dt

from celery import Task, shared_task

from reports import delivery, services, verify

TRANSIENT = services.TRANSIENT_ERRORS
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}
# Nobody reads these jobs' results (a report's outcome is its row), and not asking for them
# keeps a sender from waiting on the result store while Redis is away.
NO_RESULT = {"ignore_result": True}


def _last_attempt(task: Task) -> bool:
    """Whether a failure now is final: the retries are used up (a retry keeps the task id)."""
    return task.request.retries >= task.max_retries


@shared_task(bind=True, **RETRY, **NO_RESULT)
def generate_report(self: Task, report_id: int) -> str:
    """Fill one saved report (a no-op when it is gone or another worker has it)."""
    report = services.report_generate(
        report_id=report_id, task_id=self.request.id or "", last_attempt=_last_attempt(self)
    )
    return report.status if report else "skipped"


@shared_task(bind=True, **RETRY)
def generate_periodic(self: Task, granularity: str) -> list[int]:
    """The beat entry's job: make and deliver the daily, weekly or monthly reports."""
    reports = services.periodic_reports(
        granularity=granularity, task_id=self.request.id or "", last_attempt=_last_attempt(self)
    )
    return [report.pk for report in reports]


@shared_task(**NO_RESULT)
def sweep_reports() -> int:
    """The beat entry's job every few minutes: send again the jobs of abandoned reports.
    Not retried: the next sweep comes soon."""
    return services.reports_sweep()


@shared_task(**RETRY, **NO_RESULT)
def verify_caches(days: int | None = None, sample: int | None = None) -> int:
    """The daily beat entry's job: recompute a sample of the cached figures and log an error
    for each one that disagrees; returns how many did."""
    return len(verify.caches_verify_logged(days=days, sample=sample).mismatches)


@shared_task(
    bind=True,
    autoretry_for=(*TRANSIENT, delivery.VerdictNotDelivered),
    retry_backoff=30,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=6,
    **NO_RESULT,
)
def send_weekly_verdict(self: Task, start: str | None = None) -> dict:
    """The Monday beat entry's job: last week's verdict to every target not sent it yet (a
    retry sends only the failed ones). `start`: a week's Monday (ISO date) to send again."""
    done = delivery.verdict_deliver(start=dt.date.fromisoformat(start) if start else None)
    return {"sent": done.sent, "skipped": done.skipped}
