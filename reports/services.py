"""Saved reports: asked for, generated once, regenerated when late data arrives, delivered.

A Report is unique per (start, end, granularity, attribution, group_by): asking again resets
the same row, never a second one. Work is claimed with a conditional UPDATE, so two workers
never generate the same report at once, and tasks are queued only after the asking
transaction commits.

A report always finishes: a transient error puts it back to pending for the task's retry (only
the last attempt marks it failed); a claim older than the task time limit belongs to a dead
worker and may be taken over (at once by the same task, redelivered by the broker); and
`reports_sweep` re-sends the jobs of reports that nobody has been working on for a while.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Case, F, PositiveSmallIntegerField, Q, When
from django.template.loader import render_to_string
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from campaigns.errors import InvalidInput
from leads.rules import INVALID_EMAIL, email_address
from reports import attribution
from reports.counts import cohort_durations, count_spans
from reports.csvexport import write_report
from reports.metrics import funnel_report, roi_report, validate
from reports.models import (
    RULE_BASED,
    Attribution,
    Granularity,
    GroupBy,
    Report,
    ReportSubscription,
)
from reports.paths import conversion_paths
from reports.periods import last_day, last_iso_week, last_month

log = logging.getLogger(__name__)
PERIODS = {
    Granularity.DAILY: last_day,
    Granularity.WEEKLY: last_iso_week,
    Granularity.MONTHLY: last_month,
}


# Errors that can succeed when tried again later (the database or Redis unreachable, restarting,
# a deadlock or a serialization failure); the tasks retry these and only these.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, RedisConnectionError, ConnectionError)
# Late data arriving while a report is generated: regenerate it at most this many times in the
# same job before queueing it again.
GENERATION_ROUNDS = 3
# Abandoned claims taken over before a report is given up as failed (a job that kills its
# worker, e.g. out of memory, must not loop through the workers forever).
MAX_INTERRUPTIONS = 3
# A pending report whose job was sent longer ago than this has lost its message (the broker was
# down, or restarted without persistence): longer than the tasks' longest retry backoff (300 s).
PENDING_GRACE = dt.timedelta(minutes=10)
SWEEP_BATCH = 500


def _enqueue(report_id: int) -> None:
    """Queue the report's generation once the current transaction commits.

    The Report row is the outbox: a pending report with no `enqueued_at` has no job on its way,
    and `enqueued_at` is stamped only once the broker took the job. Whatever stops the send
    (Redis away, most often) is logged, never raised: the write that asked has committed, and
    the next `reports_sweep` sends the job. The callers clear `enqueued_at` in their own
    UPDATE when they put a report back to pending."""
    from reports.tasks import generate_report

    def send() -> None:
        try:
            generate_report.delay(report_id)
        except Exception as exc:
            log.warning("Report %s not queued (%s); the sweeper will send it.", report_id, exc)
            return
        Report.objects.filter(
            pk=report_id, status__in=[Report.Status.PENDING, Report.Status.RUNNING]
        ).update(enqueued_at=timezone.now())

    # robust: an error after the commit must not turn a stored write into a 500 (and a retry
    # into a duplicate).
    transaction.on_commit(send, robust=True)


def report_request(
    *,
    start: dt.date,
    end: dt.date,
    group_by: str = GroupBy.CHANNEL,
    attribution: str = Attribution.LAST_TOUCH,
    granularity: str = Granularity.CUSTOM,
    by=None,
    enqueue: bool = True,
) -> Report:
    """Ask for a report; the same parameters again reset and regenerate the same row."""
    validate(start=start, end=end, group_by=group_by, attribution=attribution, lookback_days=90)
    with transaction.atomic():
        report, created = Report.objects.select_for_update().get_or_create(
            start=start,
            end=end,
            granularity=granularity,
            attribution=attribution,
            group_by=group_by,
            defaults={"requested_by": by if by is not None and by.is_authenticated else None},
        )
        if not created:
            Report.objects.filter(pk=report.pk).update(
                status=Report.Status.PENDING,
                stale=False,
                error="",
                task_id="",
                enqueued_at=None,
                started_at=None,
                interruptions=0,
                finished_at=None,
                emailed_at=None,
            )
            report.refresh_from_db()
        if enqueue:
            _enqueue(report.pk)
    return report


def _time_limit() -> dt.timedelta:
    """How long a job may run: a claim older than this belongs to a worker that is gone (the
    hard time limit kills a task that runs longer)."""
    return dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)


def _claim(*, report_id: int, task_id: str) -> dt.datetime | None:
    """Take the report for this job with one conditional UPDATE, which touches one row or none.

    A pending report may be taken by anyone. A running one only when its claim is abandoned:
    older than the time limit (its worker died or was killed at the limit), or held by this
    very task id (the broker redelivered the task of a worker that died: the redelivery takes
    its report back at once, instead of waiting for the time limit). Taking a running report
    counts an interruption, and after `MAX_INTERRUPTIONS` the report is no longer taken (the
    sweeper fails it). Returns the claim's start time, which identifies the claim."""
    now = timezone.now()
    abandoned = Q(started_at__lt=now - _time_limit())
    if task_id:
        abandoned |= Q(task_id=task_id)
    claimable = Q(status=Report.Status.PENDING) | (
        Q(status=Report.Status.RUNNING, interruptions__lt=MAX_INTERRUPTIONS) & abandoned
    )
    claimed = Report.objects.filter(claimable, pk=report_id).update(
        status=Report.Status.RUNNING,
        task_id=task_id,
        started_at=now,
        # The figures about to be read include every write committed so far.
        stale=False,
        interruptions=Case(
            When(status=Report.Status.RUNNING, then=F("interruptions") + 1),
            default=F("interruptions"),
            output_field=PositiveSmallIntegerField(),
        ),
    )
    return now if claimed else None


def report_generate(
    *, report_id: int, task_id: str = "", last_attempt: bool = True
) -> Report | None:
    """Fill a pending report (or take over an abandoned one, see `_claim`). Returns None when
    there is nothing to do: deleted, or another job has it.

    `task_id` names the job (the Celery task id; empty for a direct call). `last_attempt` says
    whether a failure is final: a transient error (`TRANSIENT_ERRORS`) before the last attempt
    puts the report back to pending with the reason in `error`, and the caller retries; any
    other error, or the last attempt's, marks it failed. The error is raised either way.

    The figures are stored only while this claim still holds and no late data arrived meanwhile
    (the writers set `stale` on a running report): otherwise they may already be out of date,
    so the report is generated again, up to `GENERATION_ROUNDS` times, then queued again.
    """
    claimed_at = _claim(report_id=report_id, task_id=task_id)
    if claimed_at is None:
        return None
    mine = Q(pk=report_id, status=Report.Status.RUNNING, task_id=task_id)
    rounds = 0
    while True:
        report = Report.objects.filter(pk=report_id).first()
        if report is None:
            return None
        try:
            data = _report_data(report)
        except Exception as exc:
            _failed(mine & Q(started_at=claimed_at), exc, retrying=not last_attempt)
            raise
        stored = Report.objects.filter(mine, started_at=claimed_at, stale=False).update(
            status=Report.Status.DONE,
            data=data,
            error="",
            interruptions=0,
            finished_at=timezone.now(),
        )
        if stored:
            report.refresh_from_db()
            return report
        # Late data arrived while generating (or the claim was taken over, or the report was
        # deleted): these figures may miss it, so they are not stored.
        rounds += 1
        if rounds == GENERATION_ROUNDS:
            # Data keeps arriving: let the queue take it up again later.
            if Report.objects.filter(mine, started_at=claimed_at, stale=True).update(
                status=Report.Status.PENDING, enqueued_at=None
            ):
                _enqueue(report_id)
            return Report.objects.filter(pk=report_id).first()
        again = timezone.now()
        if not Report.objects.filter(mine, started_at=claimed_at, stale=True).update(
            stale=False, started_at=again
        ):
            return None
        claimed_at = again


def _report_data(report: Report) -> dict:
    params = {
        "start": report.start,
        "end": report.end,
        "group_by": report.group_by,
        "attribution": report.attribution,
    }
    return {"roi": roi_report(**params), "funnel": funnel_report(**params)}


def _failed(claim: Q, exc: Exception, *, retrying: bool) -> None:
    """Record a failed attempt on the report this job still holds: back to pending when a
    transient error will be retried, failed otherwise. When the database itself is down this
    UPDATE fails too; the report then stays running under this task id, which the retry (same
    task id) or, after the time limit, any job takes over."""
    reason = f"{type(exc).__name__}: {exc}"[:2000]
    if retrying and isinstance(exc, TRANSIENT_ERRORS):
        # enqueued_at: the retry is on its way; the sweeper leaves the report alone meanwhile.
        Report.objects.filter(claim).update(
            status=Report.Status.PENDING, error=reason, enqueued_at=timezone.now()
        )
    else:
        Report.objects.filter(claim).update(
            status=Report.Status.FAILED,
            error=reason,
            interruptions=0,
            finished_at=timezone.now(),
        )


def reports_sweep(*, now: dt.datetime | None = None) -> int:
    """Send again the jobs of reports nobody is working on; returns how many were sent.

    Three cases: pending with no job sent (the broker was away when it was asked for, or
    regenerated after late data), sent at once; pending for longer than `PENDING_GRACE` since
    its job was sent (the message was lost, e.g. Redis restarted without its data); running for
    longer than the task time limit (its worker died). A report whose claims were already taken
    over `MAX_INTERRUPTIONS` times is marked failed instead. A job sent twice is harmless: only
    one can claim the report. The periodic jobs and the weekly verdict's that beat fired while
    the broker was away are sent again too."""
    now = now or timezone.now()
    dead = Q(status=Report.Status.RUNNING, started_at__lt=now - _time_limit())
    Report.objects.filter(dead, interruptions__gte=MAX_INTERRUPTIONS).update(
        status=Report.Status.FAILED,
        error=(
            f"Stopped: its job was interrupted {MAX_INTERRUPTIONS + 1} times "
            "(the worker died or hit the time limit)."
        ),
        interruptions=0,
        finished_at=now,
    )
    quiet = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - PENDING_GRACE)
    ids = list(
        Report.objects.filter(quiet & (Q(status=Report.Status.PENDING) | dead))
        .order_by("created_at", "id")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    for report_id in ids:
        _enqueue(report_id)
    if ids:
        log.warning("Sending the jobs of %s report(s) nobody is working on: %s", len(ids), ids)
    from reports.delivery import verdict_catch_up  # delivery builds on this module

    return len(ids) + len(periodic_catch_up(now=now)) + verdict_catch_up(now=now)


# How long after its beat entry fired a period's reports may still be missing before the sweeper
# sends the job again: longer than a healthy worker takes to start it (the daily job first warms
# yesterday's caches), so a job merely waiting in the queue is not sent twice.
PERIODIC_GRACE = dt.timedelta(minutes=30)


def periodic_missed(*, now: dt.datetime) -> list[str]:
    """The granularities whose beat entry fired after their last period closed but whose
    reports for it do not exist: the send failed (beat advances an entry's schedule before it
    sends, so a job that Redis refused is not tried again until the next period)."""
    from django_celery_beat.models import PeriodicTask

    today = timezone.localdate(now)
    missed = []
    entries = PeriodicTask.objects.filter(
        task="reports.tasks.generate_periodic",
        enabled=True,
        last_run_at__lt=now - PERIODIC_GRACE,
    ).only("args", "kwargs", "last_run_at")
    for entry in entries:
        granularity = _periodic_granularity(entry.args, entry.kwargs)
        if granularity is None:
            continue
        start, end = PERIODS[granularity](today)
        closed = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
        fired_since = entry.last_run_at >= closed
        if (
            fired_since
            and not Report.objects.filter(start=start, end=end, granularity=granularity).exists()
        ):
            missed.append(granularity)
    return missed


def _periodic_granularity(args: str, kwargs: str) -> str | None:
    """The granularity a beat entry of `generate_periodic` passes (as edited in the admin)."""
    try:
        given = json.loads(args or "[]") or [json.loads(kwargs or "{}").get("granularity")]
    except (ValueError, AttributeError):
        return None
    return given[0] if given and given[0] in PERIODS else None


def periodic_catch_up(*, now: dt.datetime) -> list[str]:
    """Send the periodic jobs that `periodic_missed` finds (once Redis takes them again); the
    job keeps what is done and mails each report once, so a late duplicate changes nothing."""
    from reports.tasks import generate_periodic

    sent = []
    for granularity in periodic_missed(now=now):
        try:
            generate_periodic.delay(granularity)
        except Exception as exc:  # as `_enqueue`: whatever stops the send, the next sweep retries
            log.warning("The missed %s reports not sent (%s); next sweep.", granularity, exc)
            continue
        log.warning("Sent the %s reports that their beat entry missed.", granularity)
        sent.append(granularity)
    return sent


def attribution_warm(
    *,
    start: dt.date,
    end: dt.date,
    lookback_days: int = 90,
    timed: Callable[[str, float], None] | None = None,
) -> int:
    """Fill the day caches (contact counts, cohort durations, conversion paths, and attribution
    under every rule-based model) and their month roll-ups for the closed days from `start` to
    `end` (what is cached already is only read); returns how many attribution models were
    warmed. Run for yesterday by the daily reports, and by `manage.py warm_attribution` after a
    bulk load. `timed`, if given, is told how long each cache took ("contacts", "durations",
    "paths", then each model), in seconds."""
    end = min(end, timezone.localdate() - dt.timedelta(days=1))
    if end < start:
        return 0
    steps: list[tuple[str, Callable[[], object]]] = [
        ("contacts", lambda: count_spans([(start, end)])),
        ("durations", lambda: cohort_durations(start, end)),
        ("paths", lambda: conversion_paths(start=start, end=end, lookback_days=lookback_days)),
    ]
    # The data-driven models read the whole period's journeys at once: no day to warm.
    steps += [
        (
            model,
            lambda model=model: attribution.attribute(
                model=model, start=start, end=end, lookback_days=lookback_days
            ),
        )
        for model in RULE_BASED
    ]
    for name, step in steps:
        started = time.perf_counter()
        step()
        if timed is not None:
            timed(name, time.perf_counter() - started)
    return len(RULE_BASED)


def periodic_reports(
    *,
    granularity: str,
    today: dt.date | None = None,
    task_id: str = "",
    last_attempt: bool = True,
) -> list[Report]:
    """The daily / weekly / monthly reports (by channel and by campaign, last touch), generated
    now, in the calling worker, and delivered to the subscribers. The daily run first caches
    yesterday's attribution under every model, so report pages over past periods stay warm.

    Running it again for the same day (the task retried after a transient error, or redelivered
    after its worker died) keeps the reports already done and mails each generation once;
    `task_id` and `last_attempt` are passed to `report_generate`."""
    start, end = PERIODS[granularity](today or timezone.localdate())
    if granularity == Granularity.DAILY:
        attribution_warm(start=start, end=end)
    made = []
    for group_by in (GroupBy.CHANNEL, GroupBy.CAMPAIGN):
        report = Report.objects.filter(
            start=start,
            end=end,
            granularity=granularity,
            attribution=Attribution.LAST_TOUCH,
            group_by=group_by,
            status=Report.Status.DONE,
            stale=False,
        ).first()
        if report is None:
            report = report_request(
                start=start, end=end, group_by=group_by, granularity=granularity, enqueue=False
            )
            report_generate(report_id=report.pk, task_id=task_id, last_attempt=last_attempt)
            report.refresh_from_db()
        made.append(report)
        if report.status == Report.Status.DONE:
            report_deliver(report=report)
    return made


def report_delete(*, report: Report, by) -> None:
    """Delete a saved report, for a user allowed to (`reports.delete_report`).

    A job still working on it finds no row and stops (report_generate tolerates a deleted
    report). A periodic report deleted soon after its beat run may be made again by the
    sweeper's catch-up (`periodic_missed`), as if the run had been missed."""
    if not (by.has_perm("reports.view_dashboard") and by.has_perm("reports.delete_report")):
        raise PermissionDenied("Deleting saved reports needs the delete permission.")
    deleted, _ = Report.objects.filter(pk=report.pk).delete()
    if deleted:
        log.info("Report %s (%s) deleted by %s.", report.pk, report, by)


def report_csv(report: Report) -> str:
    """The report's ROI rows and totals as CSV, with the API's keys and values (the pages'
    CSV writer: formula-like text is neutralised)."""
    out = io.StringIO()
    write_report(out, report.data["roi"])
    return out.getvalue()


PERIODIC = (Granularity.DAILY, Granularity.WEEKLY, Granularity.MONTHLY)


def subscription_address(email: str) -> str:
    """An address as subscriptions store and compare it: valid, ASCII before the @ (the
    contacts' rule, `leads.rules.email_address`), an international domain in its IDNA form, and
    in lower case, so one inbox is one row per kind however it was typed."""
    address = email_address(email or "")
    try:
        validate_email(address)
    except ValidationError:
        raise InvalidInput(INVALID_EMAIL, field="email") from None
    return address.lower()


def subscription_set(*, email: str, granularities: Iterable[str], by) -> str:
    """The kinds of report (daily, weekly, monthly) one address receives, replacing what it
    had; none removes the address. For users with the report permission. Returns the stored
    address. The unique (email, granularity) constraint backs the get_or_create: two marketers
    saving the same address at once still make one row per kind."""
    if not by.has_perm("reports.view_dashboard"):
        raise PermissionDenied("Managing report deliveries needs the report permission.")
    address = subscription_address(email)
    wanted = set(granularities)
    if not wanted <= set(PERIODIC):
        raise InvalidInput("Choose daily, weekly or monthly reports.", field="granularity")
    with transaction.atomic():
        ReportSubscription.objects.filter(email=address).exclude(granularity__in=wanted).delete()
        for granularity in wanted:
            ReportSubscription.objects.get_or_create(
                email=address,
                granularity=granularity,
                defaults={"added_by": by if by.is_authenticated else None},
            )
    return address


def report_recipients(granularity: str) -> list[str]:
    """The addresses subscribed to reports of `granularity`, each once."""
    return list(
        ReportSubscription.objects.filter(granularity=granularity)
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )


def report_deliver(*, report: Report) -> int:
    """Email a done report to every address subscribed to its granularity; returns how many.

    Claimed with a conditional UPDATE on emailed_at: one generation is mailed once, however
    many workers or retries reach this. The addresses are in Bcc (they may belong to different
    people: none sees the others)."""
    if report.status != Report.Status.DONE:
        return 0
    claimed = Report.objects.filter(pk=report.pk, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if not claimed:
        return 0
    recipients = report_recipients(report.granularity)
    if not recipients:
        return 0
    roi = report.data["roi"]
    context = {"report": report, "roi": roi, "totals": roi["totals"], "rows": roi["rows"][:10]}
    subject = (
        f"{report.get_granularity_display()} ROI report {report.start:%Y-%m-%d} to {report.end:%Y-%m-%d} "
        f"by {report.group_by}"
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("reports/email/report.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[settings.DEFAULT_FROM_EMAIL],
        bcc=recipients,
    )
    message.attach_alternative(render_to_string("reports/email/report.html", context), "text/html")
    message.attach(
        f"roi-{report.group_by}-{report.start}-{report.end}.csv", report_csv(report), "text/csv"
    )
    message.send()
    return len(recipients)
