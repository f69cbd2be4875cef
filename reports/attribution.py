"""Attribution of purchase revenue to touches, in one SQL statement for every grouping.

For a purchase P of contact C, its touches are every touchpoint of C at or before P's time and
within the lookback window (P's coupon touch is one of them: the purchase service records it at
P's time), plus C's first touchpoint ever, whatever its age, when it is at or before P. Touches
are ordered by time; at the same instant a coupon touch comes last (so it is the last touch),
then by id. That one order ranks the touches and picks the first touch ever, in both queries.

Weights (SPEC §3): first_touch and last_touch give everything to one touch; linear splits
equally; position_based gives 40% to the first and the last and shares 20% among the middle
ones (one touch: all; two: half each); time_decay weighs each touch 2^(-age / 7 days), age in
fractional days, normalised. Shares are computed in integer cents: each share is floored and
the remainder cents go to the largest exact share (ties: the earlier touch), so a purchase's
shares add up to its amount exactly. Under the four integer models the largest share is always
the first touch's (or tied with it, or the only non-zero one), so the remainder has a closed
form; under time decay it is the youngest touch's (the weight falls with age): the first of the
touches at the latest instant, found without another sort.

New customers are credited with the exact weights, not the rounded cents: the integer models'
weights are fractions (1, 1/n, 2/5, 1/(5(n-2)), ...), so the statement returns their numerators
summed per denominator and Python adds them up as `Fraction`s; time decay's weights are
irrational and summed in double precision (each day's sum then kept at its exact binary value).

One statement gathers each purchase's touches once and returns one row per (channel, campaign)
and customers' denominator with everything both groupings need: credited cents and customers,
and the assists counted twice, once for campaigns and once for channels (a channel that closed
a purchase through one of its campaigns did not assist it, whichever other of its campaigns
also touched it). Grouping by channel is then a sum over the channel's rows. Purchases with no
touch at all come back in the row whose channel is NULL: the unattributed row.

On PostgreSQL each purchase reads its contact's touches up to its time from a covering index
inside a lateral subquery; SQLite joins all purchases to their touches. Both then rank and
flag the touches with the same windows, partitioned by purchase.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from fractions import Fraction

from django.db import connection, transaction
from django.utils import timezone

from reports.daycache import day_rows, span_rows
from reports.models import AttributedDay, Attribution
from reports.periods import period_bounds

# Each touch's exact weight as (numerator, denominator), integers over the ranked touches (n
# touches, this one at pos), and the sum of the floored cent shares of a purchase. The weights
# are the exact fractions the customers are credited with; the cents are floored shares.
INTEGER_WEIGHTS = {
    Attribution.FIRST_TOUCH: ("CASE WHEN pos = 1 THEN 1 ELSE 0 END", "1", "cents"),
    Attribution.LAST_TOUCH: ("CASE WHEN pos = n THEN 1 ELSE 0 END", "1", "cents"),
    Attribution.LINEAR: ("1", "n", "n * (cents / n)"),
    # n >= 3: the ends 2/5 each, the middles 1/5(n-2) each (20% in all).
    Attribution.POSITION_BASED: (
        "CASE WHEN n >= 3 AND (pos = 1 OR pos = n) THEN 2 ELSE 1 END",
        "CASE WHEN n = 1 THEN 1 WHEN n = 2 THEN 2 WHEN pos = 1 OR pos = n THEN 5"
        " ELSE 5 * (n - 2) END",
        "CASE WHEN n = 1 THEN cents WHEN n = 2 THEN 2 * (cents / 2)"
        " ELSE 2 * ((2 * cents) / 5) + (n - 2) * (cents / (5 * (n - 2))) END",
    ),
}
TIME_DECAY_HALF_LIFE_DAYS = 7

# The stage-aware models, in units of 0.5%: each milestone's units (the first touch, the last
# touch at or before the lead stamp, the last at or before the qualified stamp, and under
# full path the closing touch), and the rest's 20 units (10%) shared equally by the other
# touches. A touch that is several milestones takes each of their units; with no other touch
# the rest's share is dropped and the milestones' 180 units are the whole.
STAGE_WEIGHTS = {
    Attribution.W_SHAPED: (60, ("1", "lp", "qp")),
    Attribution.FULL_PATH: (45, ("1", "lp", "qp", "n")),
}
STAGE_REST_UNITS = 20
# The customers' common denominator: every linear weight 1/n and position based weight (1, 1/2,
# 2/5, 1/5(n-2)) for n up to 22 (and most n beyond), and every stage-aware weight (over 180, or
# over 200m with m touches outside the milestones, for most m up to 20) is a whole number of
# 1/COMMON_DENOMINATOR, so nearly every row sums its numerators over this one denominator; a
# purchase whose weights are not (23 touches, say) keeps its own denominator, in a row of its
# own per group and day. Sums of a day's numerators stay far below 2^63.
COMMON_DENOMINATOR = math.lcm(*range(1, 21)) * 5 * 40  # 46,558,512,000


# The period's purchases, each with its net cents: its amount less its refunds (`REFUNDED`),
# the revenue its shares split. A fully refunded purchase has 0 cents and is still a purchase:
# a first purchase still makes a customer, and it still counts as a conversion and an assist.
PURCHASES = """
    p AS (
        SELECT pu.id, pu.contact_id, pu.occurred_at, {day} AS day,{stamps}
               CAST(ROUND(pu.amount * 100) AS BIGINT) - COALESCE(rf.cents, 0) AS cents,
               CAST(ROUND(pu.discount * 100) AS BIGINT) AS discount_cents,
               CASE WHEN EXISTS (
                   SELECT 1 FROM leads_purchase q
                   WHERE q.contact_id = pu.contact_id
                     AND (q.occurred_at < pu.occurred_at OR (q.occurred_at = pu.occurred_at AND q.id < pu.id))
               ) THEN 0 ELSE 1 END AS is_first
        FROM leads_purchase pu{contacts}
        LEFT JOIN {refunded} rf ON rf.purchase_id = pu.id
        WHERE pu.occurred_at >= %(lo)s AND pu.occurred_at < %(hi)s
    )"""
# Each purchase's refunds in cents, grouped once per statement (a hash join, not a look-up per
# purchase); a BIGINT, so the shares below stay integer arithmetic (PostgreSQL sums integers as
# NUMERIC). A refund is never before its purchase (`leads.rules.new_refund`), so only the
# refunds made since the period began can belong to its purchases: read from their time index.
REFUNDED = """(
        SELECT r.purchase_id, CAST(SUM(ROUND(r.amount * 100)) AS BIGINT) AS cents
        FROM leads_refund r
        WHERE r.occurred_at >= %(lo)s
        GROUP BY r.purchase_id
    )"""


def conversions_select() -> str:
    """The period's conversions (first purchases), the columns of `PURCHASES` with their
    local day: a SELECT for a CTE named p, as the touches sources expect."""
    day, _ = connection.ops.datetime_cast_date_sql("pu.occurred_at", (), "TZ")
    day = day.replace("%s", "%(tz)s", 1).replace("%s", "'UTC'", 1)
    text = purchases_cte(day).strip()
    head = "p AS ("
    if not (text.startswith(head) and text.endswith(")")):
        raise RuntimeError("purchases_cte changed its shape")
    return f"SELECT * FROM ({text[len(head) : -1]}) all_p WHERE is_first = 1"


def purchases_cte(day: str, *, stamps: bool = False) -> str:
    """`PURCHASES` with its local day expression and its refunds filled in; with `stamps`, each
    purchase also carries its contact's lead and qualified stamps (`lead_at`, `qual_at`), which
    the stage-aware models place their milestones by."""
    return (
        PURCHASES.replace("{day}", day)
        .replace("{refunded}", REFUNDED)
        .replace(
            "{stamps}",
            " c.became_lead_at AS lead_at, c.became_qualified_at AS qual_at," if stamps else "",
        )
        .replace("{contacts}", " JOIN leads_contact c ON c.id = pu.contact_id" if stamps else "")
    )


def _layers(model: str, source: str, by: str) -> str:
    """Rank, credit and flag the touches of `source` (columns pid, cents, is_first, tid, t_at,
    is_coupon, channel_id, campaign_id, age); `by` partitions the windows by purchase
    ("pid", or "" when `source` holds one purchase's touches)."""
    part = f"PARTITION BY {by}" if by else ""
    part_ = f"PARTITION BY {by}, " if by else "PARTITION BY "
    # One sort for the rank and the closer (the last touch: the whole frame's last value).
    order = f"{part} ORDER BY t_at, is_coupon, tid"
    whole = "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
    ranked = f"""
        SELECT s.*, COUNT(*) OVER ({part}) AS n, ROW_NUMBER() OVER ({order}) AS pos,
               LAST_VALUE(channel_id) OVER ({order} {whole}) AS close_ch,
               LAST_VALUE(campaign_id) OVER ({order} {whole}) AS close_cmp"""
    if model == Attribution.TIME_DECAY:
        # The latest instant and its age, from the same window as the closer: no other sort.
        ranked += f""",
               LAST_VALUE(t_at) OVER ({order} {whole}) AS last_at,
               LAST_VALUE(age) OVER ({order} {whole}) AS last_age"""
    if model in STAGE_WEIGHTS:
        # The touches at or before each stamp: in the ranking's order they are the first k, so
        # k is the position of the last of them (touches of one instant are on the same side).
        ranked += f""",
               COUNT(CASE WHEN t_at <= lead_at THEN 1 END) OVER ({part}) AS lead_k,
               COUNT(CASE WHEN t_at <= qual_at THEN 1 END) OVER ({part}) AS qual_k"""
    ranked += f"""
        FROM ({source}) s"""
    if model == Attribution.TIME_DECAY:
        # Floating point on purpose: POWER on PostgreSQL's numeric type is slow. Ages are taken
        # from the youngest touch (weight 1, so the sum is at least 1: no underflow to 0/0 for
        # a first touch decades old); normalising makes that the same weights.
        weighted = f"""
            SELECT y.*, POWER(CAST(2 AS DOUBLE PRECISION),
                       -(age - last_age) / {TIME_DECAY_HALF_LIFE_DAYS}) AS w
            FROM ({ranked}) y"""
        shared = f"""
            SELECT x.*, CAST(FLOOR(cents * w / w_sum + 1e-9) AS BIGINT) AS share,
                   w / w_sum AS portion
            FROM (SELECT v.*, SUM(w) OVER ({part}) AS w_sum FROM ({weighted}) v) x"""
        # The remainder cents go to the largest exact share: the youngest touch (the weight
        # falls with age), the first of the touches at the latest instant on a tie. Both
        # windows are over the whole purchase, already in order: one pass, no sort.
        credited = f"""
            SELECT z.*, share + CASE
                       WHEN pos = MIN(CASE WHEN t_at = last_at THEN pos END) OVER ({part})
                       THEN cents - SUM(share) OVER ({part}) ELSE 0 END AS credit,
                   COALESCE(portion, 1.0) AS cust_num, 0 AS cust_den
            FROM ({shared}) z"""
    elif model in STAGE_WEIGHTS:
        credited = _stage_credit(model, ranked, part)
    else:
        # The largest exact share is the first touch's (or tied with it, or the only non-zero
        # one): the remainder has a closed form and needs no window.
        wnum, wden, floored = INTEGER_WEIGHTS[model]
        common = COMMON_DENOMINATOR
        credited = f"""
            SELECT y.*, (cents * {wnum}) / {wden}
                       + CASE WHEN pos = 1 THEN cents - {floored} ELSE 0 END AS credit,
                   CASE WHEN {common} %% ({wden}) = 0 THEN ({wnum}) * ({common} / ({wden}))
                       ELSE {wnum} END AS cust_num,
                   CASE WHEN is_first = 0 THEN 0 WHEN {common} %% ({wden}) = 0 THEN {common}
                       ELSE {wden} END AS cust_den
            FROM ({ranked}) y"""
    # One more sort: each channel's and each campaign's first row in the purchase, so a group
    # that touched a purchase several times counts it once.
    closers = f"""
        SELECT w.*,
               ROW_NUMBER() OVER ({part_}channel_id ORDER BY campaign_id, pos) AS ch_first,
               ROW_NUMBER() OVER ({part_}channel_id, campaign_id ORDER BY pos) AS cmp_first
        FROM ({credited}) w"""
    closes = f"""
        SELECT c.*,
               (channel_id IS NULL OR channel_id = close_ch) AS closes_ch,
               (channel_id IS NULL OR (channel_id = close_ch AND COALESCE(campaign_id = close_cmp,
                   campaign_id IS NULL AND close_cmp IS NULL))) AS closes_cmp
        FROM ({closers}) c"""
    return f"""
        SELECT a.*,
               CASE WHEN ch_first = 1 AND NOT closes_ch THEN 1 ELSE 0 END AS ch_assist,
               CASE WHEN cmp_first = 1 AND NOT closes_cmp THEN 1 ELSE 0 END AS cmp_assist,
               MAX(CASE WHEN NOT closes_ch THEN 1 ELSE 0 END) OVER ({part}) AS ch_any,
               MAX(CASE WHEN NOT closes_cmp THEN 1 ELSE 0 END) OVER ({part}) AS cmp_any
        FROM ({closes}) a"""


def _stage_credit(model: str, ranked: str, part: str) -> str:
    """The credit layer of a stage-aware model over `ranked` (which carries lead_k, qual_k).

    Milestone positions: lp is the last touch at or before the lead stamp, qp the last at or
    before the qualified stamp but never before lp; with no such touch (or no stamp) the
    milestone falls to the first touch. So 1 <= lp <= qp <= n. With m the touches that are no
    milestone, a touch's exact weight is (u * m + rest) / (200 * m) for m > 0 (u its milestone
    units, rest 20 for a non-milestone touch), else u / 180: integers, like the other integer
    models. The largest exact share is a milestone's (a milestone has at least 45m units, the
    rest 20): the one that is the most milestones at once, the earliest on a tie; with the
    milestones in order that has a closed form (see `docs/metrics.md`)."""
    units, milestones = STAGE_WEIGHTS[model]
    lp = "CASE WHEN lead_k > 1 THEN lead_k ELSE 1 END"
    qp = f"CASE WHEN qual_k > ({lp}) THEN qual_k ELSE ({lp}) END"
    staged = f"SELECT r.*, {lp} AS lp, {qp} AS qp FROM ({ranked}) r"
    u = (
        f"{units} * ("
        + " + ".join(f"CASE WHEN pos = {x} THEN 1 ELSE 0 END" for x in milestones)
        + ")"
    )
    # How many distinct milestone positions there are: each one not equal to an earlier one.
    distinct = " + ".join(
        ["1"]
        + [
            "CASE WHEN "
            + " AND ".join(f"{x} <> {y}" for y in milestones[:i])
            + " THEN 1 ELSE 0 END"
            for i, x in enumerate(milestones)
            if i
        ]
    )
    if model == Attribution.W_SHAPED:
        winner = "CASE WHEN lp <> 1 AND lp = qp THEN lp ELSE 1 END"
    else:
        winner = (
            "CASE WHEN lp <> 1 AND lp = qp THEN lp"
            " WHEN lp <> 1 AND qp <> lp AND qp = n THEN qp ELSE 1 END"
        )
    rest = STAGE_REST_UNITS
    weighted = f"""
        SELECT v.*,
               CASE WHEN m > 0 THEN u * m + CASE WHEN u = 0 THEN {rest} ELSE 0 END ELSE u END
                   AS wnum,
               CASE WHEN m > 0 THEN {10 * rest} * m ELSE {len(milestones) * units} END AS wden
        FROM (SELECT s.*, {u} AS u, n - ({distinct}) AS m, {winner} AS winner
              FROM ({staged}) s) v"""
    common = COMMON_DENOMINATOR
    return f"""
        SELECT z.*, share + CASE WHEN pos = winner THEN cents - SUM(share) OVER ({part})
                   ELSE 0 END AS credit,
               CASE WHEN {common} %% wden = 0 THEN wnum * ({common} / wden) ELSE wnum END
                   AS cust_num,
               CASE WHEN is_first = 0 THEN 0 WHEN {common} %% wden = 0 THEN {common}
                   ELSE wden END AS cust_den
        FROM (SELECT w.*, (cents * wnum) / wden AS share FROM ({weighted}) w) z"""


def _with_stamps(source: str) -> str:
    """A touches source that also carries the purchase's lead and qualified stamps."""
    head = "p.discount_cents,"
    if head not in source:
        raise RuntimeError("the touches source changed its shape")
    return source.replace(head, f"{head} p.lead_at, p.qual_at,", 1)


# Portable: join every purchase to its contact's touches (a purchase with none keeps one row,
# its touch NULL), then rank them with windows partitioned by purchase. SQLite keeps times as
# UTC text ("2026-03-10 09:30:00" or "...:00.250000"), so both the window's edge and the age are
# computed from the text exactly, to the microsecond (julianday() is a float of days, off by
# tens of microseconds).
SQLITE_MICROS = (
    "(CAST(strftime('%%s', {x}) AS INTEGER) * 1000000 + CAST(substr({x}, 21) AS INTEGER))"
)
GENERIC_TOUCHES = f"""
    SELECT p.id AS pid, p.day, p.cents, p.is_first, p.discount_cents, t.id AS tid, t.occurred_at AS t_at,
           CASE WHEN t.kind = 'coupon' THEN 1 ELSE 0 END AS is_coupon,
           t.channel_id, t.campaign_id,
           (({SQLITE_MICROS.format(x="p.occurred_at")} - {SQLITE_MICROS.format(x="t.occurred_at")})
               / 1000000.0) / 86400 AS age
    FROM p
    LEFT JOIN ft ON ft.contact_id = p.contact_id
    LEFT JOIN leads_touchpoint t ON t.contact_id = p.contact_id AND t.occurred_at <= p.occurred_at
        AND (t.occurred_at >= strftime('%%Y-%%m-%%d %%H:%%M:%%S', p.occurred_at, %(lookback_modifier)s)
                || substr(p.occurred_at, 20)
             OR t.id = ft.id)
"""
# Each contact's first touch ever: the earliest, a coupon touch last at the same instant, then
# by id: the order every window below ranks touches in, so "first" means one touch everywhere.
FIRST_TOUCHES = """
    ft AS (
        SELECT contact_id, id FROM (
            SELECT t.contact_id, t.id,
                   ROW_NUMBER() OVER (PARTITION BY t.contact_id ORDER BY t.occurred_at,
                       CASE WHEN t.kind = 'coupon' THEN 1 ELSE 0 END, t.id) AS rn
            FROM leads_touchpoint t
            WHERE t.contact_id IN (SELECT contact_id FROM p)
        ) firsts WHERE rn = 1
    )"""

# PostgreSQL: each purchase's touches up to its time, read in order from the covering
# (contact_id, occurred_at, id) index; those in the window, or the first one in the ranking's
# order (the contact's first touch ever: if any touch precedes the purchase, the first-ever
# touch does too). A coupon touch sorts after the others at its instant: an incremental sort of
# the index order, on the few touches that share an instant.
POSTGRES_TOUCHES = """
    SELECT p.id AS pid, p.day, p.cents, p.is_first, p.discount_cents, x.tid, x.t_at, x.is_coupon,
           x.channel_id, x.campaign_id, x.age
    FROM p LEFT JOIN LATERAL (
        SELECT * FROM (
            SELECT t.id AS tid, t.occurred_at AS t_at,
                   CASE WHEN t.kind = 'coupon' THEN 1 ELSE 0 END AS is_coupon,
                   t.channel_id, t.campaign_id,
                   CAST(EXTRACT(EPOCH FROM (p.occurred_at - t.occurred_at)) AS DOUBLE PRECISION)
                       / 86400 AS age,
                   ROW_NUMBER() OVER (ORDER BY t.occurred_at,
                       CASE WHEN t.kind = 'coupon' THEN 1 ELSE 0 END, t.id) AS nth
            FROM leads_touchpoint t
            WHERE t.contact_id = p.contact_id AND t.occurred_at <= p.occurred_at
        ) y
        -- A duration in seconds: the same whatever the session's time zone.
        WHERE y.nth = 1 OR y.t_at >= p.occurred_at - make_interval(secs => %(lookback)s * 86400)
    ) x ON TRUE
"""

# Grouped by the customers' denominator too (0 on rows of no new customer; nearly always
# COMMON_DENOMINATOR otherwise): each row's customers are a sum of numerators over one
# denominator, added up exactly in Python. Under time decay the numerators are the
# double-precision shares and the denominator is 0.
SUMS = """
    SELECT day, channel_id, campaign_id, cust_den,
           SUM(COALESCE(credit, cents)),
           SUM(CASE WHEN is_first = 1 THEN cust_num ELSE 0 END),
           SUM(COALESCE(cmp_assist, 0)), SUM(COALESCE(cmp_assist, 0) * cents),
           SUM(COALESCE(ch_assist, 0)), SUM(COALESCE(ch_assist, 0) * cents),
           SUM(CASE WHEN COALESCE(pos, 1) = 1 THEN COALESCE(cmp_any, 0) ELSE 0 END),
           SUM(CASE WHEN COALESCE(pos, 1) = 1 THEN COALESCE(cmp_any, 0) * cents ELSE 0 END),
           SUM(CASE WHEN COALESCE(pos, 1) = 1 THEN COALESCE(ch_any, 0) ELSE 0 END),
           SUM(CASE WHEN COALESCE(pos, 1) = 1 THEN COALESCE(ch_any, 0) * cents ELSE 0 END),
           SUM(CASE WHEN COALESCE(pos, 1) = 1 THEN is_first ELSE 0 END),
           SUM(CASE WHEN COALESCE(pos, 1) = 1 THEN discount_cents ELSE 0 END)
    FROM {rows}
    GROUP BY day, channel_id, campaign_id, cust_den
"""


def report_sql(model: str) -> str:
    """The statement: per (channel, campaign) and customers' denominator, credited cents, the
    customers' numerators, campaign assists (count, cents), channel assists (count, cents);
    then, each purchase counted once (in the row of its first touch), the purchases with any
    campaign assist and with any channel assist (count, cents), and the first purchases and the
    discount cents."""
    day, _ = connection.ops.datetime_cast_date_sql("pu.occurred_at", (), "TZ")
    day = day.replace("%s", "%(tz)s", 1).replace("%s", "'UTC'", 1)
    staged = model in STAGE_WEIGHTS
    purchases = purchases_cte(day, stamps=staged)
    postgres = connection.vendor == "postgresql"
    touches = POSTGRES_TOUCHES if postgres else GENERIC_TOUCHES
    if staged:
        touches = _with_stamps(touches)
    rows = f"({_layers(model, touches, 'pid')}) ranked"
    if postgres:
        # Materialized: p is read by the lateral join, and is_first must run once per purchase.
        purchases = purchases.replace("p AS (", "p AS MATERIALIZED (")
        return f"WITH {purchases} {SUMS.format(rows=rows)}"
    return f"WITH {purchases}, {FIRST_TOUCHES} {SUMS.format(rows=rows)}"


@dataclass
class Credit:
    """What one group earned from the period's purchases. Customers are exact: a sum of the
    model's weights (under time decay, of double-precision shares, each kept exactly)."""

    cents: int = 0
    customers: Fraction = Fraction(0)
    assists: int = 0
    assisted_cents: int = 0


@dataclass
class Attributed:
    """Both groupings of one model's credit; channel_id None keys the unattributed row."""

    by_campaign: dict[tuple[int | None, int | None], Credit] = field(default_factory=dict)
    by_channel: dict[int | None, Credit] = field(default_factory=dict)
    # Purchases with any assist (count, cents), per grouping.
    any_assist_campaign: tuple[int, int] = (0, 0)
    any_assist_channel: tuple[int, int] = (0, 0)
    # Every purchase of the period, whatever the model: cents, first purchases, discounts.
    cents: int = 0
    first_purchases: int = 0
    discount_cents: int = 0


def credit_days(*, model: str, start: dt.date, end: dt.date, lookback_days: int) -> dict:
    """{day: rows} of the model's credit for purchases of the local days `start`..`end` (the
    row layout of `_compute_days`), from the day cache where it is still valid."""
    return day_rows(
        AttributedDay,
        {"model": model, "lookback_days": lookback_days},
        start,
        end,
        lambda first, last: _compute_days(model, first, last, lookback_days),
    )


def attribute(*, model: str, start: dt.date, end: dt.date, lookback_days: int) -> Attributed:
    """The model's credit for purchases made from `start` to `end` (local days), in both
    groupings. Closed whole months come from their `MonthRollup`, other closed days from the
    AttributedDay cache, where still valid; what is missing is computed in one statement and
    stored; today and later are always computed live."""
    return _fold(credit_spans(model=model, spans=[(start, end)], lookback_days=lookback_days)[0])


def credit_spans(
    *, model: str, spans: list[tuple[dt.date, dt.date]], lookback_days: int
) -> list[list]:
    """For each (start, end) of `spans`, the model's credit rows of its purchases added up
    per (channel, campaign) (the row layout of `_compute_days`), from the caches."""
    return span_rows(
        AttributedDay,
        {"model": model, "lookback_days": lookback_days},
        spans,
        lambda first, last: _compute_days(model, first, last, lookback_days),
        combine_credit,
    )


def combine_credit(parts) -> list:
    """Credit rows of several days (or months) added up per (channel, campaign): counts and
    cents summed, customers as one exact fraction."""
    groups: dict[tuple[int | None, int | None], list] = {}
    for rows in parts:
        for row in rows:
            values = groups.get((row[0], row[1]))
            if values is None:
                values = groups[row[0], row[1]] = [0, ExactSum(), *[0] * 10]
            values[0] += row[2]
            values[1].add_text(row[3])
            for i in range(2, 12):
                values[i] += row[i + 2]
    out = []
    for (channel_id, campaign_id), values in sorted(groups.items(), key=_key_order):
        values[1] = str(values[1].value())
        out.append([channel_id, campaign_id, *values])
    return out


def _key_order(item: tuple) -> tuple:
    (channel_id, campaign_id), _ = item
    return (channel_id is not None, channel_id or 0, campaign_id is not None, campaign_id or 0)


class ExactSum:
    """A sum of fractions kept as integer numerators per denominator: adding is two integer
    operations (a `Fraction` addition reduces by a gcd each time), and `value()` makes one
    `Fraction` at the end. The denominators are few: n touches, 2, 5, 5(n-2); a time-decay
    share's is a power of two."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: dict[int, int] = {}

    def add(self, numerator: int, denominator: int) -> None:
        if numerator:
            self.parts[denominator] = self.parts.get(denominator, 0) + numerator

    def add_text(self, text: str) -> None:
        """Add a fraction written "p/q" or "p"."""
        numerator, _, denominator = text.partition("/")
        self.add(int(numerator), int(denominator or 1))

    def value(self) -> Fraction:
        if not self.parts:
            return Fraction(0)
        common = math.lcm(*self.parts)
        return Fraction(sum(n * (common // d) for d, n in self.parts.items()), common)


def _compute_days(model: str, start: dt.date, end: dt.date, lookback_days: int) -> dict:
    """Run the statement for purchases of the local days `start`..`end`: {day: rows}, one row
    per (channel, campaign), JSON-ready: [channel_id, campaign_id, credited cents, customers (an
    exact fraction, "p/q" or "p"), then the ten counts and cents of `report_sql`].

    A statement row's customers are its integer numerators over its denominator, or (time
    decay) the double-precision sum of shares, taken at its exact binary value."""
    lo, hi = period_bounds(start, end)
    groups: dict[tuple[dt.date, int | None, int | None], list] = {}
    decay = model == Attribution.TIME_DECAY
    for row in run(report_sql(model), lo=lo, hi=hi, lookback_days=lookback_days):
        day = row[0] if isinstance(row[0], dt.date) else dt.date.fromisoformat(row[0])
        values = groups.get((day, row[1], row[2]))
        if values is None:
            values = groups[day, row[1], row[2]] = [0, ExactSum(), *[0] * 10]
        values[0] += int(row[4] or 0)
        if decay:
            values[1].add(*float(row[5] or 0).as_integer_ratio())
        elif row[3]:
            values[1].add(int(row[5] or 0), int(row[3]))
        for i, value in enumerate(row[6:], start=2):
            values[i] += int(value or 0)
    per_day: dict[dt.date, list] = {}
    for (day, channel_id, campaign_id), values in sorted(groups.items(), key=_group_order):
        values[1] = str(values[1].value())
        per_day.setdefault(day, []).append([channel_id, campaign_id, *values])
    return per_day


def _group_order(item: tuple) -> tuple:
    (day, channel_id, campaign_id), _ = item
    return (day, channel_id is not None, channel_id or 0, campaign_id is not None, campaign_id or 0)


def _fold(rows) -> Attributed:
    """Sum day rows into both groupings (exactly: cents are integers, customers fractions)."""
    out = Attributed()
    any_cmp, any_cmp_cents, any_ch, any_ch_cents = 0, 0, 0, 0
    by_campaign: dict[tuple[int | None, int | None], ExactSum] = {}
    by_channel: dict[int | None, ExactSum] = {}
    for row in rows:
        channel_id, campaign_id, cents, customers = row[0], row[1], row[2], row[3]
        cmp_n, cmp_cents, ch_n, ch_cents = row[4:8]
        any_cmp += row[8]
        any_cmp_cents += row[9]
        any_ch += row[10]
        any_ch_cents += row[11]
        out.cents += cents
        out.first_purchases += row[12]
        out.discount_cents += row[13]
        group = out.by_campaign.setdefault((channel_id, campaign_id), Credit())
        group.cents += cents
        group.assists += cmp_n
        group.assisted_cents += cmp_cents
        by_campaign.setdefault((channel_id, campaign_id), ExactSum()).add_text(customers)
        channel = out.by_channel.setdefault(channel_id, Credit())
        channel.cents += cents
        channel.assists += ch_n
        channel.assisted_cents += ch_cents
        by_channel.setdefault(channel_id, ExactSum()).add_text(customers)
    for key, total in by_campaign.items():
        out.by_campaign[key].customers = total.value()
    for key, total in by_channel.items():
        out.by_channel[key].customers = total.value()
    out.any_assist_campaign = (any_cmp, any_cmp_cents)
    out.any_assist_channel = (any_ch, any_ch_cents)
    return out


def run(sql: str, *, lo: dt.datetime, hi: dt.datetime, lookback_days: int) -> list[tuple]:
    params = {
        "lo": connection.ops.adapt_datetimefield_value(lo),
        "hi": connection.ops.adapt_datetimefield_value(hi),
        "lookback": lookback_days,
        "lookback_modifier": f"-{lookback_days} days",
        "tz": timezone.get_current_timezone_name(),
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
