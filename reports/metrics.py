"""The ROI and funnel figures of SPEC §3, per channel or campaign, for a period.

One query per figure family (credited revenue and customers, assisted conversions, costs,
contacts reached per stage, engagement, discounts, period totals), all grouped in the database;
Python only assembles the handful of group rows. Money is exact: cents as integers in SQL,
`Decimal` here.

Figures (per group; a group is a channel, or a campaign, where a touch without a campaign falls
in its channel's "(no campaign)" group, labelled "Facebook (no campaign)"):
- cost: the group's costs with `incurred_on` in the period.
- revenue: revenue of the period's purchases credited to the group by the attribution model,
  net of refunds: each purchase's amount less its refunds (whenever they were made) is split
  into the model's shares on the purchase's day, with the same cent rounding. A fully refunded
  purchase credits nothing, yet it is still a purchase: it makes a customer when it is the
  contact's first, and it is still an assisted conversion (whose assisted revenue is 0).
- roi = (revenue - cost) / cost; roas = revenue / cost; null when cost is 0.
- followers, leads, qualified: contacts whose entered_at / became_lead_at / became_qualified_at
  fall in the period, counted to their source group.
- customers: contacts whose first purchase ever falls in the period, credited by the model's
  weights for that purchase as exact fractions (never from the rounded cents; time decay's
  irrational weights in double precision), shown to two decimals.
- cost_per_lead = cost / leads; cost_per_customer (CAC) = cost / customers, from the exact
  customers; null only where the denominator is exactly zero.
- assisted_conversions / assisted_revenue: the period's purchases where the group had a touch
  but not the last one, and their amount net of refunds.
- impressions, interactions (reactions + comments + shares + clicks), engagement_rate
  (interactions / impressions), followers_gained: EngagementStat rows in the period.
- discounts: what the group's coupons gave away on the period's purchases (beside cost, not in
  it: revenue is already net of discounts); a discount given without a coupon counts in the
  unattributed row, so the rows add up to the totals.
- target_leads, target_cost_per_lead: the campaign's targets (campaign rows only).
- self_reported (the dashboard's channel table and its CSV, `with_self_reported`): contacts
  that entered in the period and say they heard about us through the channel.
The totals row is the same in every model: all costs, all revenue (net of refunds), every new
customer. ROI and ROAS follow from the net revenue.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from campaigns.errors import InvalidInput
from campaigns.models import Campaign, Channel, Cost, EngagementStat
from campaigns.numbers import MONEY_PLACES, decimal, fixed, money, per, ratio
from leads.models import Contact, Purchase
from reports import attribution as attribution_sql
from reports import datadriven
from reports.counts import MICROS_PER_DAY, cohort_durations, contact_counts, median
from reports.models import DATA_DRIVEN, Attribution, GroupBy
from reports.periods import period_bounds

UNATTRIBUTED = "unattributed"
MAX_LOOKBACK_DAYS = 730
MAX_PERIOD_DAYS = 3 * 366


def validate(
    *, start: dt.date, end: dt.date, group_by: str, attribution: str, lookback_days: int
) -> None:
    if end < start:
        raise InvalidInput("The period must end on or after its start.", field="end")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInput("A period covers at most three years.", field="end")
    if group_by not in GroupBy.values:
        raise InvalidInput(f"Group by one of: {', '.join(GroupBy.values)}.", field="group_by")
    if attribution not in Attribution.values:
        raise InvalidInput(
            f"Attribution is one of: {', '.join(Attribution.values)}.", field="attribution"
        )
    if not 1 <= lookback_days <= MAX_LOOKBACK_DAYS:
        raise InvalidInput(f"The lookback is 1 to {MAX_LOOKBACK_DAYS} days.", field="lookback_days")


def no_campaign_label(channel_name: str) -> str:
    """The label of a channel's touches and contacts without a campaign: "Facebook (no
    campaign)", so the campaign table's rows of several channels can be told apart."""
    return f"{channel_name} (no campaign)"


class Groups:
    """Keys, labels and channels of the groups, from the two small catalogue tables."""

    def __init__(
        self,
        group_by: str,
        channels: dict[int, Channel] | None = None,
        campaigns: dict[int, Campaign] | None = None,
    ) -> None:
        self.group_by = group_by
        self.channels = (
            channels if channels is not None else {c.pk: c for c in Channel.objects.all()}
        )
        if campaigns is None and group_by == GroupBy.CAMPAIGN:
            campaigns = {c.pk: c for c in Campaign.objects.all()}
        self.campaigns = campaigns or {}

    def key(self, channel_id: int | None, campaign_id: int | None = None) -> str:
        if channel_id is None or channel_id == -1:
            return UNATTRIBUTED
        if self.group_by == GroupBy.CHANNEL:
            return self.channels[channel_id].slug
        if campaign_id is None:
            return f"none:{self.channels[channel_id].slug}"
        return str(campaign_id)

    def describe(self, key: str) -> dict:
        if key == UNATTRIBUTED:
            return {"key": key, "label": "Unattributed", "channel": None}
        if self.group_by == GroupBy.CHANNEL:
            channel = next(c for c in self.channels.values() if c.slug == key)
            return {"key": key, "label": channel.name, "channel": channel.slug}
        if key.startswith("none:"):
            # Named with its channel: a campaign table holds one such row per channel.
            channel = next(c for c in self.channels.values() if c.slug == key[5:])
            return {"key": key, "label": no_campaign_label(channel.name), "channel": channel.slug}
        campaign = self.campaigns[int(key)]
        return {
            "key": key,
            "label": campaign.name,
            "channel": self.channels[campaign.channel_id].slug,
        }


def _keyed(groups: Groups, rows, channel_field: str, campaign_field: str) -> dict[str, dict]:
    """Rows of a grouped ORM query, summed per group key (campaigns of a channel fold together
    when grouping by channel)."""
    out: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        key = groups.key(row[channel_field], row.get(campaign_field))
        for name, value in row.items():
            if name not in (channel_field, campaign_field) and value is not None:
                out[key][name] += value
    return out


def roi_report(
    *,
    start: dt.date,
    end: dt.date,
    group_by: str = GroupBy.CHANNEL,
    attribution: str = Attribution.LAST_TOUCH,
    lookback_days: int = 90,
) -> dict:
    """Every ROI figure of the period per group, an unattributed row, and the totals."""
    return roi_reports(
        start=start,
        end=end,
        group_bys=[group_by],
        attribution=attribution,
        lookback_days=lookback_days,
    )[group_by]


def roi_reports(
    *,
    start: dt.date,
    end: dt.date,
    group_bys: Sequence[str] = (GroupBy.CHANNEL, GroupBy.CAMPAIGN),
    attribution: str = Attribution.LAST_TOUCH,
    lookback_days: int = 90,
) -> dict[str, dict]:
    """`roi_report` for several groupings at once: {group_by: report}."""
    return roi_matrix(
        start=start,
        end=end,
        group_bys=group_bys,
        attributions=[attribution],
        lookback_days=lookback_days,
    )[attribution]


def roi_matrix(
    *,
    start: dt.date,
    end: dt.date,
    group_bys: Sequence[str],
    attributions: Sequence[str],
    lookback_days: int = 90,
    exact: bool = False,
) -> dict[str, dict[str, dict]]:
    """`roi_report` for several models and groupings of one period: {model: {group_by: report}}.

    The figure families that do not depend on the model are read once per (channel, campaign)
    and folded into channels in Python; each model costs one attribution statement. With
    `exact`, every row and the totals also carry `exact_customers`, the credited customers as
    a `Fraction` (for figures derived from them, such as a change between two models; never in
    the API or a CSV)."""
    for group_by in group_bys:
        for model in attributions:
            validate(
                start=start,
                end=end,
                group_by=group_by,
                attribution=model,
                lookback_days=lookback_days,
            )
    lo, hi = period_bounds(start, end)
    channels = {c.pk: c for c in Channel.objects.all()}
    campaigns = {c.pk: c for c in Campaign.objects.all()} if GroupBy.CAMPAIGN in group_bys else {}
    families = {
        "costs": (
            list(
                Cost.objects.filter(incurred_on__gte=start, incurred_on__lte=end)
                .values("campaign__channel_id", "campaign_id")
                .annotate(cost=Sum("amount"))
                .order_by()
            ),
            "campaign__channel_id",
            "campaign_id",
        ),
        "reached": (
            [
                {
                    "source_channel_id": channel_id,
                    "source_campaign_id": campaign_id,
                    "followers": figures["followers"],
                    "leads": figures["leads"],
                    "qualified": figures["qualified"],
                }
                for (channel_id, campaign_id), figures in contact_counts(start, end).items()
                if figures["followers"] or figures["leads"] or figures["qualified"]
            ],
            "source_channel_id",
            "source_campaign_id",
        ),
        "engagement": (
            list(
                EngagementStat.objects.filter(date__gte=start, date__lte=end)
                .values("campaign__channel_id", "campaign_id")
                .annotate(
                    impressions=Sum("impressions"),
                    reactions=Sum("reactions"),
                    comments=Sum("comments"),
                    shares=Sum("shares"),
                    clicks=Sum("clicks"),
                    followers_gained=Sum("followers_gained"),
                )
                .order_by()
            ),
            "campaign__channel_id",
            "campaign_id",
        ),
        "discounts": (
            list(
                # A discount given without a coupon has no campaign: it counts in the
                # unattributed row (channel None), so the rows add up to the totals.
                Purchase.objects.filter(occurred_at__gte=lo, occurred_at__lt=hi, discount__gt=0)
                .values("coupon__campaign__channel_id", "coupon__campaign_id")
                .annotate(discounts=Sum("discount"))
                .order_by()
            ),
            "coupon__campaign__channel_id",
            "coupon__campaign_id",
        ),
    }
    keyed = {}
    for group_by in group_bys:
        groups = Groups(group_by, channels, campaigns)
        keyed[group_by] = (groups, {n: _keyed(groups, *f) for n, f in families.items()})
    reports: dict[str, dict[str, dict]] = {}
    for model in attributions:
        learned = None
        if model in DATA_DRIVEN:
            learned = datadriven.data_driven(
                model=model, start=start, end=end, lookback_days=lookback_days
            )
            credit = learned.attributed
        else:
            credit = attribution_sql.attribute(
                model=model, start=start, end=end, lookback_days=lookback_days
            )
        reports[model] = {
            group_by: _assemble(
                groups,
                credit,
                figures,
                start=start,
                end=end,
                model=model,
                lookback_days=lookback_days,
                exact=exact,
                learned=learned,
            )
            for group_by, (groups, figures) in keyed.items()
        }
    return reports


def _assemble(
    groups: Groups,
    credit: attribution_sql.Attributed,
    keyed: dict[str, dict[str, dict]],
    *,
    start: dt.date,
    end: dt.date,
    model: str,
    lookback_days: int,
    exact: bool = False,
    learned: datadriven.DataDriven | None = None,
) -> dict:
    """One grouping's rows and totals, from the credit and the keyed figure families; under a
    data-driven model (`learned`), each group's revenue and ROI also carry their 95% interval,
    or no credited figure at all where the data are too few."""
    by_campaign = groups.group_by == GroupBy.CAMPAIGN
    credited: dict[str, attribution_sql.Credit] = {}
    source = credit.by_campaign if by_campaign else credit.by_channel
    for group, figures in source.items():
        key = groups.key(*group) if by_campaign else groups.key(group)
        # A fully refunded purchase with no touch credits no cents but may still make a
        # customer: the row is kept while it holds either.
        if key == UNATTRIBUTED and not (figures.cents or figures.customers):
            continue
        credited[key] = figures
    any_count, any_cents = credit.any_assist_campaign if by_campaign else credit.any_assist_channel
    costs, reached = keyed["costs"], keyed["reached"]
    engagement, discounts = keyed["engagement"], keyed["discounts"]
    nothing = attribution_sql.Credit()

    keys = set(credited) | set(costs) | set(reached) | set(engagement) | set(discounts)
    rows = []
    for key in keys:
        row = groups.describe(key)
        figures = credited.get(key, nothing)
        row.update(
            _figures(
                cost=Decimal(costs.get(key, {}).get("cost", 0)),
                revenue=Decimal(figures.cents) / 100,
                customers=figures.customers,
                reached=reached.get(key, {}),
                assisted={"conversions": figures.assists, "cents": figures.assisted_cents},
                engagement=engagement.get(key, {}),
                discounts=Decimal(discounts.get(key, {}).get("discounts", 0)),
            )
        )
        campaign = groups.campaigns.get(int(key)) if key.isdigit() else None
        row["target_leads"] = campaign.target_leads if campaign else None
        row["target_cost_per_lead"] = (
            money(campaign.target_cost_per_lead)
            if campaign and campaign.target_cost_per_lead is not None
            else None
        )
        if exact:
            row["exact_customers"] = Fraction(figures.customers)
        if learned is not None:
            _learned_figures(row, groups, learned, Decimal(costs.get(key, {}).get("cost", 0)))
        rows.append(row)
    rows.sort(key=_row_order)

    total_reached = {
        name: sum(r.get(name, 0) for r in reached.values())
        for name in ("followers", "leads", "qualified")
    }
    total_engagement = defaultdict(int)
    for figures in engagement.values():
        for name, value in figures.items():
            total_engagement[name] += value
    totals = _figures(
        cost=Decimal(sum((c.get("cost", 0) for c in costs.values()), Decimal(0))),
        revenue=Decimal(credit.cents) / 100,
        customers=Fraction(credit.first_purchases),
        reached=total_reached,
        assisted={"conversions": any_count, "cents": any_cents},
        engagement=total_engagement,
        discounts=Decimal(credit.discount_cents) / 100,
    )
    totals.update(target_leads=None, target_cost_per_lead=None)
    if exact:
        totals["exact_customers"] = Fraction(credit.first_purchases)
    report = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "group_by": groups.group_by,
        "attribution": model,
        "lookback_days": lookback_days,
        "currency": settings.DEFAULT_CURRENCY,
        "rows": rows,
        "totals": totals,
    }
    if learned is not None:
        # The totals do not depend on the model: their interval is the figure itself.
        totals.update(
            revenue_low=totals["revenue"],
            revenue_high=totals["revenue"],
            roi_low=totals["roi"],
            roi_high=totals["roi"],
        )
        report["data_driven"] = {
            "status": learned.status,
            "conversions": learned.conversions,
            "minimum_conversions": learned.minimum,
            "interval_level": datadriven.LEVEL,
            "reason": learned.reason,
        }
    return report


# The figures a data-driven model credits: null in every group's row when the data are too few.
LEARNED_FIGURES = ("revenue", "roi", "roas", "customers", "cost_per_customer")


def _learned_figures(
    row: dict, groups: Groups, learned: datadriven.DataDriven, cost: Decimal
) -> None:
    """A data-driven row's interval figures (`revenue_low`, `revenue_high`, `roi_low`,
    `roi_high`), or its credited figures made null under `insufficient_data`. The unattributed
    row is not the model's: purchases with no touch, whatever the model."""
    row.update(revenue_low=None, revenue_high=None, roi_low=None, roi_high=None)
    if row["key"] == UNATTRIBUTED:
        return
    if learned.status != datadriven.OK:
        row.update(dict.fromkeys(LEARNED_FIGURES))
        return
    bounds = [0, 0]
    for group, credit in (
        learned.by_campaign if groups.group_by == GroupBy.CAMPAIGN else learned.by_channel
    ).items():
        key = groups.key(*group) if groups.group_by == GroupBy.CAMPAIGN else groups.key(group)
        if key == row["key"]:
            bounds[0] += credit.lo_cents or 0
            bounds[1] += credit.hi_cents or 0
    low, high = Decimal(bounds[0]) / 100, Decimal(bounds[1]) / 100
    row.update(
        revenue_low=money(low),
        revenue_high=money(high),
        roi_low=ratio(low - cost, cost),
        roi_high=ratio(high - cost, cost),
    )


def _row_order(row: dict) -> tuple:
    """The rows' order: by revenue, then cost, then label; the unattributed row last."""
    return (
        row["key"] == UNATTRIBUTED,
        -Decimal(row["revenue"] or 0),
        -Decimal(row["cost"]),
        row["label"],
    )


def _figures(
    *,
    cost: Decimal,
    revenue: Decimal,
    customers: Fraction,
    reached: dict,
    assisted: dict,
    engagement: dict,
    discounts: Decimal,
) -> dict:
    leads = int(reached.get("leads", 0))
    impressions = int(engagement.get("impressions", 0))
    interactions = sum(
        int(engagement.get(name, 0)) for name in ("reactions", "comments", "shares", "clicks")
    )
    return {
        "cost": money(cost),
        "revenue": money(revenue),
        "roi": ratio(revenue - cost, cost),
        "roas": ratio(revenue, cost),
        "followers": int(reached.get("followers", 0)),
        "leads": leads,
        "qualified": int(reached.get("qualified", 0)),
        # Shown to two decimals; the cost per customer divides by the exact credit.
        "customers": decimal(customers),
        "cost_per_lead": per(cost, leads),
        "cost_per_customer": per(cost, customers),
        "assisted_conversions": int(assisted.get("conversions", 0)),
        "assisted_revenue": money(Decimal(assisted.get("cents", 0)) / 100),
        "impressions": impressions,
        "interactions": interactions,
        "engagement_rate": ratio(interactions, impressions),
        "followers_gained": int(engagement.get("followers_gained", 0)),
        "discounts": money(discounts),
    }


def self_reported_counts(start: dt.date, end: dt.date) -> dict[str, tuple[str, int]]:
    """Per channel slug, its name and the number of contacts that entered the funnel in the
    period (at any stage) and say they heard about us through that channel
    (`Contact.heard_channel`), whatever their tracked source: one grouped query, answered from
    the partial index `contact_heard_entered_idx` on PostgreSQL."""
    lo, hi = period_bounds(start, end)
    rows = (
        Contact.objects.filter(entered_at__gte=lo, entered_at__lt=hi, heard_channel__isnull=False)
        .values_list("heard_channel__slug", "heard_channel__name")
        # COUNT(*), not of a column: the partial (entered_at) INCLUDE (heard_channel) index
        # answers it without reading the rows.
        .annotate(n=Count("*"))
        .order_by()
    )
    return {slug: (name, n) for slug, name, n in rows}


def with_self_reported(report: dict) -> dict:
    """A channel report (`roi_report` by channel) with each row's `self_reported` count
    (`self_reported_counts`) beside its tracked figures, a row for a channel named only by
    what people said, and the total: the period's entrants who named a channel. The
    unattributed row has none (None): nobody says they heard about us through "unknown".
    Changes the report in place and returns it."""
    if report["group_by"] != GroupBy.CHANNEL:
        raise ValueError("Self-reported counts are per channel.")
    start, end = (dt.date.fromisoformat(report[k]) for k in ("start", "end"))
    counts = self_reported_counts(start, end)
    rows = {row["key"]: row for row in report["rows"]}
    for slug, (name, _) in counts.items():
        if slug not in rows:
            rows[slug] = {"key": slug, "label": name, "channel": slug, **_no_figures()}
            report["rows"].append(rows[slug])
    for key, row in rows.items():
        row["self_reported"] = None if key == UNATTRIBUTED else counts.get(key, ("", 0))[1]
    report["totals"]["self_reported"] = sum(n for _, n in counts.values())
    report["rows"].sort(key=_row_order)
    return report


def _no_figures() -> dict:
    """The figures of a group with nothing in the period."""
    zero = Decimal(0)
    figures = _figures(
        cost=zero,
        revenue=zero,
        customers=Fraction(0),
        reached={},
        assisted={},
        engagement={},
        discounts=zero,
    )
    return {**figures, "target_leads": None, "target_cost_per_lead": None}


def funnel_report(
    *,
    start: dt.date,
    end: dt.date,
    group_by: str = GroupBy.CHANNEL,
    attribution: str = Attribution.LAST_TOUCH,
    lookback_days: int = 90,
) -> dict:
    """Funnel counts and cohort figures per source group (the contact's first touch).

    followers, leads, qualified, customers: contacts whose entered_at, became_lead_at,
    became_qualified_at, became_customer_at fall in the period, counted to their source.
    Cohort: the contacts that entered in the period; the share of them that reached lead and
    customer by now, and the median days from entry to lead and to customer.
    """
    validate(
        start=start,
        end=end,
        group_by=group_by,
        attribution=attribution,
        lookback_days=lookback_days,
    )
    groups = Groups(group_by)
    counts = _keyed(
        groups,
        [
            {"source_channel_id": channel_id, "source_campaign_id": campaign_id, **figures}
            for (channel_id, campaign_id), figures in contact_counts(start, end).items()
            if any(figures[name] for name in ("followers", "leads", "qualified", "customers"))
        ],
        "source_channel_id",
        "source_campaign_id",
    )
    # Medians from each group's sorted lists of durations (the caches' months and days, in
    # microseconds): exact, the middle one or the mean of the two middle ones, per group and
    # over every entrant.
    durations = cohort_durations(start, end)
    pooled: dict[str, tuple[list[list[int]], list[list[int]]]] = {}
    for channel_id, campaign_id, to_lead, to_customer in durations:
        key = groups.key(channel_id, campaign_id if group_by == GroupBy.CAMPAIGN else None)
        lists = pooled.setdefault(key, ([], []))
        lists[0].extend(to_lead)
        lists[1].extend(to_customer)
    pooled["__total__"] = (
        [part for row in durations for part in row[2]],
        [part for row in durations for part in row[3]],
    )
    medians: dict[str, dict[str, Decimal | None]] = defaultdict(dict)
    for key, lists in pooled.items():
        for name, values in zip(
            ("median_days_to_lead", "median_days_to_customer"), lists, strict=True
        ):
            middle = median(values)
            if middle is not None:
                medians[key][name] = fixed(middle / MICROS_PER_DAY, MONEY_PLACES)

    def figures(values: dict, key: str) -> dict:
        size = int(values.get("followers", 0))
        return {
            "followers": size,
            "leads": int(values.get("leads", 0)),
            "qualified": int(values.get("qualified", 0)),
            "customers": int(values.get("customers", 0)),
            "cohort_size": size,
            "reached_lead_share": ratio(values.get("reached_lead", 0), size),
            "reached_customer_share": ratio(values.get("reached_customer", 0), size),
            "median_days_to_lead": _str(medians.get(key, {}).get("median_days_to_lead")),
            "median_days_to_customer": _str(medians.get(key, {}).get("median_days_to_customer")),
        }

    rows = [{**groups.describe(key), **figures(values, key)} for key, values in counts.items()]
    rows.sort(key=lambda r: (-r["followers"], r["label"]))
    total = defaultdict(int)
    for values in counts.values():
        for name, value in values.items():
            total[name] += value
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "group_by": group_by,
        "attribution": attribution,
        "as_of": timezone.now().isoformat(),
        "rows": rows,
        "totals": figures(total, "__total__"),
    }


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
