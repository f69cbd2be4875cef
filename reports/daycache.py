"""Per-day caches of additive figures: closed days are computed once and stored until changed.

A figure that is a sum over the rows dated on each local day (credited revenue by purchase
day, contacts by stamp day) can be kept per day: a report over a period sums its days. Days
before today are stored (one row per day, its group rows as JSON); days with no data store an
empty list, so they are not asked again; today and later are always computed.

A stored day is valid while its `DayChange` stamp (written after a late write commits) is
older than the row; `reports.services.reports_mark_stale` also deletes the rows of the days it
marks. The days missing from a request are computed together, in one call of `compute` over
the range from the first to the last of them.

`bypassed()` turns every cache off for the code it wraps: `day_rows` computes the whole range
live and stores nothing, and the report pages' cache (`reports.dashboard.period_cached`) is
neither read nor written. `reports.verify` uses it to recompute figures from the data alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import models
from django.utils import timezone

from reports.models import DayChange

Rows = dict[dt.date, list]
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
    if is_bypassed():
        return compute(start, end)
    keys = {**keys, "time_zone": timezone.get_current_timezone_name()}
    per_day: Rows = {}
    last_closed = min(end, timezone.localdate() - dt.timedelta(days=1))
    if start <= last_closed:
        per_day.update(_cached(model, keys, start, last_closed, compute))
    if end > last_closed:
        per_day.update(compute(max(start, last_closed + dt.timedelta(days=1)), end))
    return per_day


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _cached(
    model: type[models.Model],
    keys: dict,
    start: dt.date,
    end: dt.date,
    compute: Callable[[dt.date, dt.date], Rows],
) -> Rows:
    changed = dict(
        DayChange.objects.filter(day__gte=start, day__lte=end).values_list("day", "changed_at")
    )
    per_day = {
        day: rows
        for day, rows, computed_at in model.objects.filter(
            **keys, day__gte=start, day__lte=end
        ).values_list("day", "rows", "computed_at")
        if day not in changed or computed_at > changed[day]
    }
    missing = [day for day in _days(start, end) if day not in per_day]
    if not missing:
        return per_day
    first, last = missing[0], missing[-1]
    computed_at = timezone.now()  # before reading: a write committing meanwhile voids the rows
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
    return per_day | {day: fresh.get(day, []) for day in _days(first, last)}
