"""What a declared change voids: the receiving end of `campaigns.changes.data_changed`.

Every write of the apps below declares the moments it changed inside its transaction
(`campaigns.changes.declare_changed`); this module, connected in `ReportsConfig.ready()`, is the
only place that knows what is derived from them:
- the day caches (`AttributedDay`, `ContactDay`, `DurationDay`, `PathDay`) of those local days
  are deleted at once, and the days are stamped in `DayChange` once the write commits, so a cache row or a
  page figure computed from the data as it was before the commit is known stale even if it is
  stored after the delete; so are the `MonthRollup` rows of their months. The payback's kept
  cohort months (`CohortMonth`) are voided by the stamps alone: one is served only while no day
  of its window (the month's first day to its last day + 180) is stamped after it was computed,
  and a late purchase of a cohort's contact is dated inside its cohort's window (a delete here
  would cost every late write a query for a cache most of them cannot reach);
- saved reports whose period covers one of the days: a done or failed one goes back to pending,
  marked stale, and is regenerated after the commit; a running one is marked stale, so its
  worker does not store figures read before the change as done;
- a catalogue change (a name, a campaign's channel, a target) changes every cached page key
  once it commits, and regenerates every saved report, whose rows carry names and targets.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from reports.dashboard import CATALOGUE_KEY
from reports.models import (
    AttributedDay,
    CohortMonth,
    ContactDay,
    DayChange,
    DurationDay,
    MonthRollup,
    PathDay,
    Report,
)

ONE = dt.timedelta(days=1)
# The per-day caches of `reports.daycache`.
DAY_CACHES = (AttributedDay, ContactDay, DurationDay, PathDay)


def on_data_changed(
    sender: object, *, moments: Iterable[dt.datetime | dt.date], catalogue: bool, **kwargs
) -> None:
    """Signal receiver: void and regenerate what the declared change touches."""
    days = local_days(moments)
    if days:
        days_changed(days)
    if catalogue:
        catalogue_changed()


def local_days(moments: Iterable[dt.datetime | dt.date]) -> list[dt.date]:
    """The local days (TIME_ZONE) of the moments; dates are local days already."""
    return sorted(
        {timezone.localdate(m) if isinstance(m, dt.datetime) else m for m in moments if m}
    )


def days_changed(days: list[dt.date]) -> int:
    """Drop the day caches of these days now, stamp them changed after commit, and mark the
    saved reports covering them stale. Returns how many reports are to be regenerated."""
    zone = timezone.get_current_timezone_name()
    today = timezone.localdate()
    closed = [day for day in days if day < today]  # today and later are never cached
    if closed:
        runs = _runs(closed)
        here = _any(Q(day__gte=first, day__lte=last) for first, last in runs)
        # Rows kept under another TIME_ZONE: a moment's local day there is at most one off.
        elsewhere = _any(Q(day__gte=first - ONE, day__lte=last + ONE) for first, last in runs)
        for model in DAY_CACHES:
            # One delete each: this zone's rows of the days, and other zones' a day either side.
            model.objects.filter(
                (here & Q(time_zone=zone)) | (elsewhere & ~Q(time_zone=zone))
            ).delete()
        # The months holding those days, added up (under another zone, a day either side).
        months = {day.replace(day=1) for day in closed}
        nearby = {(day + delta).replace(day=1) for day in closed for delta in (-ONE, ONE)}
        MonthRollup.objects.filter(
            Q(month__in=months, time_zone=zone)
            | (Q(month__in=months | nearby) & ~Q(time_zone=zone))
        ).delete()

        def stamp() -> None:
            # Decided at commit time: a write dated yesterday that commits just after midnight
            # still stamps its day, which is now closed and may have been cached meanwhile.
            now, last_closed = timezone.now(), timezone.localdate() - dt.timedelta(days=1)
            DayChange.objects.bulk_create(
                [DayChange(day=day, changed_at=now) for day in days if day <= last_closed],
                update_conflicts=True,
                unique_fields=["day"],
                update_fields=["changed_at"],
            )

        transaction.on_commit(stamp)
    return reports_mark_stale(_covering(days))


def caches_cleared() -> None:
    """Delete every day cache row, month roll-up and kept cohort month: a benchmark's cold
    start, or after data was written behind the services' back (tests' factories, a raw SQL
    fix)."""
    for model in (*DAY_CACHES, MonthRollup, CohortMonth):
        model.objects.all().delete()


def catalogue_changed() -> int:
    """Names, channels or targets changed: every page key and every saved report."""
    # robust: the write has committed; a cache that cannot take the new version must not turn
    # it into an error (the cache fails open anyway, see config.cache).
    transaction.on_commit(lambda: cache.set(CATALOGUE_KEY, time.time_ns(), None), robust=True)
    return reports_mark_stale(Q())


def _runs(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Sorted days as runs of consecutive days: (first, last) each."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in days:
        if runs and day == runs[-1][1] + ONE:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _any(conditions: Iterable[Q]) -> Q:
    out = Q(pk__in=[])
    for condition in conditions:
        out |= condition
    return out


def _covering(days: list[dt.date]) -> Q:
    """Reports whose period overlaps one of the days."""
    return _any(Q(start__lte=last, end__gte=first) for first, last in _runs(days))


def reports_mark_stale(covering: Q) -> int:
    """Mark the matching saved reports stale; done and failed ones are regenerated after the
    commit, running ones are told their figures are outdated. Rows are locked in id order, so
    two writers marking the same reports cannot deadlock."""
    from reports.services import _enqueue

    active = [Report.Status.DONE, Report.Status.FAILED, Report.Status.RUNNING]
    with transaction.atomic():
        ids = list(
            Report.objects.select_for_update()
            .filter(covering, status__in=active)
            .order_by("pk")
            .values_list("id", "status")
        )
        if not ids:
            return 0
        again = [pk for pk, status in ids if status != Report.Status.RUNNING]
        running = [pk for pk, status in ids if status == Report.Status.RUNNING]
        Report.objects.filter(pk__in=again).update(
            stale=True, status=Report.Status.PENDING, enqueued_at=None
        )
        Report.objects.filter(pk__in=running).update(stale=True)
        for report_id in again:
            _enqueue(report_id)
    return len(again)
