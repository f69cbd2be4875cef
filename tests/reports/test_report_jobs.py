"""Saved reports that finish: transient errors retried, abandoned claims taken over, lost jobs
sent again by the sweeper, late data during generation never stored as done.

Scenario: March 2026, Spring pins (pinterest) costs 400.00; Ada buys for 100.00 with its
coupon PIN10 on 20 March: the March report's revenue is 100.00.
"""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.conf import settings
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from kombu.exceptions import OperationalError as BrokerError

from leads.models import Via
from leads.services import purchase_record
from reports import services, tasks
from reports.metrics import roi_report
from reports.models import Report
from tests.api.conftest import token_client
from tests.reports.conftest import coupon_sale

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MARCH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
TIME_LIMIT = dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
real_roi_report = roi_report


@pytest.fixture
def march():
    """The March report, asked for (pending, not queued), over the scenario's data."""
    coupon_sale()
    return services.report_request(start=MARCH[0], end=MARCH[1], enqueue=False)


@pytest.fixture
def eager_retries(monkeypatch):
    """Eager tasks that retry in place: with errors propagated, an eager retry raises instead."""
    from config.celery_app import app

    monkeypatch.setattr(app.conf, "task_eager_propagates", False)


def _set(report: Report, **fields) -> None:
    Report.objects.filter(pk=report.pk).update(**fields)


# Transient errors ---------------------------------------------------------------------------


def test_a_transient_error_is_retried_and_the_report_ends_done(march, eager_retries):
    seen = []

    def flaky(**params):
        if not seen:
            seen.append(None)
            raise OperationalError("server closed the connection unexpectedly")
        # The retry holds the report again, and the page still says why it is retried.
        seen.append(Report.objects.values("status", "error", "task_id").get(pk=march.pk))
        return real_roi_report(**params)

    with mock.patch("reports.services.roi_report", side_effect=flaky):
        result = tasks.generate_report.apply(args=[march.pk], task_id="job-1")
    assert result.get() == "done"
    assert seen[1] == {
        "status": "running",
        "error": "OperationalError: server closed the connection unexpectedly",
        "task_id": "job-1",  # a retry keeps its task id
    }
    march.refresh_from_db()
    assert (march.status, march.error, march.stale) == ("done", "", False)
    assert march.data["roi"]["totals"]["revenue"] == "100.00"


def test_a_transient_error_before_the_last_attempt_puts_the_report_back_to_pending(
    march, client, marketing_user
):
    with (
        mock.patch("reports.services.roi_report", side_effect=OperationalError("db restarting")),
        pytest.raises(OperationalError),
    ):
        services.report_generate(report_id=march.pk, task_id="job-1", last_attempt=False)
    march.refresh_from_db()
    assert (march.status, march.error) == ("pending", "OperationalError: db restarting")
    assert march.enqueued_at is not None  # the retry is on its way: the sweeper waits
    client.force_login(marketing_user)
    page = client.get(reverse("reports:saved-detail", args=[march.pk])).content.decode()
    assert "retrying: <span data-error>OperationalError: db restarting</span>" in page
    status = client.get(reverse("reports:saved-status", args=[march.pk])).json()
    assert (status["status"], status["error"]) == ("pending", "OperationalError: db restarting")


def test_retries_exhausted_mark_the_report_failed_with_the_reason(
    march, eager_retries, client, marketing_user
):
    failing = mock.patch(
        "reports.services.roi_report", side_effect=OperationalError("could not connect to server")
    )
    with failing as roi:
        result = tasks.generate_report.apply(args=[march.pk])
    assert result.failed()
    assert roi.call_count == 1 + tasks.generate_report.max_retries  # 6 attempts
    march.refresh_from_db()
    assert march.status == "failed" and march.finished_at is not None
    assert march.error == "OperationalError: could not connect to server"
    client.force_login(marketing_user)
    page = client.get(reverse("reports:saved-detail", args=[march.pk])).content.decode()
    assert "The job failed: OperationalError: could not connect to server" in page
    assert "retrying:" not in page
    read = token_client(marketing_user).get(f"/api/v1/reports/{march.pk}/").json()
    assert (read["status"], read["error"]) == ("failed", march.error)


def test_a_non_transient_error_fails_at_once(march, eager_retries):
    with mock.patch("reports.services.roi_report", side_effect=ValueError("bug")) as roi:
        result = tasks.generate_report.apply(args=[march.pk])
    assert result.failed() and roi.call_count == 1
    march.refresh_from_db()
    assert (march.status, march.error) == ("failed", "ValueError: bug")


# Abandoned claims ---------------------------------------------------------------------------


def test_a_report_running_past_the_time_limit_is_claimed_by_the_next_run(march):
    # Claimed by a job whose worker died, longer ago than the time limit.
    _set(
        march,
        status="running",
        task_id="dead-job",
        started_at=timezone.now() - TIME_LIMIT - dt.timedelta(seconds=5),
    )
    report = services.report_generate(report_id=march.pk, task_id="next-job")
    assert (report.status, report.task_id, report.interruptions) == ("done", "next-job", 0)
    assert report.data["roi"]["totals"]["revenue"] == "100.00"


def test_a_running_report_within_the_time_limit_belongs_to_its_job(march):
    started = timezone.now() - TIME_LIMIT + dt.timedelta(minutes=1)
    _set(march, status="running", task_id="live-job", started_at=started)
    assert services.report_generate(report_id=march.pk, task_id="other-job") is None
    assert services.report_generate(report_id=march.pk) is None  # a direct call neither
    march.refresh_from_db()
    assert (march.status, march.task_id, march.started_at) == ("running", "live-job", started)


def test_the_same_task_redelivered_takes_its_report_back_at_once(march):
    # The broker redelivers the task of a worker that died a minute ago: same task id.
    _set(
        march,
        status="running",
        task_id="job-1",
        started_at=timezone.now() - dt.timedelta(minutes=1),
    )
    seen = []

    def watch(**params):
        seen.append(Report.objects.values_list("interruptions", flat=True).get(pk=march.pk))
        return real_roi_report(**params)

    with mock.patch("reports.services.roi_report", side_effect=watch):
        report = services.report_generate(report_id=march.pk, task_id="job-1")
    assert report.status == "done"
    assert seen == [1]  # taking over a running report counts an interruption; done resets it
    assert report.interruptions == 0


def test_a_report_that_keeps_killing_its_worker_is_given_up(march):
    long_ago = timezone.now() - TIME_LIMIT - dt.timedelta(minutes=1)
    _set(
        march,
        status="running",
        task_id="job-4",
        started_at=long_ago,
        interruptions=services.MAX_INTERRUPTIONS,  # taken over three times already
    )
    assert services.report_generate(report_id=march.pk, task_id="job-4") is None
    assert services.report_generate(report_id=march.pk, task_id="job-5") is None
    assert services.reports_sweep() == 0  # nothing sent: it is failed instead
    march.refresh_from_db()
    assert march.status == "failed"
    assert march.error == (
        "Stopped: its job was interrupted 4 times (the worker died or hit the time limit)."
    )


# The sweeper --------------------------------------------------------------------------------


def test_the_sweeper_sends_again_the_jobs_nobody_is_working_on(
    march, django_capture_on_commit_callbacks
):
    now = timezone.now()
    minutes = dt.timedelta(minutes=1)
    reports = {
        name: services.report_request(start=start, end=end, enqueue=False)
        for name, (start, end) in {
            "lost": MARCH,  # pending, its message sent 11 minutes ago and lost
            "queued": (dt.date(2026, 3, 1), dt.date(2026, 3, 7)),  # pending, sent a minute ago
            "dead": (dt.date(2026, 3, 8), dt.date(2026, 3, 14)),  # running past the time limit
            "alive": (dt.date(2026, 3, 15), dt.date(2026, 3, 21)),  # running, within it
            "done": (dt.date(2026, 3, 22), dt.date(2026, 3, 28)),
        }.items()
    }
    _set(reports["lost"], enqueued_at=now - 11 * minutes)
    _set(reports["queued"], enqueued_at=now - minutes)
    _set(
        reports["dead"],
        status="running",
        task_id="dead-job",
        enqueued_at=now - TIME_LIMIT - 2 * minutes,
        started_at=now - TIME_LIMIT - minutes,
    )
    _set(
        reports["alive"],
        status="running",
        task_id="live-job",
        enqueued_at=now - 2 * minutes,
        started_at=now - minutes,
    )
    services.report_generate(report_id=reports["done"].pk)
    # The sweep queues the two abandoned ones after it commits; the (eager) jobs fill them.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.reports_sweep() == 2
    assert len(callbacks) == 2
    status = {name: Report.objects.get(pk=r.pk).status for name, r in reports.items()}
    assert status == {
        "lost": "done",
        "queued": "pending",
        "dead": "done",
        "alive": "running",
        "done": "done",
    }


def test_a_job_not_sent_while_the_broker_is_down_is_sent_by_the_next_sweep(
    march, django_capture_on_commit_callbacks
):
    down = BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with (
        mock.patch.object(tasks.generate_report, "delay", side_effect=down),
        django_capture_on_commit_callbacks(execute=True),
    ):
        report = services.report_request(start=MARCH[0], end=MARCH[1])  # no error raised
        # The broker still away at the next sweep: nothing sent, nothing stamped.
        assert services.reports_sweep() == 1
    report.refresh_from_db()
    assert (report.status, report.enqueued_at) == ("pending", None)  # no job on its way
    # The next sweep sends it at once, without waiting for the grace of a lost message.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reports_sweep() == 1
    assert Report.objects.get(pk=report.pk).status == "done"


def test_a_sent_job_is_given_its_grace_before_it_is_sent_again(
    march, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.generate_report, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        report = services.report_request(start=MARCH[0], end=MARCH[1])
    assert delay.call_count == 1
    report.refresh_from_db()
    assert report.enqueued_at is not None  # the broker took it: it may simply be in the queue
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reports_sweep() == 0
        later = timezone.now() + services.PENDING_GRACE + dt.timedelta(seconds=1)
        assert services.reports_sweep(now=later) == 1  # lost (Redis restarted without it)
    assert Report.objects.get(pk=report.pk).status == "done"


def test_late_data_while_the_broker_is_down_leaves_the_report_to_the_sweeper(
    march, django_capture_on_commit_callbacks
):
    services.report_generate(report_id=march.pk)
    down = BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with (
        mock.patch.object(tasks.generate_report, "delay", side_effect=down),
        django_capture_on_commit_callbacks(execute=True),
    ):
        purchase_record(
            email="late@example.com",
            amount="50.00",
            via=Via.API,
            occurred_at=dt.datetime(2026, 3, 25, 12, tzinfo=UTC),
        )
    march.refresh_from_db()
    assert (march.status, march.stale, march.enqueued_at) == ("pending", True, None)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reports_sweep() == 1
    march.refresh_from_db()
    assert (march.status, march.data["roi"]["totals"]["revenue"]) == ("done", "150.00")


def test_the_sweeper_is_a_beat_entry_with_expiry(reference_data):
    entry = PeriodicTask.objects.get(task="reports.tasks.sweep_reports")
    assert (entry.interval.every, entry.interval.period) == (1, "minutes")
    assert 0 < entry.expire_seconds < 60  # dropped, not piled up, when workers are away


# Late data during generation ----------------------------------------------------------------


def test_late_data_arriving_during_generation_is_not_stored_as_done(
    march, django_capture_on_commit_callbacks
):
    calls = []

    def late_data_meanwhile(**params):
        figures = real_roi_report(**params)  # read before the late purchase commits
        calls.append(figures["totals"]["revenue"])
        if len(calls) == 1:
            with django_capture_on_commit_callbacks(execute=True):
                purchase_record(
                    email="late@example.com",
                    amount="50.00",
                    occurred_at=dt.datetime(2026, 3, 25, tzinfo=UTC),
                    via=Via.API,
                )
                # The writer's contract for a running report: mark it stale, nothing else.
                _set(march, stale=True)
        return figures

    with mock.patch("reports.services.roi_report", side_effect=late_data_meanwhile):
        report = services.report_generate(report_id=march.pk, task_id="job-1")
    # First round: 100.00, read before the purchase, not stored; second round: 100 + 50.
    assert calls == ["100.00", "150.00"]
    assert (report.status, report.stale) == ("done", False)
    assert report.data["roi"] == real_roi_report(start=MARCH[0], end=MARCH[1])
    assert report.data["roi"]["totals"]["revenue"] == "150.00"
    assert report.data["funnel"]["totals"]["customers"] == 2  # Ada and the late buyer


def test_a_report_whose_data_keeps_changing_is_queued_again(
    march, django_capture_on_commit_callbacks
):
    def always_stale(**params):
        _set(march, stale=True)
        return real_roi_report(**params)

    with (
        mock.patch("reports.services.roi_report", side_effect=always_stale) as roi,
        django_capture_on_commit_callbacks() as callbacks,
    ):
        report = services.report_generate(report_id=march.pk, task_id="job-1")
    assert roi.call_count == services.GENERATION_ROUNDS
    assert (report.status, report.stale, report.data) == ("pending", True, None)
    assert len(callbacks) == 1  # its generation queued again


def test_a_report_taken_over_meanwhile_is_not_stored_by_the_old_job(march):
    def taken_over(**params):
        # The worker was thought dead: another job took the report over.
        _set(march, task_id="job-2", started_at=timezone.now())
        return real_roi_report(**params)

    with mock.patch("reports.services.roi_report", side_effect=taken_over):
        assert services.report_generate(report_id=march.pk, task_id="job-1") is None
    march.refresh_from_db()
    assert (march.status, march.task_id, march.data) == ("running", "job-2", None)


# Periodic reports ---------------------------------------------------------------------------


def test_periodic_reports_run_again_keep_what_is_done_and_mail_it_once(
    march, mailoutbox, marketing_user
):
    from reports.models import ReportSubscription

    ReportSubscription.objects.create(email=marketing_user.email, granularity="monthly")
    first = services.periodic_reports(granularity="monthly", today=dt.date(2026, 4, 2))
    # The task retried or redelivered: the same reports, not regenerated, not mailed again.
    again = services.periodic_reports(granularity="monthly", today=dt.date(2026, 4, 2))
    assert [(r.pk, r.finished_at) for r in again] == [(r.pk, r.finished_at) for r in first]
    assert len(mailoutbox) == 2  # by channel and by campaign, once each


# Periodic reports whose beat entry fired while Redis was away ---------------------------------


def _beat_ran(name: str, at: dt.datetime) -> None:
    PeriodicTask.objects.filter(name=name).update(last_run_at=at)


@pytest.mark.usefixtures("reference_data")
@pytest.mark.parametrize(
    ("entry", "granularity", "now", "fired"),
    [
        # Tuesday 24 Nov 2026: the daily entry fired at 06:00 for Monday 23.
        ("Daily ROI report", "daily", dt.datetime(2026, 11, 24, 7), dt.datetime(2026, 11, 24, 6)),
        # Monday 23 Nov: the weekly entry fired at 06:30 for the week of 16-22 Nov.
        (
            "Weekly ROI report",
            "weekly",
            dt.datetime(2026, 11, 23, 9),
            dt.datetime(2026, 11, 23, 6, 30),
        ),
        # 1 Dec: the monthly entry fired at 07:00 for November.
        ("Monthly ROI report", "monthly", dt.datetime(2026, 12, 1, 8), dt.datetime(2026, 12, 1, 7)),
    ],
)
def test_a_periodic_job_lost_by_the_broker_is_sent_by_the_sweeper(entry, granularity, now, fired):
    # Beat advances an entry before it sends: with Redis away the job is gone, and the period's
    # reports never appear. The sweeper sends it once the grace has passed and none exist.
    now, fired = (timezone.make_aware(t) for t in (now, fired))
    _beat_ran(entry, fired)
    with mock.patch.object(tasks.generate_periodic, "delay") as delay:
        # Within the grace the job may still be in the queue: nothing sent.
        assert services.reports_sweep(now=fired + dt.timedelta(minutes=5)) == 0
        assert services.reports_sweep(now=now) == 1
    delay.assert_called_once_with(granularity)


@pytest.mark.usefixtures("reference_data")
def test_the_sweeper_leaves_periodic_jobs_that_ran_or_are_not_due():
    now = timezone.make_aware(dt.datetime(2026, 11, 24, 9))
    with mock.patch.object(tasks.generate_periodic, "delay") as delay:
        # Fired yesterday, before Monday 23 closed: today's run is not due yet.
        _beat_ran("Daily ROI report", now - dt.timedelta(days=1))
        assert services.reports_sweep(now=now) == 0
        # Fired today and its reports exist (whatever their state: the sweeper's other cases
        # look after them).
        _beat_ran("Daily ROI report", now - dt.timedelta(hours=3))
        services.report_request(
            start=dt.date(2026, 11, 23),
            end=dt.date(2026, 11, 23),
            granularity="daily",
            enqueue=False,
        )
        Report.objects.update(enqueued_at=now)  # its job is on its way
        assert services.reports_sweep(now=now) == 0
        # A disabled entry is never caught up.
        Report.objects.all().delete()
        PeriodicTask.objects.filter(name="Daily ROI report").update(enabled=False)
        assert services.reports_sweep(now=now) == 0
    delay.assert_not_called()
