"""Attribution of purchase revenue to touches, in one SQL statement per figure family.

For a purchase P of contact C, its touches are every touchpoint of C at or before P's time and
within the lookback window (P's coupon touch is one of them: the purchase service records it at
P's time), plus C's first touchpoint ever, whatever its age. Touches are ordered by time; at the
same instant a coupon touch comes last (so it is the last touch), then by id.

Weights (SPEC §3): first_touch and last_touch give everything to one touch; linear splits
equally; position_based gives 40% to the first and the last and shares 20% among the middle
ones (one touch: all; two: half each); time_decay weighs each touch 2^(-age / 7 days), age in
fractional days, normalised. Shares are computed in integer cents: each share is floored and
the remainder cents go to the largest share (ties: the earlier touch), so a purchase's shares
add up to its amount exactly. The integer models use integer arithmetic throughout.

The statements run on PostgreSQL and SQLite alike (CTEs and window functions); only the date
arithmetic differs between the two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from reports.models import Attribution

# Shares of each touch, as (numerator, denominator) expressions over the ranked touches r.
INTEGER_WEIGHTS = {
    Attribution.FIRST_TOUCH: ("CASE WHEN pos = 1 THEN 1 ELSE 0 END", "1"),
    Attribution.LAST_TOUCH: ("CASE WHEN pos = n THEN 1 ELSE 0 END", "1"),
    Attribution.LINEAR: ("1", "n"),
    # n >= 3: ends 2(n-2)/5(n-2) = 40% each, middles 1/5(n-2) each = 20% in all.
    Attribution.POSITION_BASED: (
        "CASE WHEN n <= 2 THEN 1 WHEN pos = 1 OR pos = n THEN 2 * (n - 2) ELSE 1 END",
        "CASE WHEN n = 1 THEN 1 WHEN n = 2 THEN 2 ELSE 5 * (n - 2) END",
    ),
}
TIME_DECAY_HALF_LIFE_DAYS = 7


@dataclass(frozen=True)
class Dialect:
    age_days: str  # days from the touch t to the purchase p, fractional
    in_window: str  # t within the lookback window before p

    @classmethod
    def current(cls) -> Dialect:
        if connection.vendor == "postgresql":
            return cls(
                age_days="EXTRACT(EPOCH FROM (p.occurred_at - t.occurred_at)) / 86400.0",
                in_window="t.occurred_at >= p.occurred_at - make_interval(days => %(lookback)s)",
            )
        # SQLite stores UTC text; julianday() reads it. The 1e-9 day (86 µs) absorbs float
        # rounding, so a touch exactly `lookback` days before still counts.
        return cls(
            age_days="(julianday(p.occurred_at) - julianday(t.occurred_at))",
            in_window="julianday(t.occurred_at) >= julianday(p.occurred_at) - %(lookback)s - 1e-9",
        )


def _touches_sql(dialect: Dialect) -> str:
    """CTEs p (purchases of the period, in cents, flagged when first of their contact), ft (each
    buyer's first touch ever), r (each purchase's touches, ranked)."""
    return f"""
    WITH p AS (
        SELECT pu.id, pu.contact_id, pu.occurred_at,
               CAST(ROUND(pu.amount * 100) AS BIGINT) AS cents,
               CASE WHEN EXISTS (
                   SELECT 1 FROM leads_purchase q
                   WHERE q.contact_id = pu.contact_id
                     AND (q.occurred_at < pu.occurred_at OR (q.occurred_at = pu.occurred_at AND q.id < pu.id))
               ) THEN 0 ELSE 1 END AS is_first
        FROM leads_purchase pu
        WHERE pu.occurred_at >= %(lo)s AND pu.occurred_at < %(hi)s
    ),
    ft AS (
        SELECT contact_id, id FROM (
            SELECT t.contact_id, t.id,
                   ROW_NUMBER() OVER (PARTITION BY t.contact_id ORDER BY t.occurred_at, t.id) AS rn
            FROM leads_touchpoint t
            WHERE t.contact_id IN (SELECT contact_id FROM p)
        ) firsts WHERE rn = 1
    ),
    pt AS (
        SELECT p.id AS pid, p.cents, p.is_first, t.id AS tid, t.occurred_at AS t_at,
               CASE WHEN t.kind = 'coupon' THEN 1 ELSE 0 END AS is_coupon,
               t.channel_id, t.campaign_id, {dialect.age_days} AS age
        FROM p
        JOIN leads_touchpoint t ON t.contact_id = p.contact_id
        LEFT JOIN ft ON ft.contact_id = p.contact_id
        WHERE t.occurred_at <= p.occurred_at AND ({dialect.in_window} OR t.id = ft.id)
    ),
    r AS (
        SELECT pt.*,
               COUNT(*) OVER (PARTITION BY pid) AS n,
               ROW_NUMBER() OVER (PARTITION BY pid ORDER BY t_at, is_coupon, tid) AS pos
        FROM pt
    )"""


def credit_sql(model: str, group_cols: str, dialect: Dialect) -> str:
    """Revenue (cents) and new customers (fractions) credited to each group, plus the
    unattributed row (channel_id -1): purchases with no touch at all."""
    if model == Attribution.TIME_DECAY:
        weight = f"POWER(2.0, -age / {TIME_DECAY_HALF_LIFE_DAYS})"
        share = "CAST(FLOOR(cents * wnum / wden + 1e-9) AS BIGINT)"
        weighted = (
            f"SELECT r.*, {weight} AS wnum, SUM({weight}) OVER (PARTITION BY pid) AS wden FROM r"
        )
    else:
        wnum, wden = INTEGER_WEIGHTS[model]
        share = "(cents * wnum) / wden"
        weighted = f"SELECT r.*, {wnum} AS wnum, {wden} AS wden FROM r"
    null_group = ", NULL" if "campaign_id" in group_cols else ""
    return f"""{_touches_sql(dialect)},
    w AS ({weighted}),
    s AS (SELECT w.*, {share} AS share FROM w),
    f AS (
        SELECT s.*,
               cents - SUM(share) OVER (PARTITION BY pid) AS remainder,
               ROW_NUMBER() OVER (PARTITION BY pid ORDER BY share DESC, pos) AS srank
        FROM s
    ),
    credited AS (
        SELECT f.*, share + CASE WHEN srank = 1 THEN remainder ELSE 0 END AS credit FROM f
    )
    SELECT {group_cols}, SUM(credit) AS cents,
           SUM(CASE WHEN is_first = 1 THEN credit * 1.0 / cents ELSE 0 END) AS customers
    FROM credited GROUP BY {group_cols}
    UNION ALL
    SELECT -1{null_group}, COALESCE(SUM(cents), 0), COALESCE(SUM(is_first), 0) * 1.0
    FROM p WHERE NOT EXISTS (SELECT 1 FROM pt WHERE pt.pid = p.id)
    """


def assisted_sql(group_cols: str, dialect: Dialect) -> str:
    """Purchases a group touched without closing (its last touch is another group's), per group,
    and (channel_id -1) the purchases with any assist at all, for the totals row."""
    same_campaign = (
        " AND (l.campaign_id = t.campaign_id OR (l.campaign_id IS NULL AND t.campaign_id IS NULL))"
        if "campaign_id" in group_cols
        else ""
    )
    null_group = ", NULL" if "campaign_id" in group_cols else ""
    return f"""{_touches_sql(dialect)},
    closer AS (SELECT pid, channel_id, campaign_id FROM r WHERE pos = n),
    touched AS (SELECT DISTINCT pid, cents, {group_cols} FROM r),
    assists AS (
        SELECT t.* FROM touched t
        WHERE NOT EXISTS (
            SELECT 1 FROM closer l WHERE l.pid = t.pid AND l.channel_id = t.channel_id{same_campaign}
        )
    )
    SELECT {group_cols}, COUNT(*) AS conversions, SUM(cents) AS cents FROM assists GROUP BY {group_cols}
    UNION ALL
    SELECT -1{null_group}, COUNT(*), COALESCE(SUM(cents), 0) FROM (SELECT DISTINCT pid, cents FROM assists) a
    """


def run(sql: str, *, lo: dt.datetime, hi: dt.datetime, lookback_days: int) -> list[tuple]:
    params = {
        "lo": connection.ops.adapt_datetimefield_value(lo),
        "hi": connection.ops.adapt_datetimefield_value(hi),
        "lookback": lookback_days,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
