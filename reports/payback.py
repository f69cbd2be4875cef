"""Cohort payback: how fast each month's new contacts pay back what their source cost that month.

A cohort is the contacts whose `entered_at` falls in local month M (TIME_ZONE), grouped by
their source (`source_channel`, `source_campaign`: the first touch); contacts with no source
make the "unattributed" row, which has no cost.

- Day d of a contact is the local day `d` days after the local day it entered (day 0 = the
  entry's own day), so "day H is past" is a plain date comparison.
- Revenue at H: the net revenue (amount less all its refunds, as `reports.attribution` nets
  them) of the cohort's purchases made on days 0..H of their own contact. Purchases dated
  before their contact's entry day are not the cohort's revenue.
- Cost: the group's costs incurred in month M (a campaign's own costs; a channel's: the costs
  of its campaigns). Contacts of a channel without a campaign carry no cost in the campaign
  table ("Facebook (no campaign)").
- Payback ratio at H: revenue at H / cost (none without cost). Payback day: the first day d
  (0..180) whose cumulative revenue reaches the cost; none without cost or when not reached.
- Horizon H of cohort M is closed once the last possible entrant's day H is past: the month's
  last day + H days < today. An open horizon's figure is "so far".

A closed month (every horizon closed) keeps its entrants and revenue per source and day in
`CohortMonth`, served while no day of its window (its first day to its last day + 180, a day
either side) was stamped changed (`DayChange`, written by `reports.changes` as late data
commits) at or after it was computed: a late purchase or refund declares the purchase's day,
inside its contact's cohort window whenever it counts; a cost its day; a contact's entry or
source change its entry day. Open months are computed on every read. Costs are read live: one
grouped query over the months' costs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

from django.db.models import (
    DateField,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from campaigns.models import Campaign, Channel, Cost
from campaigns.numbers import fixed, quotient
from leads.models import Purchase, Refund
from reports.counts import count_spans
from reports.csvexport import write_rows
from reports.daycache import is_bypassed
from reports.metrics import UNATTRIBUTED, no_campaign_label
from reports.models import CohortMonth, DayChange, GroupBy
from reports.periods import shift_months

HORIZONS = (30, 60, 90, 180)
LAST_DAY = HORIZONS[-1]
DEFAULT_MONTHS = 12
MAX_MONTHS = 36
ZERO = Decimal("0.00")
PALETTE_SIZE = 8  # the colours of reports.js
MONEY = DecimalField(max_digits=14, decimal_places=2)

# Rows of a month: [channel id | None, campaign id | None, entrants, [[day, cents], ...]].
Rows = list[list]


def month_end(month: dt.date) -> dt.date:
    return shift_months(month, 1) - dt.timedelta(days=1)


def horizon_closed(month: dt.date, horizon: int, *, today: dt.date) -> bool:
    """Day `horizon` of the month's last possible entrant (its last day) is past."""
    return month_end(month) + dt.timedelta(days=horizon) < today


def window(month: dt.date) -> tuple[dt.date, dt.date]:
    """The local days whose data make a cohort month's figures: entries and purchases."""
    return month, month_end(month) + dt.timedelta(days=LAST_DAY)


def stamped_window(month: dt.date) -> tuple[dt.date, dt.date]:
    """The days whose `DayChange` stamps void a kept month: its window and a day either side
    (a writer under another TIME_ZONE stamps its own local days, at most a day off)."""
    first, last = window(month)
    return first - dt.timedelta(days=1), last + dt.timedelta(days=1)


def cohort_months(*, months: int, today: dt.date) -> list[dt.date]:
    """The first days of the last `months` months, the current one included, oldest first."""
    current = today.replace(day=1)
    return [shift_months(current, -n) for n in range(months - 1, -1, -1)]


# --- the figures per month and source ---------------------------------------------------------


def _month_runs(months: list[dt.date], prefix: str = "") -> Q:
    """Contacts that entered in one of the months (local), as ranges of consecutive months."""
    zone = timezone.get_current_timezone()
    out = Q(pk__in=[])
    runs: list[list[dt.date]] = []
    for month in sorted(months):
        if runs and shift_months(runs[-1][1], 1) == month:
            runs[-1][1] = month
        else:
            runs.append([month, month])
    for first, last in runs:
        lo = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
        hi = dt.datetime.combine(shift_months(last, 1), dt.time.min, tzinfo=zone)
        out |= Q(**{f"{prefix}entered_at__gte": lo, f"{prefix}entered_at__lt": hi})
    return out


def compute_cohorts(months: list[dt.date]) -> dict[dt.date, Rows]:
    """{month: rows}: entrants per month and source (`reports.counts.count_spans`), and net
    revenue per month, source and day since entry (days 0..180) from one grouped query."""
    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    out: dict[dt.date, dict[tuple, list]] = {month: {} for month in months}
    # The entrants are the contact counts' followers (the dashboard's, from their day cache and
    # month roll-ups): counting a year of contacts again on every read would cost seconds.
    spans = [(month, min(month_end(month), today)) for month in months]
    for month, counts in zip(months, count_spans(spans), strict=True):
        for key, figures in counts.items():
            if figures["followers"]:
                out[month][key] = [*key, figures["followers"], {}]
    refunded = (
        Refund.objects.filter(purchase=OuterRef("pk"))
        .order_by()
        .values("purchase")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    by_contact = _month_runs(months, "contact__")
    day = ExpressionWrapper(
        TruncDate("occurred_at", tzinfo=zone) - TruncDate("contact__entered_at", tzinfo=zone),
        output_field=DurationField(),
    )
    revenue = (
        Purchase.objects.filter(by_contact)
        .annotate(
            month=TruncMonth("contact__entered_at", tzinfo=zone, output_field=DateField()),
            day=day,
        )
        .filter(day__gte=dt.timedelta(0), day__lte=dt.timedelta(days=LAST_DAY))
        .values("month", "contact__source_channel_id", "contact__source_campaign_id", "day")
        .annotate(
            net=Sum(
                F("amount") - Coalesce(Subquery(refunded, output_field=MONEY), Value(ZERO)),
                output_field=MONEY,
            )
        )
        .order_by()
    )
    for row in revenue:
        key = (row["contact__source_channel_id"], row["contact__source_campaign_id"])
        group = out[row["month"]].setdefault(key, [*key, 0, {}])
        days = row["day"].days
        group[3][days] = group[3].get(days, 0) + int(row["net"] * 100)
    return {
        month: [
            [channel, campaign, n, sorted([d, c] for d, c in days.items())]
            for (channel, campaign, n, days) in sorted(groups.values(), key=_source_order)
        ]
        for month, groups in out.items()
    }


def _source_order(row: list) -> tuple:
    return (row[0] is None, row[0] or 0, row[1] is None, row[1] or 0)


def month_rows(months: list[dt.date], *, today: dt.date) -> dict[dt.date, Rows]:
    """{month: rows} of the months: closed months from `CohortMonth` while no day of their
    window changed after they were computed, the rest computed (closed ones then stored)."""
    zone = timezone.get_current_timezone_name()
    closed = [m for m in months if horizon_closed(m, LAST_DAY, today=today)]
    found: dict[dt.date, Rows] = {}
    if closed and not is_bypassed():
        stored = {c.month: c for c in CohortMonth.objects.filter(time_zone=zone, month__in=closed)}
        if stored:
            # One query: any day stamp newer than the cached month it falls in the window of.
            stale = Q(pk__in=[])
            for c in stored.values():
                first, last = stamped_window(c.month)
                stale |= Q(day__gte=first, day__lte=last, changed_at__gte=c.computed_at)
            changed = list(DayChange.objects.filter(stale).values_list("day", "changed_at"))
            for c in stored.values():
                first, last = stamped_window(c.month)
                if not any(first <= d <= last and at >= c.computed_at for d, at in changed):
                    found[c.month] = c.rows
    missing = [m for m in months if m not in found]
    if missing:
        computed_at = timezone.now()  # before reading: a write committing meanwhile voids it
        computed = compute_cohorts(missing)
        found.update(computed)
        keep = [m for m in missing if m in closed]
        if keep and not is_bypassed():
            CohortMonth.objects.bulk_create(
                [
                    CohortMonth(time_zone=zone, month=m, rows=computed[m], computed_at=computed_at)
                    for m in keep
                ],
                update_conflicts=True,
                unique_fields=["time_zone", "month"],
                update_fields=["rows", "computed_at"],
            )
    return found


def month_costs(months: list[dt.date]) -> dict[dt.date, dict[int, tuple[int, Decimal]]]:
    """{month: {campaign id: (channel id, cost)}}: the costs incurred in each month, one query."""
    out: dict[dt.date, dict[int, tuple[int, Decimal]]] = {m: {} for m in months}
    if not months:
        return out
    within = Q(pk__in=[])
    for month in months:
        within |= Q(incurred_on__gte=month, incurred_on__lte=month_end(month))
    rows = (
        Cost.objects.filter(within)
        .annotate(month=TruncMonth("incurred_on", output_field=DateField()))
        .values("month", "campaign_id", "campaign__channel_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in rows:
        out[row["month"]][row["campaign_id"]] = (row["campaign__channel_id"], row["total"])
    return out


# --- the report -------------------------------------------------------------------------------


@dataclass
class _Group:
    key: str
    channel_id: int | None
    campaign_id: int | None
    entrants: int = 0
    cost: Decimal = ZERO
    cents: dict[int, int] | None = None

    def add(self, entrants: int, days: Iterable[list[int]]) -> None:
        self.entrants += entrants
        if self.cents is None:
            self.cents = {}
        for day, cents in days:
            self.cents[day] = self.cents.get(day, 0) + cents


def _key(group_by: str, channel_id: int | None, campaign_id: int | None, slugs: dict) -> str:
    if channel_id is None:
        return UNATTRIBUTED
    if group_by == GroupBy.CHANNEL:
        return slugs[channel_id]
    if campaign_id is None:
        return f"none:{slugs[channel_id]}"
    return str(campaign_id)


def _group(
    groups: dict[str, _Group],
    group_by: str,
    channel_id: int | None,
    campaign_id: int | None,
    slugs: dict[int, str],
) -> _Group:
    key = _key(group_by, channel_id, campaign_id, slugs)
    if key not in groups:
        groups[key] = _Group(key, channel_id, campaign_id)
    return groups[key]


def cumulative(cents: dict[int, int]) -> list[int]:
    """Cumulative cents at the end of each day 0..180."""
    out, total = [], 0
    for day in range(LAST_DAY + 1):
        total += cents.get(day, 0)
        out.append(total)
    return out


def payback_report(
    *,
    months: int = DEFAULT_MONTHS,
    group_by: str = GroupBy.CHANNEL,
    today: dt.date | None = None,
) -> dict:
    """The payback figures of the last `months` cohort months (the current month included):
    one row per cohort month and group (channel or campaign, plus "unattributed"), newest month
    first, with entrants, cost, revenue and payback ratio at each horizon (whether closed),
    the payback day and its status, and each row's cumulative cents per day ("curve", days
    0..180, up to the last day its first entrants have reached)."""
    today = today or timezone.localdate()
    wanted = cohort_months(months=months, today=today)
    rows_by_month = month_rows(wanted, today=today)
    costs = month_costs(wanted)
    channels = {c.pk: c for c in Channel.objects.only("slug", "name")}
    slugs = {pk: c.slug for pk, c in channels.items()}
    campaigns: dict[int, Campaign] = {}
    if group_by == GroupBy.CAMPAIGN:
        ids = {r[1] for rows in rows_by_month.values() for r in rows if r[1] is not None}
        ids |= {pk for month in costs.values() for pk in month}
        campaigns = {c.pk: c for c in Campaign.objects.filter(pk__in=ids).only("name", "channel")}
    out = []
    for month in reversed(wanted):
        groups: dict[str, _Group] = {}
        for channel_id, campaign_id, entrants, days in rows_by_month[month]:
            _group(groups, group_by, channel_id, campaign_id, slugs).add(entrants, days)
        for campaign_id, (channel_id, cost) in costs[month].items():
            _group(groups, group_by, channel_id, campaign_id, slugs).cost += cost
        described = [
            _row(g, month=month, today=today, channels=channels, campaigns=campaigns)
            for g in groups.values()
        ]
        described.sort(key=lambda r: (r["key"] == UNATTRIBUTED, r["label"].lower(), r["key"]))
        out.extend(described)
    return {
        "months": months,
        "group_by": group_by,
        "as_of": today,
        "horizons": list(HORIZONS),
        "rows": out,
    }


def _row(
    g: _Group,
    *,
    month: dt.date,
    today: dt.date,
    channels: dict[int, Channel],
    campaigns: dict[int, Campaign],
) -> dict:
    if g.key == UNATTRIBUTED:
        label, channel = "Unattributed", None
    elif g.key.startswith("none:"):
        label = no_campaign_label(channels[g.channel_id].name)
        channel = channels[g.channel_id].slug
    elif g.campaign_id is not None and g.key == str(g.campaign_id):
        label, channel = campaigns[g.campaign_id].name, channels[g.channel_id].slug
    else:
        label, channel = channels[g.channel_id].name, channels[g.channel_id].slug
    curve = cumulative(g.cents or {})
    cost_cents = int(g.cost * 100)
    reached = (today - month).days - 1  # the last day the month's first entrants have lived
    row = {
        "month": month,
        "key": g.key,
        "label": label,
        "channel": channel,
        "entrants": g.entrants,
        "cost": fixed(g.cost, 2),
    }
    for h in HORIZONS:
        revenue = Decimal(curve[h]).scaleb(-2)
        row[f"revenue_{h}"] = fixed(revenue, 2)
        share = quotient(curve[h], cost_cents)
        row[f"ratio_{h}"] = None if share is None else fixed(share, 4)
        row[f"closed_{h}"] = horizon_closed(month, h, today=today)
    payback = None
    if cost_cents > 0:
        payback = next((d for d, cents in enumerate(curve) if cents >= cost_cents), None)
    if cost_cents == 0:
        status = "no_cost"
    elif payback is not None:
        status = "paid_back"
    elif row[f"closed_{LAST_DAY}"]:
        status = "not_within_180_days"
    else:
        status = "not_yet"
    row["payback_day"] = payback
    row["payback_status"] = status
    row["curve"] = [Decimal(c).scaleb(-2) for c in curve[: max(0, min(reached, LAST_DAY)) + 1]]
    if reached < 0:
        row["curve"] = []
    return row


# --- the page's chart and the CSV -------------------------------------------------------------


def costliest_channel(report: dict) -> str | None:
    """The slug of the channel that cost the most over the report's months (the page's
    default curves); none when nothing cost anything."""
    totals: dict[str, Decimal] = {}
    for row in report["rows"]:
        if row["channel"]:
            totals[row["channel"]] = totals.get(row["channel"], ZERO) + row["cost"]
    spent = [(cost, slug) for slug, cost in totals.items() if cost > 0]
    return min(spent, key=lambda item: (-item[0], item[1]))[1] if spent else None


def curves(report: dict, *, channel: str) -> dict | None:
    """The chart of one channel: cumulative revenue / cost per day since entry, one line per
    cohort month with a cost (a campaign report's rows of the channel added up: its campaigns
    and its contacts without one). None when no month of the channel had a cost."""
    from reports.dashboard import _chart
    from reports.templatetags.report_format import fmt

    months: dict[dt.date, list] = {}
    for r in report["rows"]:
        if r["channel"] != channel:
            continue
        sums = months.setdefault(r["month"], [r["label"], ZERO, [], r[f"closed_{LAST_DAY}"]])
        sums[1] += r["cost"]
        if len(sums[2]) < len(r["curve"]):
            sums[2] += [ZERO] * (len(r["curve"]) - len(sums[2]))
        for i, value in enumerate(r["curve"]):
            sums[2][i] += value
    shown = sorted((m, s) for m, s in months.items() if s[1] > 0 and s[2])
    if not shown:
        return None
    name = next(c.name for c in Channel.objects.filter(slug=channel).only("name"))
    length = max(len(s[2]) for _, s in shown)
    datasets = []
    for month, (_, cost, curve, closed) in shown:
        label = month.strftime("%b %Y") + ("" if closed else " (so far)")
        values = [fixed(quotient(v, cost), 4) for v in curve]
        datasets.append((label, [*values, *([None] * (length - len(values)))]))
    chart = _chart(
        "chart-payback",
        f"{name}: cumulative revenue / cost by day since entry",
        "line",
        [str(d) for d in range(length)],
        datasets,
        "Day",
        {"y": {"ticks": {"format": {"style": "percent"}}}},
        lambda value: fmt(value, "percent"),
    )
    for i, dataset in enumerate(chart["spec"]["datasets"]):
        # 181 days a line: no dot per day; past the palette's 8 colours, dashed lines.
        dataset["pointRadius"] = 0
        if i >= PALETTE_SIZE:
            dataset["borderDash"] = [6, 4]
    return chart


CSV_HEADER = [
    "month",
    "key",
    "label",
    "channel",
    "entrants",
    "cost",
    *(f"{figure}_{h}" for h in HORIZONS for figure in ("revenue", "ratio", "closed")),
    "payback_day",
    "payback_status",
]


def write_payback(out: IO[str], report: dict) -> None:
    """The table as CSV: one line per cohort month and group, the API's values."""
    write_rows(
        out,
        CSV_HEADER,
        (
            [row["month"].strftime("%Y-%m"), *(row[k] for k in CSV_HEADER[1:])]
            for row in report["rows"]
        ),
    )
