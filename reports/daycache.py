"""Per-day caches of additive figures: closed days are computed once and stored until changed.

A figure that is a sum over the rows dated on each local day (credited revenue by purchase
day, contacts by stamp day) can be kept per day: a report over a period sums its days. Days
before today are stored (one row per day, its group rows as JSON); days with no data store an
empty list, so they are not asked again; today and later are always computed.

A stored day is valid while its `DayChange` stamp (written after a late write commits) is
older than the row; `reports.services.reports_mark_stale` also deletes the rows of the days it
marks. The days missing from a request are computed together, in one call of `compute` over
the range from the first to the last of them.

Closed whole months are also kept added up, one `MonthRollup` row per month (`span_rows`): a
report over a year reads its twelve months and the days at its edges, not 365 days. A month is
valid while no `DayChange` stamp of one of its days is at or after it, and is deleted with its
days by `reports.changes`; a missing month is rolled up from its days (read through `day_rows`)
and stored.

`bypassed()` turns every cache off for the code it wraps: `day_rows` computes the whole range
live and stores nothing, and the report pages' cache (`reports.dashboard.period_cached`) is
neither read nor written. `reports.verify` uses it to recompute figures from the data alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import models
from django.db.models import Q
from django.utils import timezone

from reports.models import DayChange, MonthRollup

Rows = dict[dt.date, list]
# Adds up a sequence of row lists (days' or months') into one row list of the same layout.
Combine = Callable[[Iterable[list]], list]
_bypass: ContextVar[bool] = ContextVar("reports_cache_bypass", default=False)


@contextmanager
def bypassed() -> Iterator[None]:
    """Compute every figure from the data inside this block: no cache is read or written."""
    token = _bypass.set(True)
    try:
        yield
    finally:
        _bypass.reset(token)


def is_bypassed() -> bool:
    """Whether the caches are off here (inside `bypassed()`)."""
    return _bypass.get()


def day_rows(
    model: type[models.Model],
    keys: dict,
    start: dt.date,
    end: dt.date,
    compute: Callable[[dt.date, dt.date], Rows],
) -> Rows:
    """{day: rows} for every day from `start` to `end` that has rows; `keys` select the cache
    rows (e.g. the attribution model), `compute(first, last)` reads the data of a day range."""
    return runs_rows(model, keys, [(start, end)], compute)


def runs_rows(
    model: type[models.Model],
    keys: dict,
    runs: list[tuple[dt.date, dt.date]],
    compute: Callable[[dt.date, dt.date], Rows],
) -> Rows:
    """`day_rows` over several disjoint runs of days (first, last) at once: one read of the
    stamps and one of the cached rows for all of them, one `compute` per run missing days."""
    if is_bypassed():
        per_day: Rows = {}
        for first, last in runs:
            per_day.update(compute(first, last))
        return per_day
    keys = {**keys, "time_zone": timezone.get_current_timezone_name()}
    last_closed = timezone.localdate() - dt.timedelta(days=1)
    closed = [(first, min(last, last_closed)) for first, last in runs if first <= last_closed]
    per_day = _cached(model, keys, closed, compute) if closed else {}
    for first, last in runs:
        if last > last_closed:
            per_day.update(compute(max(first, last_closed + dt.timedelta(days=1)), last))
    return per_day


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _within(runs: list[tuple[dt.date, dt.date]], field: str = "day") -> Q:
    out = Q(pk__in=[])
    for first, last in runs:
        out |= Q(**{f"{field}__gte": first, f"{field}__lte": last})
    return out


def _cached(
    model: type[models.Model],
    keys: dict,
    runs: list[tuple[dt.date, dt.date]],
    compute: Callable[[dt.date, dt.date], Rows],
) -> Rows:
    changed = dict(DayChange.objects.filter(_within(runs)).values_list("day", "changed_at"))
    per_day = {
        day: rows
        for day, rows, computed_at in model.objects.filter(_within(runs), **keys).values_list(
            "day", "rows", "computed_at"
        )
        if day not in changed or computed_at > changed[day]
    }
    for start, end in runs:
        missing = [day for day in _days(start, end) if day not in per_day]
        if not missing:
            continue
        first, last = missing[0], missing[-1]
        computed_at = timezone.now()  # before reading: a write committing meanwhile voids them
        fresh = compute(first, last)
        changed_since = set(
            DayChange.objects.filter(
                day__gte=first, day__lte=last, changed_at__gte=computed_at
            ).values_list("day", flat=True)
        )
        model.objects.filter(**keys, day__gte=first, day__lte=last).delete()
        model.objects.bulk_create(
            [
                model(**keys, day=day, rows=fresh.get(day, []), computed_at=computed_at)
                for day in _days(first, last)
                if day not in changed_since
            ],
            ignore_conflicts=True,  # another report stored the same day meanwhile: the same rows
        )
        per_day |= {day: fresh.get(day, []) for day in _days(first, last)}
    return per_day


def rollup_keys(keys: dict) -> str:
    """A day cache's keys as `MonthRollup.keys`: "lookback_days=90:model=linear"."""
    return ":".join(f"{name}={keys[name]}" for name in sorted(keys))


def month_days(month: dt.date) -> list[dt.date]:
    """The days of the month starting on `month`."""
    return _days(month, _month_end(month))


def _month_end(month: dt.date) -> dt.date:
    following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def whole_months(start: dt.date, end: dt.date) -> list[dt.date]:
    """The first days of the months lying wholly within `start`..`end`."""
    month = start if start.day == 1 else _month_end(start) + dt.timedelta(days=1)
    months = []
    while (last := _month_end(month)) <= end:
        months.append(month)
        month = last + dt.timedelta(days=1)
    return months


def _gaps(start: dt.date, end: dt.date, kept: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """The runs of days of `start`..`end` outside the sorted whole months `kept`."""
    runs, first = [], start
    for month in kept:
        if first < month:
            runs.append((first, month - dt.timedelta(days=1)))
        first = _month_end(month) + dt.timedelta(days=1)
    if first <= end:
        runs.append((first, end))
    return runs


def _merged(runs: list[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    """Runs of days as disjoint, sorted runs (overlapping or adjacent ones joined)."""
    out: list[tuple[dt.date, dt.date]] = []
    for first, last in sorted(runs):
        if out and first <= out[-1][1] + dt.timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def span_rows(
    model: type[models.Model],
    keys: dict,
    spans: list[tuple[dt.date, dt.date]],
    compute: Callable[[dt.date, dt.date], Rows],
    combine: Combine,
    collect: Combine | None = None,
) -> list[list]:
    """For each (start, end) of `spans`, its rows added up into one list by `combine`: the
    closed months lying wholly within it from `MonthRollup` (rolling up and storing the ones
    missing or stale), its other days from `day_rows`. One read of the months and their stamps
    whatever the number of spans, and one read of the days still to read. `collect`, if given,
    adds up a span's parts instead of `combine` (which still makes the months)."""
    collect = collect or combine
    if not spans:
        return []
    if is_bypassed():
        per_day = compute(min(s for s, _ in spans), max(e for _, e in spans))
        return [collect(rows for day, rows in per_day.items() if s <= day <= e) for s, e in spans]
    zone = timezone.get_current_timezone_name()
    last_closed = timezone.localdate() - dt.timedelta(days=1)
    where = {"cache": model._meta.model_name, "keys": rollup_keys(keys), "time_zone": zone}
    wanted = [whole_months(start, min(end, last_closed)) for start, end in spans]
    months = sorted({month for per_span in wanted for month in per_span})
    rolled: dict[dt.date, list] = {}
    stale: list[dt.date] = []
    if months:
        latest: dict[dt.date, dt.datetime] = {}
        for day, changed_at in DayChange.objects.filter(
            day__gte=months[0], day__lte=_month_end(months[-1])
        ).values_list("day", "changed_at"):
            month = day.replace(day=1)
            latest[month] = max(latest.get(month, changed_at), changed_at)
        for month, rows, computed_at in MonthRollup.objects.filter(
            **where, month__in=months
        ).values_list("month", "rows", "computed_at"):
            if month not in latest or computed_at > latest[month]:
                rolled[month] = rows
            else:
                stale.append(month)
    missing = [month for month in months if month not in rolled]
    needed = []
    for (start, end), per_span in zip(spans, wanted, strict=True):
        needed += _gaps(start, end, [month for month in per_span if month in rolled])
    computed_at = timezone.now()  # before reading: a write committing meanwhile voids the months
    per_day = runs_rows(model, keys, _merged(needed), compute)
    if missing:
        fresh = {
            month: combine(per_day.get(day, []) for day in month_days(month)) for month in missing
        }
        if stale:
            MonthRollup.objects.filter(**where, month__in=stale).delete()
        MonthRollup.objects.bulk_create(
            [
                MonthRollup(**where, month=month, rows=rows, computed_at=computed_at)
                for month, rows in fresh.items()
            ],
            ignore_conflicts=True,  # another report stored the same month meanwhile
        )
        rolled.update(fresh)
    out = []
    for (start, end), per_span in zip(spans, wanted, strict=True):
        parts = [rolled[month] for month in per_span]
        for first, last in _gaps(start, end, per_span):
            parts += [per_day[day] for day in _days(first, last) if day in per_day]
        out.append(collect(parts))
    return out
