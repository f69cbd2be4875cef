"""Conversion paths: the channel sequences that led to a first purchase, kept per day.

A conversion is a contact's first purchase (the attribution engine's rule: no earlier purchase
of the contact; on a tie in time, the lower id). Its path is the channels of its touches in
time order, the touch set being the attribution engine's own (`reports.attribution`): every
touch of the contact at or before the purchase within the lookback window (the purchase's
coupon touch is one of them: it is recorded at the purchase's time), plus the contact's first
touch ever, whatever its age, when it is at or before the purchase. Touches are ordered as the
engine orders them: by time, a coupon touch last at the same instant, then by id.

Consecutive touches on one channel are one step with a count ("Facebook ×3 → Email"): the
path reads at a glance and loses nothing (GA4 repeats the channel instead). A conversion with
no touch at all has the empty path, shown as "(no touches)".

Per path: conversions (first purchases), revenue (the amount of those first purchases only),
touches (every touch of the path, repeats included) and the days from the path's first touch
to the purchase (fractional days), summed and with their median. The most common paths come
back one row each, the rest as one "other paths" row, and a totals row; the medians of the
other paths and of the totals are over their conversions, not medians of medians.

One statement gathers the touches (the engine's SQL pieces), ranks them, folds runs of one
channel and strings each conversion's path together with an ordered window aggregate
(PostgreSQL `string_agg`, SQLite `group_concat`: SQLite 3.40 has no ORDER BY inside an aggregate
call, but an aggregate window function adds its rows in the window's order). Its rows are kept
per local day of the purchase and path in the `PathDay` cache (each day's conversions, cents,
touches and the list of their days to convert, so medians stay exact), voided by late data like
the attribution's day cache; a report adds up its days and ranks the paths in Python.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import IO

from django.db import connection

from campaigns.models import Channel
from campaigns.numbers import fixed, quotient
from reports.attribution import (
    FIRST_TOUCHES,
    GENERIC_TOUCHES,
    POSTGRES_TOUCHES,
    conversions_select,
    run,
)
from reports.csvexport import write_rows
from reports.dashboard import Period, period_cached
from reports.daycache import Rows, day_rows, span_rows
from reports.models import PathDay
from reports.periods import period_bounds

TOP_PATHS = 50
MAX_TOP_PATHS = 500  # the API's top
LOOKBACK_DAYS = 90  # the attribution pages' window
NO_TOUCHES = "(no touches)"
OTHER_PATHS = "(other paths)"
ARROW = " \N{RIGHTWARDS ARROW} "
TIMES = "\N{MULTIPLICATION SIGN}"
# The figures of a row, in the CSV's order (a row also has its path and its steps).
FIGURES = (
    "conversions",
    "revenue",
    "touches_per_conversion",
    "average_days_to_convert",
    "median_days_to_convert",
)


def day_sql() -> str:
    """The statement: one row per conversion of the period (a first purchase), with its local
    day, its path key, its cents, its touches and its days to convert (from its first touch,
    NULL with no touch). A path key is its steps "channel_id*count" joined by ">" ("3*2>7*1");
    "" for no touches."""
    firsts = conversions_select()
    if connection.vendor == "postgresql":
        # Materialized: the lateral join reads it once per conversion.
        ctes = f"p AS MATERIALIZED ({firsts})"
        touches, concat = POSTGRES_TOUCHES, "string_agg"
    else:
        ctes = f"p AS ({firsts}), {FIRST_TOUCHES}"
        touches, concat = GENERIC_TOUCHES, "group_concat"
    order = "ORDER BY t_at, is_coupon, tid"
    step = "CAST(channel_id AS TEXT) || '*' || CAST(k AS TEXT)"
    return f"""
    WITH {ctes},
    touches AS ({touches}),
    ranked AS (
        SELECT pid, day, cents, tid, channel_id, age,
               ROW_NUMBER() OVER (PARTITION BY pid {order}) AS pos,
               LAG(channel_id) OVER (PARTITION BY pid {order}) AS prev_ch
        FROM touches
    ),
    runs AS (
        -- A run of one channel starts wherever the channel changes.
        SELECT r.*, SUM(CASE WHEN prev_ch = channel_id THEN 0 ELSE 1 END)
                   OVER (PARTITION BY pid ORDER BY pos ROWS UNBOUNDED PRECEDING) AS run
        FROM ranked r
    ),
    steps AS (
        SELECT pid, run, MIN(day) AS day, MIN(cents) AS cents, MIN(channel_id) AS channel_id,
               COUNT(tid) AS k, MAX(age) AS age
        FROM runs GROUP BY pid, run
    ),
    strung AS (
        SELECT pid, run, day, cents,
               SUM(k) OVER (PARTITION BY pid) AS n,
               MAX(age) OVER (PARTITION BY pid) AS days,
               {concat}({step}, '>') OVER (PARTITION BY pid ORDER BY run
                   ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS path
        FROM steps
    )
    SELECT day, COALESCE(path, ''), cents, n, days FROM strung WHERE run = 1
    """


def path_days(*, start: dt.date, end: dt.date, lookback_days: int) -> Rows:
    """{day: rows} of the conversions of the local days `start`..`end`, from the day cache
    where it is still valid: one row per path, [path key, conversions, cents, touches, the
    conversions' days to convert (a list, none for the empty path)]."""
    return day_rows(
        PathDay,
        {"lookback_days": lookback_days},
        start,
        end,
        lambda first, last: _compute_days(first, last, lookback_days),
    )


def _compute_days(first: dt.date, last: dt.date, lookback_days: int) -> Rows:
    lo, hi = period_bounds(first, last)
    groups: dict[tuple[dt.date, str], list] = {}
    for day, path, cents, n, days in run(day_sql(), lo=lo, hi=hi, lookback_days=lookback_days):
        day = day if isinstance(day, dt.date) else dt.date.fromisoformat(day)
        row = groups.get((day, path))
        if row is None:
            row = groups[day, path] = [path, 0, 0, 0, []]
        row[1] += 1
        row[2] += int(cents)
        row[3] += int(n)
        if days is not None:
            row[4].append(float(days))
    per_day: Rows = {}
    for (day, _), row in sorted(groups.items()):
        row[4].sort()
        per_day.setdefault(day, []).append(row)
    return per_day


def combine_paths(parts) -> list:
    """Path rows of several days (or months) added up per path: conversions, cents and
    touches summed, the days to convert merged (sorted)."""
    paths: dict[str, list] = {}
    for rows in parts:
        for path, conversions, cents, touches, days in rows:
            sums = paths.get(path)
            if sums is None:
                paths[path] = [path, conversions, cents, touches, list(days)]
            else:
                sums[1] += conversions
                sums[2] += cents
                sums[3] += touches
                sums[4] += days
    out = sorted(paths.values())
    for row in out:
        row[4].sort()
    return out


def _has_channel(path: str, channel_id: int) -> bool:
    prefix = f"{channel_id}*"
    return any(step.startswith(prefix) for step in path.split(">"))


@dataclass(frozen=True)
class Step:
    """One step of a path: a channel and how many touches in a row it had there."""

    slug: str
    name: str
    count: int

    @property
    def label(self) -> str:
        return self.name if self.count == 1 else f"{self.name} {TIMES}{self.count}"


def conversion_paths(
    *,
    start: dt.date,
    end: dt.date,
    channel: Channel | None = None,
    top: int = TOP_PATHS,
    lookback_days: int = LOOKBACK_DAYS,
) -> dict:
    """The conversion paths of first purchases made from `start` to `end` (local days): the
    `top` most common paths (most conversions first, then most revenue), an "other paths" row
    when there are more, and the totals. With `channel`, only paths with a touch on it.

    Each row: key (the path's steps as "slug*count>..."; "" for no touches, "other",
    "totals"), label, steps, paths (distinct paths in the row), conversions, revenue (the
    first purchases' amount), touches_per_conversion, average_days_to_convert and
    median_days_to_convert (from the path's first touch to the purchase; not defined for
    conversions with no touch). Closed whole months and days come from their caches."""
    rows = span_rows(
        PathDay,
        {"lookback_days": lookback_days},
        [(start, end)],
        lambda first, last: _compute_days(first, last, lookback_days),
        combine_paths,
    )[0]
    if channel is not None:
        rows = [row for row in rows if _has_channel(row[0], channel.pk)]
    # (path key, [conversions, cents, touches, sorted days to convert]) by rank: most
    # conversions first, then most revenue, then the key (a stable order for ties).
    ranked = sorted(((row[0], row[1:]) for row in rows), key=lambda r: (-r[1][0], -r[1][1], r[0]))
    names = {c.pk: (c.slug, c.name) for c in Channel.objects.only("slug", "name")}
    rows = []
    for path, sums in ranked[:top]:
        steps = _steps(path, names)
        rows.append(
            {
                "key": ">".join(f"{s.slug}*{s.count}" for s in steps),
                "label": ARROW.join(s.label for s in steps) or NO_TOUCHES,
                "steps": steps,
                "paths": 1,
                **_row(*_merged([sums])),
            }
        )
    rest = [sums for _, sums in ranked[top:]]
    other = None
    if rest:
        other = {"key": "other", "label": OTHER_PATHS, "steps": [], "paths": len(rest)}
        other |= _row(*_merged(rest))
    totals = {"key": "totals", "label": "Totals", "steps": [], "paths": len(ranked)}
    totals |= _row(*_merged([sums for _, sums in ranked]))
    return {
        "start": start,
        "end": end,
        "channel": None if channel is None else channel.slug,
        "top": top,
        "lookback_days": lookback_days,
        "rows": rows,
        "other": other,
        "totals": totals,
    }


def _merged(groups: list[list]) -> tuple[int, int, int, list[float]]:
    """Conversions, cents, touches and the sorted days to convert of the paths' sums."""
    return (
        sum(sums[0] for sums in groups),
        sum(sums[1] for sums in groups),
        sum(sums[2] for sums in groups),
        sorted(d for sums in groups for d in sums[3]),
    )


def _steps(path: str, names: dict[int, tuple[str, str]]) -> list[Step]:
    steps = []
    for part in filter(None, path.split(">")):
        channel_id, _, count = part.partition("*")
        slug, name = names.get(int(channel_id), (channel_id, channel_id))
        steps.append(Step(slug=slug, name=name, count=int(count)))
    return steps


def _row(conversions: int = 0, cents: int = 0, touches: int = 0, days: list[float] = ()) -> dict:
    """A row's figures, rounded once from the exact sums (half up): revenue to the cent,
    touches per conversion to two decimals, days to one. `days` are sorted; their sum is
    exact (`math.fsum`, then the float's exact value), the median is the middle value or the
    exact mean of the two middle ones."""
    per_conversion = quotient(touches, conversions) if conversions else None
    average_days = median = None
    if days:
        average_days = quotient(Fraction(math.fsum(days)), len(days))
        middle = len(days) // 2
        median = (
            Fraction(days[middle])
            if len(days) % 2
            else (Fraction(days[middle - 1]) + Fraction(days[middle])) / 2
        )
    return {
        "conversions": conversions,
        "revenue": Decimal(cents).scaleb(-2),
        "touches_per_conversion": None if per_conversion is None else fixed(per_conversion, 2),
        "average_days_to_convert": None if average_days is None else fixed(average_days, 1),
        "median_days_to_convert": None if median is None else fixed(median, 1),
    }


def paths_data(*, period: Period, channel: Channel | None = None) -> dict:
    """The page's figures (`conversion_paths` with the page's top and lookback), cached like
    every page's while the period's days are closed and unchanged (a late touch declares the
    days of the purchases it joins, which are in the period)."""
    return period_cached(
        "paths",
        period.start,
        period.end,
        ("" if channel is None else channel.slug, TOP_PATHS, LOOKBACK_DAYS),
        lambda: conversion_paths(
            start=period.start,
            end=period.end,
            channel=channel,
            top=TOP_PATHS,
            lookback_days=LOOKBACK_DAYS,
        ),
    )


CSV_HEADER = ["key", "path", "paths", *FIGURES]


def write_paths(out: IO[str], report: dict) -> None:
    """The table as CSV: the page's rows, the other paths, the totals; the page's values."""
    other = [report["other"]] if report["other"] else []
    rows = [*report["rows"], *other, report["totals"]]
    write_rows(
        out,
        CSV_HEADER,
        ([row["key"], row["label"], row["paths"], *(row[k] for k in FIGURES)] for row in rows),
    )
