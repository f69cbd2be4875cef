"""Conversion paths: the channel sequences that led to a first purchase, in one SQL statement.

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
channel, strings each conversion's path together with an ordered window aggregate (PostgreSQL
`string_agg`, SQLite `group_concat`: SQLite 3.40 has no ORDER BY inside an aggregate call, but
an aggregate window function adds its rows in the window's order), then groups by path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

from django.db import connection

from campaigns.models import Channel
from campaigns.numbers import fixed, quotient
from reports.attribution import FIRST_TOUCHES, GENERIC_TOUCHES, POSTGRES_TOUCHES, PURCHASES, run
from reports.csvexport import write_rows
from reports.dashboard import Period, period_cached
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


def _conversions() -> str:
    """The period's first purchases: the engine's purchases CTE, kept where `is_first`."""
    text = PURCHASES.strip().replace("{day}", "NULL")
    head = "p AS ("
    if not (text.startswith(head) and text.endswith(")")):
        raise RuntimeError("reports.attribution.PURCHASES changed its shape")
    body = text[len(head) : -1]
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    # Materialized on PostgreSQL: the lateral join reads it once per conversion.
    return f"p AS {materialized}(SELECT * FROM ({body}) all_p WHERE is_first = 1)"


def paths_sql(*, channel_id: int | None, top: int) -> str:
    """The statement: one row per top path (rank 1..top), one for the other paths (rank
    top + 1) and the totals (rank 0): rank, path key, distinct paths, conversions, cents,
    touches, sum of days, conversions with days, median days.

    A path key is its steps "channel_id*count" joined by ">" ("3*2>7*1"); "" for no touches.
    With `channel_id`, only conversions whose path has a touch on that channel."""
    top, channel = int(top), (None if channel_id is None else int(channel_id))
    if connection.vendor == "postgresql":
        head = _conversions()
        touches = POSTGRES_TOUCHES
        concat = "string_agg"
    else:
        head = f"{_conversions()}, {FIRST_TOUCHES}"
        touches = GENERIC_TOUCHES
        concat = "group_concat"
    order = "ORDER BY t_at, is_coupon, tid"
    only = "" if channel is None else "AND has_channel = 1"
    has_channel = "0" if channel is None else f"CASE WHEN channel_id = {channel} THEN 1 ELSE 0 END"
    step = "CAST(channel_id AS TEXT) || '*' || CAST(k AS TEXT)"
    return f"""
    WITH {head},
    touches AS ({touches}),
    ranked AS (
        SELECT pid, cents, tid, channel_id, age,
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
        SELECT pid, run, MIN(cents) AS cents, MIN(channel_id) AS channel_id,
               COUNT(tid) AS k, MAX(age) AS age
        FROM runs GROUP BY pid, run
    ),
    strung AS (
        SELECT pid, run, cents,
               SUM(k) OVER (PARTITION BY pid) AS n,
               MAX(age) OVER (PARTITION BY pid) AS days,
               MAX({has_channel}) OVER (PARTITION BY pid) AS has_channel,
               {concat}({step}, '>') OVER (PARTITION BY pid ORDER BY run
                   ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS path
        FROM steps
    ),
    conv AS (
        SELECT pid, cents, n, days, COALESCE(path, '') AS path
        FROM strung WHERE run = 1 {only}
    ),
    sized AS (
        -- Each conversion knows its path's size: no join back from the paths to them.
        SELECT path, cents, n, days, COUNT(*) OVER (PARTITION BY path) AS pc,
               SUM(cents) OVER (PARTITION BY path) AS pcents
        FROM conv
    ),
    ranked_paths AS (
        SELECT s.*, DENSE_RANK() OVER (ORDER BY pc DESC, pcents DESC, path) AS dr FROM sized s
    ),
    b AS (
        SELECT CASE WHEN dr <= {top} THEN dr ELSE {top + 1} END AS rnk, path, cents, n, days
        FROM ranked_paths
    ),
    m AS (
        SELECT rnk, days,
               ROW_NUMBER() OVER (PARTITION BY rnk ORDER BY days) AS r,
               COUNT(*) OVER (PARTITION BY rnk) AS c,
               ROW_NUMBER() OVER (ORDER BY days) AS rt,
               COUNT(*) OVER () AS ct
        FROM b WHERE days IS NOT NULL
    ),
    -- The median: the middle value, or the mean of the two middle ones.
    med AS (SELECT rnk, AVG(days) AS median FROM m WHERE r IN ((c + 1) / 2, (c + 2) / 2)
            GROUP BY rnk),
    med_total AS (SELECT AVG(days) AS median FROM m WHERE rt IN ((ct + 1) / 2, (ct + 2) / 2))
    SELECT g.rnk, g.path, g.distinct_paths, g.conversions, g.cents, g.touches, g.days_sum,
           g.days_n, med.median
    FROM (
        SELECT rnk, MIN(path) AS path, COUNT(DISTINCT path) AS distinct_paths,
               COUNT(*) AS conversions, SUM(cents) AS cents, SUM(n) AS touches,
               SUM(days) AS days_sum, COUNT(days) AS days_n
        FROM b GROUP BY rnk
    ) g LEFT JOIN med ON med.rnk = g.rnk
    UNION ALL
    SELECT 0, NULL, COUNT(DISTINCT path), COUNT(*), SUM(cents), SUM(n), SUM(days), COUNT(days),
           (SELECT median FROM med_total)
    FROM b
    ORDER BY 1
    """


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
    conversions with no touch). Two queries: the statement and the channels' names."""
    lo, hi = period_bounds(start, end)
    sql = paths_sql(channel_id=None if channel is None else channel.pk, top=top)
    found = run(sql, lo=lo, hi=hi, lookback_days=lookback_days)
    names = {c.pk: (c.slug, c.name) for c in Channel.objects.only("slug", "name")}
    rows, other, totals = [], None, None
    for rank, path, distinct, conversions, cents, touches, days_sum, days_n, median in found:
        row = _row(
            conversions=conversions,
            cents=cents,
            touches=touches,
            days_sum=days_sum,
            days_n=days_n,
            median=median,
        )
        row["paths"] = int(distinct or 0)
        if rank == 0:
            totals = {"key": "totals", "label": "Totals", "steps": [], **row}
        elif rank > top:
            other = {"key": "other", "label": OTHER_PATHS, "steps": [], **row}
        else:
            steps = _steps(path or "", names)
            rows.append(
                {
                    "key": ">".join(f"{s.slug}*{s.count}" for s in steps),
                    "label": ARROW.join(s.label for s in steps) or NO_TOUCHES,
                    "steps": steps,
                    **row,
                }
            )
    if totals is None or not totals["conversions"]:
        totals = {"key": "totals", "label": "Totals", "steps": [], **_row()}
        totals["paths"] = 0
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


def _steps(path: str, names: dict[int, tuple[str, str]]) -> list[Step]:
    steps = []
    for part in filter(None, path.split(">")):
        channel_id, _, count = part.partition("*")
        slug, name = names.get(int(channel_id), (channel_id, channel_id))
        steps.append(Step(slug=slug, name=name, count=int(count)))
    return steps


def _row(
    *,
    conversions: int | None = 0,
    cents: int | None = 0,
    touches: int | None = 0,
    days_sum: float | None = None,
    days_n: int | None = 0,
    median: float | None = None,
) -> dict:
    """A row's figures, rounded once from the exact sums (half up): revenue to the cent,
    touches per conversion to two decimals, days to one."""
    conversions, days_n = int(conversions or 0), int(days_n or 0)
    average_days = quotient(days_sum or 0, days_n) if days_n else None
    per_conversion = quotient(int(touches or 0), conversions) if conversions else None
    return {
        "conversions": conversions,
        "revenue": Decimal(int(cents or 0)).scaleb(-2),
        "touches_per_conversion": None if per_conversion is None else fixed(per_conversion, 2),
        "average_days_to_convert": None if average_days is None else fixed(average_days, 1),
        "median_days_to_convert": None if median is None else fixed(float(median), 1),
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
