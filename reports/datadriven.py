"""The data-driven models (`markov`, `shapley`) over the period's journeys, as report credit.

The journeys (SPEC §3 touches, `reports.pathmodels` for the models):
- a **converting** journey is a conversion of the period (a first purchase, as the customers
  figure counts them) with its touches under SPEC §3 (the lookback, the first touch ever, the
  coupon touch last at its instant): the channels of its touches in that order;
- a **non-converting** journey is a contact that was not a customer by the period's end
  (`became_customer_at` empty or later) and touched a channel during the period: the channels of
  its touches from `lookback_days` before the period's start to its end, in the same order.

Each channel's share of the conversions (`pathmodels.shares`) credits the period's attributed
revenue (the net cents of every purchase of the period with at least one touch) and its new
customers; within a channel, its campaigns (and its touches without one) are credited in
proportion to their touches in the converting journeys. Purchases with no touch stay in the
unattributed row, as under every model. Cents are floored and the remainder cents go to the
largest exact share (the lowest channel or campaign id on a tie), so the rows add up to the
totals. The 95% interval of each figure is the bootstrap interval of the channel's share
(`pathmodels.intervals`, a fixed seed) times the same revenue (and campaign proportion).

With fewer converting journeys than `settings.DATA_DRIVEN_MIN_CONVERSIONS` the answer is
`insufficient_data`: no group is credited (the report shows why instead of a number).

Assists do not depend on the model (a group that touched a purchase but did not close it): they
are the last-touch statement's, from its day cache. The journeys are read in two statements per
call; the report pages cache the finished figures of a closed period like any other.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

from django.conf import settings
from django.db import connection

from reports import pathmodels
from reports.attribution import (
    GENERIC_TOUCHES,
    POSTGRES_TOUCHES,
    Attributed,
    Credit,
    attribute,
    purchases_cte,
    run,
)
from reports.models import Attribution
from reports.periods import period_bounds

OK = "ok"
INSUFFICIENT = "insufficient_data"
DRAWS = 200
SEED = 20261203
LEVEL = 0.95


@dataclass
class GroupCredit:
    cents: int
    lo_cents: int | None
    hi_cents: int | None


@dataclass
class DataDriven:
    model: str
    status: str
    conversions: int
    minimum: int
    by_channel: dict[int | None, GroupCredit] = field(default_factory=dict)
    by_campaign: dict[tuple[int | None, int | None], GroupCredit] = field(default_factory=dict)
    # The same credit as the rule-based models give it (cents, exact customers, assists).
    attributed: Attributed = field(default_factory=Attributed)

    @property
    def reason(self) -> str:
        if self.status == OK:
            return ""
        return (
            f"{self.conversions} conversion{'s' if self.conversions != 1 else ''} with a touch in "
            f"the period; the {Attribution(self.model).label} model needs at least "
            f"{self.minimum} to tell the channels apart."
        )


def minimum_conversions() -> int:
    return int(getattr(settings, "DATA_DRIVEN_MIN_CONVERSIONS", 50))


def _ordered_path(source: str, partition: str, order: str) -> str:
    """Each partition's channel ids joined by ">" in `order`, on its first row (pos = 1)."""
    concat = "string_agg" if connection.vendor == "postgresql" else "group_concat"
    window = f"PARTITION BY {partition} ORDER BY {order}"
    return f"""
        SELECT x.*, ROW_NUMBER() OVER ({window}) AS pos,
               {concat}(CAST(channel_id AS TEXT), '>') OVER ({window}
                   ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS path
        FROM ({source}) x"""


def converting_sql() -> str:
    """Rows ('p', path, is_first, purchases, cents) per distinct path of the period's
    purchases (path NULL: no touch), and ('c', channel_id, campaign_id, touches, 0) per
    (channel, campaign) of the conversions' touches: one read of the touches for both."""
    day, _ = connection.ops.datetime_cast_date_sql("pu.occurred_at", (), "TZ")
    day = day.replace("%s", "%(tz)s", 1).replace("%s", "'UTC'", 1)
    purchases = purchases_cte(day)
    if connection.vendor == "postgresql":
        purchases = purchases.replace("p AS (", "p AS MATERIALIZED (")
        ctes = f"{purchases}, t AS MATERIALIZED ({POSTGRES_TOUCHES})"
    else:
        from reports.attribution import FIRST_TOUCHES

        ctes = f"{purchases}, {FIRST_TOUCHES}, t AS MATERIALIZED ({GENERIC_TOUCHES})"
    pathed = _ordered_path("SELECT * FROM t", "pid", "t_at, is_coupon, tid")
    return f"""
        WITH {ctes}
        SELECT 'p', path, is_first, COUNT(*), SUM(cents) FROM ({pathed}) y WHERE pos = 1
        GROUP BY path, is_first
        UNION ALL
        SELECT 'c', CAST(channel_id AS TEXT), campaign_id, COUNT(*), 0 FROM t
        WHERE is_first = 1 AND tid IS NOT NULL GROUP BY channel_id, campaign_id
    """


def waiting_sql() -> str:
    """Rows (path, contacts) of the non-converting journeys."""
    source = """
        SELECT t.contact_id, t.id AS tid, t.occurred_at AS t_at, t.channel_id,
               CASE WHEN t.kind = 'coupon' THEN 1 ELSE 0 END AS is_coupon,
               MAX(t.occurred_at) OVER (PARTITION BY t.contact_id) AS latest
        FROM leads_touchpoint t JOIN leads_contact c ON c.id = t.contact_id
        WHERE t.occurred_at >= %(since)s AND t.occurred_at < %(hi)s
          AND (c.became_customer_at IS NULL OR c.became_customer_at >= %(hi)s)"""
    pathed = _ordered_path(source, "contact_id", "t_at, is_coupon, tid")
    return f"""
        SELECT path, COUNT(*) FROM ({pathed}) y WHERE pos = 1 AND latest >= %(lo)s
        GROUP BY path
    """


def journeys(
    *, start: dt.date, end: dt.date, lookback_days: int
) -> tuple[list[pathmodels.Journey], dict, dict]:
    """The period's journeys, the purchases' figures ({"cents", "firsts", "bare_cents",
    "bare_firsts"}: with a touch and without) and the conversions' touches per (channel,
    campaign)."""
    lo, hi = period_bounds(start, end)
    found: dict[tuple[tuple[int, ...], bool], int] = defaultdict(int)
    money = {"cents": 0, "firsts": 0, "bare_cents": 0, "bare_firsts": 0}
    touches: dict[tuple[int, int | None], int] = defaultdict(int)
    for kind, a, b, count, cents in run(
        converting_sql(), lo=lo, hi=hi, lookback_days=lookback_days
    ):
        if kind == "c":
            touches[int(a), b] += int(count)
            continue
        firsts = int(count) if int(b) == 1 else 0
        if not a:
            money["bare_cents"] += int(cents or 0)
            money["bare_firsts"] += firsts
            continue
        money["cents"] += int(cents or 0)
        money["firsts"] += firsts
        if firsts:
            found[_channels(a), True] += firsts
    since = lo - dt.timedelta(days=lookback_days)
    with connection.cursor() as cursor:
        cursor.execute(
            waiting_sql(),
            {
                "since": connection.ops.adapt_datetimefield_value(since),
                "lo": connection.ops.adapt_datetimefield_value(lo),
                "hi": connection.ops.adapt_datetimefield_value(hi),
            },
        )
        for path, count in cursor.fetchall():
            if path:
                found[_channels(path), False] += int(count)
    out = [
        pathmodels.Journey(channels=channels, converted=converted, count=count)
        for (channels, converted), count in sorted(found.items())
    ]
    return out, money, dict(touches)


def _channels(path: str) -> tuple[int, ...]:
    return tuple(int(x) for x in path.split(">"))


def data_driven(*, model: str, start: dt.date, end: dt.date, lookback_days: int = 90) -> DataDriven:
    """The model's credit of the period's revenue and customers per channel and campaign, with
    95% intervals, or `insufficient_data` (see the module's docstring)."""
    if model not in pathmodels.MODELS:
        raise ValueError(f"{model} is not a data-driven model")
    paths, money, touches = journeys(start=start, end=end, lookback_days=lookback_days)
    conversions = sum(j.count for j in paths if j.converted)
    minimum = minimum_conversions()
    # Assists, discounts and the totals do not depend on the model: the last-touch credit's.
    base = attribute(
        model=Attribution.LAST_TOUCH, start=start, end=end, lookback_days=lookback_days
    )
    out = DataDriven(model=model, status=OK, conversions=conversions, minimum=minimum)
    credited = Attributed(
        any_assist_campaign=base.any_assist_campaign,
        any_assist_channel=base.any_assist_channel,
        cents=base.cents,
        first_purchases=base.first_purchases,
        discount_cents=base.discount_cents,
    )
    for key, credit in base.by_campaign.items():
        credited.by_campaign[key] = Credit(
            assists=credit.assists, assisted_cents=credit.assisted_cents
        )
    for key, credit in base.by_channel.items():
        credited.by_channel[key] = Credit(
            assists=credit.assists, assisted_cents=credit.assisted_cents
        )
    bare = Credit(cents=money["bare_cents"], customers=Fraction(money["bare_firsts"]))
    unattributed = credited.by_channel.setdefault(None, Credit())
    unattributed.cents, unattributed.customers = bare.cents, bare.customers
    unattributed = credited.by_campaign.setdefault((None, None), Credit())
    unattributed.cents, unattributed.customers = bare.cents, bare.customers
    out.attributed = credited
    # Without a single conversion there is no share to credit the revenue by, whatever the
    # setting says.
    if conversions < max(minimum, 1):
        out.status = INSUFFICIENT
        return out
    # Exact fractions summing to exactly 1: the cents and customers then add up to the totals.
    # Each float share is read as the nearest fraction of denominator up to 10^9: a share that
    # is a simple fraction (5/12) is exactly that, not the double a hair below it, whose cents
    # would floor a whole cent short.
    exact = {
        cid: Fraction(share).limit_denominator(10**9)
        for cid, share in pathmodels.shares(model, paths).items()
    }
    whole = sum(exact.values())
    shares = {cid: share / whole for cid, share in exact.items()}
    bounds = pathmodels.intervals(model, paths, draws=DRAWS, seed=SEED, level=LEVEL)
    channel_cents = split(money["cents"], shares)
    # Within a channel: its campaigns by their touches in the converting journeys.
    per_channel: dict[int, dict[int | None, int]] = defaultdict(dict)
    for (channel_id, campaign_id), count in touches.items():
        per_channel[channel_id][campaign_id] = count
    for channel_id, share in shares.items():
        cents = channel_cents.get(channel_id, 0)
        low, high = bounds.get(channel_id, (share, share))
        out.by_channel[channel_id] = GroupCredit(
            cents, math.floor(money["cents"] * low), math.ceil(money["cents"] * high)
        )
        group = credited.by_channel.setdefault(channel_id, Credit())
        group.cents = cents
        group.customers = Fraction(share) * money["firsts"]
        campaigns = per_channel.get(channel_id) or {None: 1}
        total = sum(campaigns.values())
        portions = {cid: Fraction(n, total) for cid, n in campaigns.items()}
        for campaign_id, cmp_cents in split(cents, portions).items():
            portion = portions[campaign_id]
            out.by_campaign[channel_id, campaign_id] = GroupCredit(
                cmp_cents,
                math.floor(money["cents"] * low * portion),
                math.ceil(money["cents"] * high * portion),
            )
            row = credited.by_campaign.setdefault((channel_id, campaign_id), Credit())
            row.cents = cmp_cents
            row.customers = group.customers * portion
    return out


def split(cents: int, weights: dict) -> dict:
    """`cents` split by the weights (summing to 1): each share floored, the remainder cents to
    the largest exact share, the lowest key on a tie (None first)."""
    if not weights:
        return {}
    exact = {key: Fraction(weight) * cents for key, weight in weights.items()}
    out = {key: math.floor(value) for key, value in exact.items()}
    order = sorted(exact, key=lambda k: (-exact[k], k is not None, k or 0))
    out[order[0]] += cents - sum(out.values())
    return out
