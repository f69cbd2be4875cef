"""Caches that prove themselves: recompute what the caches hold, from the data alone, and compare.

Checked:
- every valid month roll-up (`MonthRollup`) of those caches, against its days recomputed and
  added up;
- every valid kept cohort month of the payback (`CohortMonth`: no stamp of a day of its window
  at or after its `computed_at`), against its month recomputed;
- every valid day row of `AttributedDay` (each model and lookback), `ContactDay`,
  `DurationDay` and `PathDay` (each lookback), in the
  current time zone: valid as `reports.daycache` serves it, while no `DayChange` stamp of its
  day is at or after its `computed_at`; a fresh computation of the same days must give the
  same rows (in any order; customers compared to 1e-9, since time decay sums floats);
- every done, non-stale saved Report whose period had closed when it was made: its `data` must
  equal a fresh `roi_report` and `funnel_report` of its parameters, labels and targets
  included (a catalogue edit regenerates every saved report), except the funnel's `as_of`. A
  report finished on or before the last day of its period is skipped: data of its last day was
  still arriving.

Fresh figures are computed inside `reports.daycache.bypassed()`, by the same functions the
reports use, set-based: one statement per model for each run of checked days (days less than
`MERGE_GAP_DAYS` apart share a range), never one per day of a long period.

Not checked: the report pages' cache (`reports.dashboard.period_cached`). Its entries cannot be
listed through Django's cache API (a per-process memory cache, or Redis keys that only a SCAN
on the raw client would find), and an entry holds figures, not the call that made them, so
recomputing one would mean parsing its key back into a page's parameters. Its figures are made
by the functions and day caches checked here and voided by the same `DayChange` stamps.

A row or report that changes while it is checked (late data committing meanwhile) is not
reported: mismatches are confirmed against the stamps and report rows once more at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from reports.attribution import combine_credit, credit_days
from reports.counts import combine_counts, combine_durations, contact_days, duration_days
from reports.daycache import Combine, Rows, bypassed, month_days
from reports.metrics import funnel_report, roi_report
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
from reports.paths import combine_paths, path_days
from reports.payback import compute_cohorts, stamped_window

log = logging.getLogger(__name__)
MERGE_GAP_DAYS = 7
# Not a figure of the period: when the funnel was read.
VOLATILE_KEYS = {"as_of"}
CUSTOMERS_PRECISION = Decimal("1e-9")
MAX_PATHS = 20


@dataclass(frozen=True)
class Mismatch:
    """One cached thing that disagrees with the data: `what` kind of cache, `which` entry, the
    freshly computed value and the cached one (for a report: only the differing figures)."""

    what: str
    which: str
    expected: object
    cached: object

    def __str__(self) -> str:
        return (
            f"{self.what} {self.which}: expected {_dumps(self.expected)}, "
            f"cached {_dumps(self.cached)}"
        )


@dataclass
class Verification:
    """What was checked and what disagreed."""

    mismatches: list[Mismatch] = field(default_factory=list)
    days: int = 0  # distinct days whose cache rows were checked
    rows: int = 0  # day cache rows checked (one per model and lookback, and contact counts)
    months: int = 0  # month roll-ups checked
    cohorts: int = 0  # kept payback cohort months checked
    reports: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"Checked {self.rows} cached day rows on {self.days} days, {self.months} month "
            f"roll-ups, {self.cohorts} cohort months and {self.reports} saved report(s) in "
            f"{self.seconds:.1f} s: "
            f"{len(self.mismatches)} mismatch(es)."
        )


def caches_verify(
    *, days: int | None = None, sample: int | None = None, rng: random.Random | None = None
) -> Verification:
    """Recompute the cached day rows and the saved reports and return what disagrees.

    `days`: only the last `days` closed days, and the reports ending in them; `sample`: only a
    random sample of that many days (every cache row of each) and that many reports."""
    started = time.monotonic()
    rng = rng or random.Random()
    today = timezone.localdate()
    since = today - dt.timedelta(days=days) if days else None
    result = Verification()
    _check_day_caches(result, today=today, since=since, sample=sample, rng=rng)
    _check_rollups(result, today=today, since=since, sample=sample, rng=rng)
    _check_cohorts(result, since=since, sample=sample, rng=rng)
    _check_reports(result, today=today, since=since, sample=sample, rng=rng)
    result.seconds = time.monotonic() - started
    return result


def caches_verify_logged(*, days: int | None = None, sample: int | None = None) -> Verification:
    """`caches_verify`, with an ERROR log line for each mismatch (the daily beat entry's job:
    a cache that disagrees with the data is a bug to hear about)."""
    result = caches_verify(days=days, sample=sample)
    for mismatch in result.mismatches:
        log.error("Cached figures disagree with the data: %s", mismatch)
    (log.error if result.mismatches else log.info)("verify_reports: %s", result.summary())
    return result


# Day caches ---------------------------------------------------------------------------------


def _valid(model: type[models.Model]) -> QuerySet:
    """The rows `reports.daycache` would serve: no stamp of their day at or after them."""
    newer = DayChange.objects.filter(day=OuterRef("day"), changed_at__gte=OuterRef("computed_at"))
    return model.objects.filter(time_zone=timezone.get_current_timezone_name()).filter(
        ~Exists(newer)
    )


def _check_day_caches(
    result: Verification,
    *,
    today: dt.date,
    since: dt.date | None,
    sample: int | None,
    rng: random.Random,
) -> None:
    window = {"day__lt": today, **({"day__gte": since} if since else {})}
    candidates = sorted(
        set(_valid(AttributedDay).filter(**window).values_list("day", flat=True).distinct())
        | set(_valid(ContactDay).filter(**window).values_list("day", flat=True).distinct())
        | set(_valid(DurationDay).filter(**window).values_list("day", flat=True).distinct())
        | set(_valid(PathDay).filter(**window).values_list("day", flat=True).distinct())
    )
    checked = _sample(candidates, sample, rng)
    if not checked:
        return
    result.days = len(checked)
    # {(model, lookback): {day: (rows, computed_at)}}
    attributed: dict[tuple[str, int], dict[dt.date, tuple[list, dt.datetime]]] = defaultdict(dict)
    for model, lookback, day, rows, computed_at in (
        _valid(AttributedDay)
        .filter(day__in=checked)
        .values_list("model", "lookback_days", "day", "rows", "computed_at")
    ):
        attributed[(model, lookback)][day] = (rows, computed_at)
    contacts = {
        day: (rows, computed_at)
        for day, rows, computed_at in _valid(ContactDay)
        .filter(day__in=checked)
        .values_list("day", "rows", "computed_at")
    }
    durations = {
        day: (rows, computed_at)
        for day, rows, computed_at in _valid(DurationDay)
        .filter(day__in=checked)
        .values_list("day", "rows", "computed_at")
    }
    paths: dict[int, dict[dt.date, tuple[list, dt.datetime]]] = defaultdict(dict)
    for lookback, day, rows, computed_at in (
        _valid(PathDay)
        .filter(day__in=checked)
        .values_list("lookback_days", "day", "rows", "computed_at")
    ):
        paths[lookback][day] = (rows, computed_at)
    found: list[tuple[Mismatch, dt.date, dt.datetime]] = []
    for (model, lookback), cached in sorted(attributed.items()):
        found += list(
            _compare_days(
                f"attributed day ({model}, {lookback}-day lookback)",
                cached,
                lambda first, last, m=model, lb=lookback: credit_days(
                    model=m, start=first, end=last, lookback_days=lb
                ),
                decimal_column=3,
            )
        )
        result.rows += len(cached)
    found += _compare_days("contact day", contacts, contact_days, decimal_column=None)
    result.rows += len(contacts)
    found += _compare_days("duration day", durations, duration_days, decimal_column=None)
    result.rows += len(durations)
    for lookback, cached in sorted(paths.items()):
        found += _compare_days(
            f"path day ({lookback}-day lookback)",
            cached,
            lambda first, last, lb=lookback: path_days(start=first, end=last, lookback_days=lb),
            decimal_column=None,
        )
        result.rows += len(cached)
    # Confirm: a day stamped changed since its row was computed is no longer served.
    stamps = dict(
        DayChange.objects.filter(day__in={day for _, day, _ in found}).values_list(
            "day", "changed_at"
        )
    )
    result.mismatches += [
        mismatch
        for mismatch, day, computed_at in found
        if day not in stamps or stamps[day] < computed_at
    ]


def _compare_days(
    what: str,
    cached: dict[dt.date, tuple[list, dt.datetime]],
    compute: Callable[[dt.date, dt.date], Rows],
    *,
    decimal_column: int | None,
) -> list[tuple[Mismatch, dt.date, dt.datetime]]:
    """Each cached day against a fresh computation of its run of days."""
    found = []
    for first, last in _runs(sorted(cached)):
        with bypassed():
            fresh = compute(first, last)
        for day in sorted(cached):
            if not first <= day <= last:
                continue
            rows, computed_at = cached[day]
            expected = _canonical(fresh.get(day, []), decimal_column)
            stored = _canonical(rows, decimal_column)
            if expected != stored:
                found.append((Mismatch(what, day.isoformat(), expected, stored), day, computed_at))
    return found


def _runs(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Ranges covering `days`; days less than MERGE_GAP_DAYS apart share one range."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in days:
        if runs and (day - runs[-1][1]).days <= MERGE_GAP_DAYS:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _canonical(rows: list, decimal_column: int | None) -> list:
    """Rows as JSON stores them, sorted, with the customers column to 1e-9 (a time-decay sum of
    floats depends on the order of the rows added)."""
    out = []
    for row in json.loads(json.dumps(rows, cls=DjangoJSONEncoder)):
        if decimal_column is not None:
            # Exact fractions ("p/q") under the integer models, binary sums under time decay.
            value = Fraction(str(row[decimal_column]))
            row[decimal_column] = str(
                (Decimal(value.numerator) / Decimal(value.denominator))
                .quantize(CUSTOMERS_PRECISION)
                .normalize()
            )
        out.append(row)
    return sorted(out, key=json.dumps)


# Month roll-ups -----------------------------------------------------------------------------

# Per day cache (`MonthRollup.cache`): its days from its keys, how it adds them up, and the
# customers' column (compared to 1e-9) if any.
ROLLUPS: dict[str, tuple[Callable[[dict, dt.date, dt.date], Rows], Combine, int | None]] = {
    "attributedday": (
        lambda keys, first, last: credit_days(
            model=keys["model"], start=first, end=last, lookback_days=int(keys["lookback_days"])
        ),
        combine_credit,
        3,
    ),
    "contactday": (lambda keys, first, last: contact_days(first, last), combine_counts, None),
    "durationday": (
        lambda keys, first, last: duration_days(first, last),
        combine_durations,
        None,
    ),
    "pathday": (
        lambda keys, first, last: path_days(
            start=first, end=last, lookback_days=int(keys["lookback_days"])
        ),
        combine_paths,
        None,
    ),
}


def _month_stamps() -> dict[dt.date, dt.datetime]:
    """The latest day stamp of each month."""
    latest: dict[dt.date, dt.datetime] = {}
    for day, changed_at in DayChange.objects.values_list("day", "changed_at"):
        month = day.replace(day=1)
        latest[month] = max(latest.get(month, changed_at), changed_at)
    return latest


def _check_rollups(
    result: Verification,
    *,
    today: dt.date,
    since: dt.date | None,
    sample: int | None,
    rng: random.Random,
) -> None:
    rollups = MonthRollup.objects.filter(
        time_zone=timezone.get_current_timezone_name(), month__lt=today.replace(day=1)
    )
    if since:
        rollups = rollups.filter(month__gte=since.replace(day=1))
    latest = _month_stamps()
    # Which roll-ups would be served, without their rows; then the rows of the sampled months.
    valid = {
        pk: month
        for pk, cache, month, computed_at in rollups.values_list(
            "pk", "cache", "month", "computed_at"
        )
        if cache in ROLLUPS and (month not in latest or computed_at > latest[month])
    }
    checked = set(_sample(sorted(set(valid.values())), sample, rng))
    by_cache: dict[tuple[str, str], list] = defaultdict(list)
    for cache, keys, month, rows, computed_at in MonthRollup.objects.filter(
        pk__in=[pk for pk, month in valid.items() if month in checked]
    ).values_list("cache", "keys", "month", "rows", "computed_at"):
        by_cache[cache, keys].append((month, rows, computed_at))
    found: list[tuple[Mismatch, dt.date, dt.datetime]] = []
    for (cache, keys), months in sorted(by_cache.items()):
        days_of, combine, decimal_column = ROLLUPS[cache]
        params = dict(part.split("=", 1) for part in keys.split(":") if part)
        first, last = min(m for m, _, _ in months), max(m for m, _, _ in months)
        with bypassed():
            fresh = days_of(params, first, month_days(last)[-1])
        what = f"month roll-up ({cache}{' ' + keys if keys else ''})"
        for month, rows, computed_at in months:
            days = month_days(month)
            expected = _canonical(combine(fresh.get(day, []) for day in days), decimal_column)
            stored = _canonical(rows, decimal_column)
            if expected != stored:
                mismatch = Mismatch(what, f"{month:%Y-%m}", expected, stored)
                found.append((mismatch, month, computed_at))
        result.months += len(months)
    # Confirm: a month stamped changed since its roll-up was computed is no longer served.
    latest = _month_stamps()
    result.mismatches += [
        mismatch
        for mismatch, month, computed_at in found
        if month not in latest or latest[month] < computed_at
    ]


# Payback cohort months ----------------------------------------------------------------------


def _cohort_stale(kept: list[tuple[dt.date, dt.datetime]]) -> set[dt.date]:
    """The kept months a day stamp of their window is at or after."""
    if not kept:
        return set()
    first = min(stamped_window(month)[0] for month, _ in kept)
    last = max(stamped_window(month)[1] for month, _ in kept)
    stamps = list(
        DayChange.objects.filter(day__gte=first, day__lte=last).values_list("day", "changed_at")
    )
    return {
        month
        for month, computed_at in kept
        if any(
            stamped_window(month)[0] <= day <= stamped_window(month)[1] and at >= computed_at
            for day, at in stamps
        )
    }


def _check_cohorts(
    result: Verification, *, since: dt.date | None, sample: int | None, rng: random.Random
) -> None:
    kept = CohortMonth.objects.filter(time_zone=timezone.get_current_timezone_name())
    if since:
        kept = kept.filter(month__gte=since.replace(day=1))
    months = list(kept.values_list("month", "computed_at"))
    stale = _cohort_stale(months)
    checked = set(_sample(sorted(m for m, _ in months if m not in stale), sample, rng))
    if not checked:
        return
    with bypassed():
        fresh = compute_cohorts(sorted(checked))
    found = []
    for month, rows, computed_at in kept.filter(month__in=checked).values_list(
        "month", "rows", "computed_at"
    ):
        expected, stored = _canonical(fresh[month], None), _canonical(rows, None)
        if expected != stored:
            found.append(
                (Mismatch("cohort month", f"{month:%Y-%m}", expected, stored), month, computed_at)
            )
    result.cohorts += len(checked)
    # Confirm: a month whose window was stamped changed since is no longer served.
    gone = _cohort_stale([(month, computed_at) for _, month, computed_at in found])
    result.mismatches += [mismatch for mismatch, month, _ in found if month not in gone]


# Saved reports ------------------------------------------------------------------------------


def _check_reports(
    result: Verification,
    *,
    today: dt.date,
    since: dt.date | None,
    sample: int | None,
    rng: random.Random,
) -> None:
    reports = Report.objects.filter(
        status=Report.Status.DONE, stale=False, finished_at__isnull=False, end__lt=today
    ).only("id", "start", "end", "granularity", "attribution", "group_by", "finished_at")
    if since:
        reports = reports.filter(end__gte=since)
    closed = [r for r in reports if r.end < timezone.localdate(r.finished_at)]
    found = []
    for report in _sample(sorted(closed, key=lambda r: r.pk), sample, rng):
        result.reports += 1
        params = {
            "start": report.start,
            "end": report.end,
            "group_by": report.group_by,
            "attribution": report.attribution,
        }
        with bypassed():
            fresh = {"roi": roi_report(**params), "funnel": funnel_report(**params)}
        stored = Report.objects.filter(pk=report.pk).values_list("data", flat=True).first()
        expected, cached = _differences(fresh, stored)
        if expected or cached:
            which = (
                f"#{report.pk} ({report.granularity} {report.start}..{report.end} "
                f"by {report.group_by}, {report.attribution})"
            )
            found.append((Mismatch("report", which, expected, cached), report))
    # Confirm: a report regenerated or marked stale meanwhile is not the one compared.
    unchanged = set(
        Report.objects.filter(
            pk__in=[r.pk for _, r in found], status=Report.Status.DONE, stale=False
        ).values_list("pk", "finished_at")
    )
    result.mismatches += [m for m, r in found if (r.pk, r.finished_at) in unchanged]


def _differences(fresh: dict, stored: object) -> tuple[dict, dict]:
    """The figures that differ, as {path: value} for each side (at most MAX_PATHS)."""
    expected = _leaves(json.loads(json.dumps(fresh, cls=DjangoJSONEncoder)))
    cached = _leaves(stored)
    paths = sorted(p for p in expected.keys() | cached.keys() if expected.get(p) != cached.get(p))
    paths = paths[:MAX_PATHS]
    return (
        {p: expected[p] for p in paths if p in expected},
        {p: cached[p] for p in paths if p in cached},
    )


def _leaves(value: object, path: str = "") -> dict[str, object]:
    """{"roi.rows[facebook].revenue": "15.00", ...}: rows are named by their key, not their
    position, so two rows swapping places on a tie are not a difference."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            if key not in VOLATILE_KEYS:
                out.update(_leaves(item, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(value, list) and all(isinstance(i, dict) and "key" in i for i in value):
        out = {}
        for item in value:
            out.update(_leaves(item, f"{path}[{item['key']}]"))
        return out
    return {path: value}


def _sample(items: list, size: int | None, rng: random.Random) -> list:
    """`size` of the items at random, in their order; all of them without a size."""
    if size is None or size >= len(items):
        return items
    return [items[i] for i in sorted(rng.sample(range(len(items)), size))]


def _dumps(value: object) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True)
