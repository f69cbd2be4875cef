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

from django.db import connection, transaction

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


PURCHASES = """
    p AS (
        SELECT pu.id, pu.contact_id, pu.occurred_at,
               CAST(ROUND(pu.amount * 100) AS BIGINT) AS cents,
               CASE WHEN EXISTS (
                   SELECT 1 FROM leads_purchase q
                   WHERE q.contact_id = pu.contact_id
                     AND (q.occurred_at < pu.occurred_at OR (q.occurred_at = pu.occurred_at AND q.id < pu.id))
               ) THEN 0 ELSE 1 END AS is_first
        FROM leads_purchase pu
        WHERE pu.occurred_at >= %(lo)s AND pu.occurred_at < %(hi)s
    )"""

# Portable: join every purchase to its contact's touches, then rank them with window functions.
GENERIC_TOUCHES = """
    WITH {purchases},
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
               t.channel_id, t.campaign_id,
               (julianday(p.occurred_at) - julianday(t.occurred_at)) AS age
        FROM p
        JOIN leads_touchpoint t ON t.contact_id = p.contact_id
        LEFT JOIN ft ON ft.contact_id = p.contact_id
        -- julianday() reads the UTC text SQLite stores; 1e-9 day (86 microseconds) absorbs
        -- float rounding, so a touch exactly `lookback` days before still counts.
        WHERE t.occurred_at <= p.occurred_at
          AND (julianday(t.occurred_at) >= julianday(p.occurred_at) - %(lookback)s - 1e-9 OR t.id = ft.id)
    ),
    r AS (
        SELECT pt.*,
               COUNT(*) OVER (PARTITION BY pid) AS n,
               ROW_NUMBER() OVER (PARTITION BY pid ORDER BY t_at, is_coupon, tid) AS pos
        FROM pt
    )"""

# PostgreSQL: each purchase reads its contact's touches up to its time from the
# (contact_id, occurred_at) index, ranks them on the spot (a handful of rows), and keeps those in
# the window plus the earliest one, which is the contact's first touch ever: if any touch
# precedes the purchase, the first-ever touch does too.
POSTGRES_TOUCHES = """
    WITH {purchases},
    r AS (
        SELECT pt.*,
               COUNT(*) OVER (PARTITION BY pid) AS n,
               ROW_NUMBER() OVER (PARTITION BY pid ORDER BY t_at, is_coupon, tid) AS pos
        FROM (
            SELECT p.id AS pid, p.cents, p.is_first, t.*
            FROM p CROSS JOIN LATERAL (
                SELECT x.tid, x.t_at, x.is_coupon, x.channel_id, x.campaign_id, x.age FROM (
                    SELECT t.id AS tid, t.occurred_at AS t_at,
                           CASE WHEN t.kind = 'coupon' THEN 1 ELSE 0 END AS is_coupon,
                           t.channel_id, t.campaign_id,
                           CAST(EXTRACT(EPOCH FROM (p.occurred_at - t.occurred_at)) AS DOUBLE PRECISION)
                               / 86400 AS age,
                           ROW_NUMBER() OVER (ORDER BY t.occurred_at, t.id) AS nth
                    FROM leads_touchpoint t
                    WHERE t.contact_id = p.contact_id AND t.occurred_at <= p.occurred_at
                ) x
                WHERE x.nth = 1 OR x.t_at >= p.occurred_at - make_interval(days => %(lookback)s)
            ) t
        ) pt
    )"""


def _touches_sql() -> str:
    """CTEs p (purchases of the period, in cents, flagged when first of their contact) and r
    (each purchase's touches with their count n and their rank pos)."""
    template = POSTGRES_TOUCHES if connection.vendor == "postgresql" else GENERIC_TOUCHES
    return template.format(purchases=PURCHASES)


def report_sql(model: str, group_cols: str) -> str:
    """One statement for both figure families that need each purchase's touches, so they are
    gathered once. Rows: ("credit", channel, campaign, cents, customers) per group, plus the
    unattributed row (channel -1: purchases with no touch at all); ("assist", channel, campaign,
    purchases, cents) per group that touched a purchase without closing it, plus (channel -1)
    the purchases with any assist at all, for the totals row."""
    if model == Attribution.TIME_DECAY:
        # Floating point on purpose: POWER on PostgreSQL's numeric type is slow.
        weight = f"POWER(CAST(2 AS DOUBLE PRECISION), -age / {TIME_DECAY_HALF_LIFE_DAYS})"
        share = "CAST(FLOOR(cents * wnum / wden + 1e-9) AS BIGINT)"
        weighted = (
            f"SELECT r.*, {weight} AS wnum, SUM({weight}) OVER (PARTITION BY pid) AS wden FROM r"
        )
    else:
        wnum, wden = INTEGER_WEIGHTS[model]
        share = "(cents * wnum) / wden"
        weighted = f"SELECT r.*, {wnum} AS wnum, {wden} AS wden FROM r"
    by_campaign = "campaign_id" in group_cols
    null_group = ", NULL" if by_campaign else ""
    same_campaign = (
        " AND (l.campaign_id = t.campaign_id OR (l.campaign_id IS NULL AND t.campaign_id IS NULL))"
        if by_campaign
        else ""
    )
    return f"""{_touches_sql()},
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
    ),
    closer AS (SELECT pid, channel_id, campaign_id FROM r WHERE pos = n),
    touched AS (SELECT DISTINCT pid, cents, {group_cols} FROM r),
    assists AS (
        SELECT t.* FROM touched t
        WHERE NOT EXISTS (
            SELECT 1 FROM closer l WHERE l.pid = t.pid AND l.channel_id = t.channel_id{same_campaign}
        )
    )
    SELECT 'credit', {group_cols}, SUM(credit) * 1.0,
           SUM(CASE WHEN is_first = 1 THEN credit * 1.0 / cents ELSE 0 END)
    FROM credited GROUP BY {group_cols}
    UNION ALL
    SELECT 'credit', -1{null_group}, COALESCE(SUM(cents), 0) * 1.0, COALESCE(SUM(is_first), 0) * 1.0
    FROM p WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.pid = p.id)
    UNION ALL
    SELECT 'assist', {group_cols}, COUNT(*) * 1.0, SUM(cents) * 1.0 FROM assists GROUP BY {group_cols}
    UNION ALL
    SELECT 'assist', -1{null_group}, COUNT(*) * 1.0, COALESCE(SUM(cents), 0) * 1.0
    FROM (SELECT DISTINCT pid, cents FROM assists) a
    """


def run(sql: str, *, lo: dt.datetime, hi: dt.datetime, lookback_days: int) -> list[tuple]:
    params = {
        "lo": connection.ops.adapt_datetimefield_value(lo),
        "hi": connection.ops.adapt_datetimefield_value(hi),
        "lookback": lookback_days,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The statement sorts and hashes a few hundred thousand purchase-touch pairs at the
            # benchmark size; in memory, not in temporary files.
            cursor.execute("SET LOCAL work_mem = '128MB'")
            # The planner's cost estimate for this statement is high enough to trigger JIT
            # compilation, which costs more (about half a second) than it saves here.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return cursor.fetchall()
