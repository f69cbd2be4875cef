"""Saved reports: asked for, generated once, regenerated when late data arrives, delivered.

A Report is unique per (start, end, granularity, attribution, group_by): asking again resets
the same row, never a second one. Work is claimed with a conditional UPDATE, so two workers
never generate the same report at once, and tasks are queued only after the asking
transaction commits.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from reports import attribution
from reports.counts import contact_days
from reports.csvexport import write_report
from reports.metrics import funnel_report, roi_report, validate
from reports.models import (
    AttributedDay,
    Attribution,
    ContactDay,
    DayChange,
    Granularity,
    GroupBy,
    Report,
    ReportSubscription,
)
from reports.periods import last_day, last_iso_week, last_month

log = logging.getLogger(__name__)
PERIODS = {
    Granularity.DAILY: last_day,
    Granularity.WEEKLY: last_iso_week,
    Granularity.MONTHLY: last_month,
}


def _enqueue(report_id: int) -> None:
    from reports.tasks import generate_report

    transaction.on_commit(lambda: generate_report.delay(report_id))


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
                started_at=None,
                finished_at=None,
                emailed_at=None,
            )
            report.refresh_from_db()
        if enqueue:
            _enqueue(report.pk)
    return report


def report_generate(*, report_id: int) -> Report | None:
    """Fill a pending report. Returns None when there is nothing to do (deleted, or another
    worker claimed it)."""
    claimed = Report.objects.filter(pk=report_id, status=Report.Status.PENDING).update(
        status=Report.Status.RUNNING, started_at=timezone.now(), error=""
    )
    if not claimed:
        return None
    report = Report.objects.get(pk=report_id)
    params = {
        "start": report.start,
        "end": report.end,
        "group_by": report.group_by,
        "attribution": report.attribution,
    }
    try:
        data = {"roi": roi_report(**params), "funnel": funnel_report(**params)}
    except Exception as exc:
        Report.objects.filter(pk=report_id).update(
            status=Report.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    Report.objects.filter(pk=report_id).update(
        status=Report.Status.DONE, data=data, stale=False, finished_at=timezone.now()
    )
    report.refresh_from_db()
    return report


def reports_mark_stale(*, days: Iterable[dt.date]) -> int:
    """Late data for these days: reports covering them are stale and regenerated after commit.

    One UPDATE finds them; a report never silently disagrees with the live figures.
    """
    days = sorted(set(days))
    if not days:
        return 0
    _days_changed(days)
    covering = Q()
    for day in days:
        covering |= Q(start__lte=day, end__gte=day)
    ids = list(
        Report.objects.filter(
            covering, status__in=[Report.Status.DONE, Report.Status.FAILED]
        ).values_list("id", flat=True)
    )
    if not ids:
        return 0
    Report.objects.filter(pk__in=ids).update(stale=True, status=Report.Status.PENDING)
    for report_id in ids:
        _enqueue(report_id)
    return len(ids)


def _days_changed(days: list[dt.date]) -> None:
    """Drop the cached attribution and contact counts of these days now, and stamp them changed once the write
    commits: a report that read the data before the commit and stores its cache after the
    delete is then still known stale (its computed_at precedes the stamp)."""
    AttributedDay.objects.filter(day__in=days).delete()
    ContactDay.objects.filter(day__in=days).delete()

    def stamp() -> None:
        now = timezone.now()
        DayChange.objects.bulk_create(
            [DayChange(day=day, changed_at=now) for day in days],
            update_conflicts=True,
            unique_fields=["day"],
            update_fields=["changed_at"],
        )

    transaction.on_commit(stamp)


def mark_stale_for(*moments: dt.datetime | dt.date) -> None:
    """Called by the write paths: data dated before today may already be in a saved report.
    Bulk paths pass every moment of a batch at once: one look-up for them all."""
    today = timezone.localdate()
    days = {timezone.localdate(m) if isinstance(m, dt.datetime) else m for m in moments}
    reports_mark_stale(days=[day for day in days if day < today])


def attribution_warm(*, start: dt.date, end: dt.date, lookback_days: int = 90) -> int:
    """Fill the day caches (contact counts, and attribution under every model) for the closed
    days from `start` to `end` (days already cached are only read); returns how many models
    were warmed. Run for yesterday by the daily reports, and by `manage.py warm_attribution`
    after a bulk load."""
    end = min(end, timezone.localdate() - dt.timedelta(days=1))
    if end < start:
        return 0
    contact_days(start, end)
    for model in Attribution.values:
        attribution.attribute(model=model, start=start, end=end, lookback_days=lookback_days)
    return len(Attribution.values)


def periodic_reports(*, granularity: str, today: dt.date | None = None) -> list[Report]:
    """The daily / weekly / monthly reports (by channel and by campaign, last touch), generated
    now, in the calling worker, and delivered to the subscribers. The daily run first caches
    yesterday's attribution under every model, so report pages over past periods stay warm."""
    start, end = PERIODS[granularity](today or timezone.localdate())
    if granularity == Granularity.DAILY:
        attribution_warm(start=start, end=end)
    made = []
    for group_by in (GroupBy.CHANNEL, GroupBy.CAMPAIGN):
        report = report_request(
            start=start, end=end, group_by=group_by, granularity=granularity, enqueue=False
        )
        report_generate(report_id=report.pk)
        report.refresh_from_db()
        made.append(report)
        if report.status == Report.Status.DONE:
            report_deliver(report=report)
    return made


def report_csv(report: Report) -> str:
    """The report's ROI rows and totals as CSV, with the API's keys and values (the pages'
    CSV writer: formula-like text is neutralised)."""
    out = io.StringIO()
    write_report(out, report.data["roi"])
    return out.getvalue()


def report_deliver(*, report: Report) -> int:
    """Email a done report to the active subscribers of its granularity who may see reports.

    Claimed with a conditional UPDATE on emailed_at: one generation is mailed once."""
    if report.status != Report.Status.DONE:
        return 0
    claimed = Report.objects.filter(pk=report.pk, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if not claimed:
        return 0
    users = [
        s.user
        for s in ReportSubscription.objects.filter(
            granularity=report.granularity, user__is_active=True
        )
        .select_related("user")
        .exclude(user__email="")
        if s.user.has_perm("reports.view_dashboard")
    ]
    if not users:
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
        bcc=[u.email for u in users],
    )
    message.attach_alternative(render_to_string("reports/email/report.html", context), "text/html")
    message.attach(
        f"roi-{report.group_by}-{report.start}-{report.end}.csv", report_csv(report), "text/csv"
    )
    message.send()
    return len(users)
