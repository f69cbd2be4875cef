"""A worker killed in the middle of a report: the next worker finishes the job.

The production mechanism exercised here is the broker's: tasks are acknowledged late, so a
worker killed with SIGKILL never acknowledges its message, and the Redis transport hands the
message out again once it has been unacknowledged for longer than the visibility timeout
(twice the task time limit in production; one second for the second worker here). The
redelivered task has the same task id, and `report_generate` lets that task id take its running
report back at once, without waiting for the time limit. The other path, the sweeper taking
over any claim older than the time limit, is tested in tests/reports/test_report_jobs.py.

Real worker processes (not threads: a thread cannot be killed) on the test database and the
test Redis, each consuming a queue of its own; the first one is held inside the job by a lock
on the purchases table, taken from a separate connection, until it is killed.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from campaigns.models import Cost
from config.celery_app import app
from leads.models import Via
from leads.services import purchase_record
from reports import services
from reports.models import Report
from reports.tasks import generate_report
from tests.factories import CampaignFactory, channel

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]
WORKER_ARGS = [
    "-m",
    "celery",
    "-A",
    "config.celery_app",
    "worker",
    "--loglevel=INFO",
    "--without-gossip",
    "--without-mingle",
    "--without-heartbeat",
]


class Workers:
    """Celery worker processes on one queue of their own, each with a named database session;
    all stopped, and their sessions ended, by `stop_all`."""

    def __init__(self, logs: Path) -> None:
        self.queue = f"test-killed-{uuid.uuid4().hex[:12]}"
        self.logs = logs
        self.started: dict[str, subprocess.Popen] = {}

    def application_name(self, name: str) -> str:
        return f"{self.queue}-{name}"

    def start(
        self, name: str, *, visibility_timeout: int | None = None, pool: str = "solo"
    ) -> subprocess.Popen:
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.reports.worker_settings",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": (
                f"postgres://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}"
                f"@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
                f"?application_name={self.application_name(name)}"
            ),
            "REDIS_URL": settings.REDIS_URL,
            "WORKER_VISIBILITY_TIMEOUT": str(visibility_timeout or ""),
        }
        log = (self.logs / f"{name}.log").open("w")
        self.started[name] = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                *WORKER_ARGS,
                f"--pool={pool}",
                "--concurrency=1",
                f"--queues={self.queue}",
                f"--hostname={self.queue}-{name}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self.started[name]

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text()[-6000:]

    def stop_all(self) -> None:
        for process in self.started.values():
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name LIKE %s",
                [f"{self.queue}-%"],
            )
        redis.Redis.from_url(settings.REDIS_URL).delete(self.queue)


@pytest.fixture
def workers(tmp_path) -> Iterator[Workers]:
    app.conf.task_always_eager = False
    started = Workers(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()
        app.conf.task_always_eager = True


@pytest.fixture
def locker() -> Iterator[psycopg.Connection]:
    """A separate database session, to hold the purchases table while a worker needs it."""
    db = connection.settings_dict
    session = psycopg.connect(
        host=db["HOST"] or "localhost",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
    )
    try:
        yield session
    finally:
        session.close()  # rolls back: a lock still held goes with it


def wait_for(check: Callable[[], bool], *, seconds: float, what: str, log: Callable[[], str]):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"Waited {seconds} s for {what}. Worker log:\n{log()}")


def waiting_for_a_lock(application_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE NOT l.granted AND a.application_name = %s",
            [application_name],
        )
        return cursor.fetchone()[0] > 0


def last_month_report() -> Report:
    """Last month's report, asked for, not queued; whatever today is, a cost of 40.00 and a
    purchase of 100.00 in it."""
    end = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    start = end.replace(day=1)
    campaign = CampaignFactory(channel=channel("pinterest"), starts_on=start)
    Cost.objects.create(campaign=campaign, incurred_on=start, amount=Decimal("40.00"))
    purchase_record(
        email="a@example.com",
        amount="100.00",
        via=Via.API,
        occurred_at=dt.datetime.combine(start, dt.time(12), tzinfo=dt.UTC),
    )
    return services.report_request(start=start, end=end, enqueue=False)


def test_a_job_killed_mid_run_is_finished_by_the_next_worker(reference_data, workers, locker):
    report = last_month_report()
    start, end = report.start, report.end
    locker.execute("LOCK TABLE leads_purchase IN ACCESS EXCLUSIVE MODE")

    first = workers.start("first")
    job = generate_report.apply_async(args=[report.pk], queue=workers.queue)
    # Inside the job: the report claimed, its figures waiting for the purchases table.
    wait_for(
        lambda: (
            Report.objects.filter(pk=report.pk, status="running").exists()
            and waiting_for_a_lock(workers.application_name("first"))
        ),
        seconds=60,
        what="the first worker to be inside the job",
        log=lambda: workers.log("first"),
    )
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = timezone.now()
    claimed = Report.objects.get(pk=report.pk)
    assert (claimed.status, claimed.task_id) == ("running", job.id)  # left behind, unfinished
    locker.rollback()  # the purchases free again

    workers.start("second", visibility_timeout=1)
    wait_for(
        lambda: Report.objects.filter(pk=report.pk, status="done").exists(),
        seconds=90,
        what="the second worker to finish the job",
        log=lambda: workers.log("second"),
    )
    done = Report.objects.get(pk=report.pk)
    # The same task, redelivered, took its report back at once (not after the time limit).
    assert done.task_id == job.id
    assert done.started_at > claimed.started_at
    assert done.finished_at - killed_at < dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    assert (done.error, done.interruptions, done.stale) == ("", 0, False)
    assert done.data["roi"]["totals"]["revenue"] == "100.00"
    assert done.data["roi"]["totals"]["cost"] == "40.00"
    # Exactly once: one row for these parameters, one generation stored (the redelivered task,
    # once), and nothing more after it: the killed worker's claim left nothing behind.
    time.sleep(3)
    assert Report.objects.filter(start=start, end=end).count() == 1
    assert Report.objects.get(pk=report.pk).finished_at == done.finished_at
    succeeded = f"Task reports.tasks.generate_report[{job.id}] succeeded"
    assert workers.log("second").count(succeeded) == 1, workers.log("second")
    assert succeeded not in workers.log("first")


def pool_children(pid: int) -> list[int]:
    """The pool processes of a prefork worker (its child processes)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def test_a_pool_process_killed_mid_job_is_replaced_and_the_job_done_once(
    reference_data, workers, locker
):
    # A prefork worker whose pool process dies mid-job (out of memory, say): the worker stays,
    # the message is given back at once (acks late, reject on worker lost), and the new pool
    # process runs the same task again, which takes its report back without waiting.
    report = last_month_report()
    start, end = report.start, report.end
    locker.execute("LOCK TABLE leads_purchase IN ACCESS EXCLUSIVE MODE")

    worker = workers.start("prefork", pool="prefork")
    job = generate_report.apply_async(args=[report.pk], queue=workers.queue)
    wait_for(
        lambda: (
            Report.objects.filter(pk=report.pk, status="running").exists()
            and waiting_for_a_lock(workers.application_name("prefork"))
        ),
        seconds=60,
        what="the pool process to be inside the job",
        log=lambda: workers.log("prefork"),
    )
    (child,) = pool_children(worker.pid)
    os.kill(child, signal.SIGKILL)
    locker.rollback()  # the purchases free again for the next pool process

    wait_for(
        lambda: Report.objects.filter(pk=report.pk, status="done").exists(),
        seconds=90,
        what="the replaced pool process to finish the job",
        log=lambda: workers.log("prefork"),
    )
    assert worker.poll() is None  # the worker itself lived on
    assert child not in pool_children(worker.pid)
    done = Report.objects.get(pk=report.pk)
    assert (done.task_id, done.error, done.stale) == (job.id, "", False)
    assert done.data["roi"]["totals"]["revenue"] == "100.00"
    # Exactly once: one row, one stored generation, one success in the worker's log.
    time.sleep(3)
    assert Report.objects.filter(start=start, end=end).count() == 1
    assert Report.objects.get(pk=report.pk).finished_at == done.finished_at
    succeeded = f"Task reports.tasks.generate_report[{job.id}] succeeded"
    assert workers.log("prefork").count(succeeded) == 1, workers.log("prefork")
