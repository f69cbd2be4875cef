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
from django.db import connection, transaction

from reports import pathmodels
from reports.attribution import (
    FIRST_TOUCHES,
    GENERIC_TOUCHES,
    POSTGRES_TOUCHES,
    Attributed,
    Credit,
    attribute,
    conversions_select,
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


ORDER = "t_at, is_coupon, tid"


def _paths(source: str, key: str, keep: str = "") -> str:
    """One row per `key` of `source` with its channel ids joined by ">" in the touches' order
    (`path`, NULL for no touch) and the columns `keep` (one value per key). PostgreSQL has the
    ordered aggregate; SQLite orders a window over the same rows and keeps each key's first."""
    if connection.vendor == "postgresql":
        kept = "".join(f", MIN({c}) AS {c}" for c in keep.split(", ") if c)
        return f"""
            SELECT {key}{kept},
                   string_agg(CAST(channel_id AS TEXT), '>' ORDER BY {ORDER}) AS path,
                   MAX(t_at) AS latest
            FROM ({source}) x GROUP BY {key}"""
    window = f"PARTITION BY {key} ORDER BY {ORDER}"
    whole = "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
    return f"""
        SELECT * FROM (
            SELECT x.*, ROW_NUMBER() OVER ({window}) AS pos,
                   group_concat(CAST(channel_id AS TEXT), '>') OVER ({window} {whole}) AS path,
                   MAX(t_at) OVER (PARTITION BY {key}) AS latest
            FROM ({source}) x
        ) y WHERE pos = 1"""


def converting_sql() -> str:
    """Rows ('p', path, conversions) per distinct path of the period's conversions (path NULL:
    no touch), and ('c', channel_id, campaign_id, touches) per (channel, campaign) of their
    touches: one read of the touches for both. Only first purchases: the revenue with and
    without a touch comes from the last-touch credit, which every purchase has already."""
    firsts = conversions_select()
    if connection.vendor == "postgresql":
        ctes = f"p AS MATERIALIZED ({firsts}), t AS MATERIALIZED ({POSTGRES_TOUCHES})"
    else:
        ctes = f"p AS ({firsts}), {FIRST_TOUCHES}, t AS MATERIALIZED ({GENERIC_TOUCHES})"
    pathed = _paths("SELECT * FROM t", "pid")
    return f"""
        WITH {ctes}
        SELECT 'p', path, NULL, COUNT(*) FROM ({pathed}) y GROUP BY path
        UNION ALL
        SELECT 'c', CAST(channel_id AS TEXT), campaign_id, COUNT(*) FROM t
        WHERE tid IS NOT NULL GROUP BY channel_id, campaign_id
    """


def waiting_sql() -> str:
    """Rows (path, contacts) of the non-converting journeys."""
    source = """
        SELECT t.contact_id, t.id AS tid, t.occurred_at AS t_at, t.channel_id,
               CASE WHEN t.kind = 'coupon' THEN 1 ELSE 0 END AS is_coupon
        FROM leads_touchpoint t JOIN leads_contact c ON c.id = t.contact_id
        WHERE t.occurred_at >= %(since)s AND t.occurred_at < %(hi)s
          AND (c.became_customer_at IS NULL OR c.became_customer_at >= %(hi)s)"""
    return f"""
        SELECT path, COUNT(*) FROM ({_paths(source, "contact_id")}) y WHERE latest >= %(lo)s
        GROUP BY path
    """


def journeys(
    *, start: dt.date, end: dt.date, lookback_days: int
) -> tuple[list[pathmodels.Journey], dict]:
    """The period's journeys and the conversions' touches per (channel, campaign)."""
    lo, hi = period_bounds(start, end)
    found: dict[tuple[tuple[int, ...], bool], int] = defaultdict(int)
    touches: dict[tuple[int, int | None], int] = defaultdict(int)
    for kind, a, b, count in run(converting_sql(), lo=lo, hi=hi, lookback_days=lookback_days):
        if kind == "c":
            touches[int(a), b] += int(count)
        elif a:
            found[_channels(a), True] += int(count)
    since = lo - dt.timedelta(days=lookback_days)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # As for the attribution statement (`reports.attribution.run`): the sort of every
            # touch of the period in memory, and no JIT compilation, which costs more than it
            # saves here.
            cursor.execute("SET LOCAL work_mem = '128MB'")
            cursor.execute("SET LOCAL jit = off")
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
    return out, dict(touches)


def _channels(path: str) -> tuple[int, ...]:
    return tuple(int(x) for x in path.split(">"))


def data_driven(
    *, model: str, start: dt.date, end: dt.date, lookback_days: int = 90, intervals: bool = True
) -> DataDriven:
    """The model's credit of the period's revenue and customers per channel and campaign, with
    95% intervals (without `intervals`, a caller that shows none skips the bootstrap: the
    bounds are then the figure itself), or `insufficient_data` (see the module's docstring)."""
    if model not in pathmodels.MODELS:
        raise ValueError(f"{model} is not a data-driven model")
    paths, touches = journeys(start=start, end=end, lookback_days=lookback_days)
    conversions = sum(j.count for j in paths if j.converted)
    minimum = minimum_conversions()
    # Assists, discounts and the totals do not depend on the model: the last-touch credit's,
    # whose unattributed row is every purchase without a touch (from the day cache).
    base = attribute(
        model=Attribution.LAST_TOUCH, start=start, end=end, lookback_days=lookback_days
    )
    none = base.by_channel.get(None, Credit())
    money = {
        "cents": base.cents - none.cents,
        "firsts": base.first_purchases - int(none.customers),
        "bare_cents": none.cents,
        "bare_firsts": int(none.customers),
    }
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
    bounds = (
        pathmodels.intervals(model, paths, draws=DRAWS, seed=SEED, level=LEVEL) if intervals else {}
    )
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
