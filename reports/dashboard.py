"""What the marketers' pages show: the period picker's presets and the figures of each page.

Every figure comes from `reports.metrics` (the same functions as the API, so a CSV export equals
the API's answer) or from a grouped query here; nothing loops over purchases or touchpoints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, DecimalField, OuterRef, Q, Subquery, Sum
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Cost, EngagementStat
from campaigns.numbers import RATIO_PLACES, decimal, fixed, money, quotient, ratio
from leads.models import Purchase, Refund, Touchpoint
from reports.attribution import credit_spans
from reports.counts import contact_counts, count_spans
from reports.datadriven import data_driven
from reports.daycache import is_bypassed
from reports.metrics import (
    UNATTRIBUTED,
    funnel_report,
    roi_matrix,
    roi_report,
    roi_reports,
    with_self_reported,
)
from reports.models import DATA_DRIVEN, Attribution, DayChange, GroupBy
from reports.periods import period_bounds, period_name, quarter_start, shift_months
from reports.templatetags.report_format import fmt

T = TypeVar("T")
# The picker's presets, in the order offered. Every one ends on a closed day (yesterday at
# the latest): a period's figures are then final and cacheable, and "to date" compares like with
# like against the same span of the period before. Their labels carry their dates
# (`preset_label`), so "Last year" is never mistaken for the last 365 days.
PRESETS = {
    "last_7_days": "Last 7 days",
    "last_30_days": "Last 30 days",
    "last_90_days": "Last 90 days",
    "last_week": "Last week",
    "last_month": "Last month",
    "last_quarter": "Last quarter",
    "last_year": "Last year",
    "last_12_months": "Last 12 months",
    "month_to_date": "Month to date",
    "quarter_to_date": "Quarter to date",
    "year_to_date": "Year to date",
    "custom": "Custom range",
}
ROLLING_DAYS = {"last_7_days": 7, "last_30_days": 30, "last_90_days": 90}
# Presets made of whole months, and the months one period spans: the period before is that many
# months earlier (a month, a quarter or a year), not "as many days earlier".
MONTH_STEPS = {
    "last_month": 1,
    "last_quarter": 3,
    "last_year": 12,
    "last_12_months": 12,
    "month_to_date": 1,
    "quarter_to_date": 3,
    "year_to_date": 12,
}
TO_DATE = {"month_to_date", "quarter_to_date", "year_to_date"}
# The longest period a page shows (reports.metrics.MAX_PERIOD_DAYS, the form's MAX_DAYS).
MAX_PAGE_DAYS = 3 * 366
HEADLINES = [
    # key in the totals row, label, kind (money, percent, count, decimal), better when higher
    ("revenue", "Revenue", "money", True),
    ("cost", "Cost", "money", False),
    ("roi", "ROI", "percent", True),
    ("leads", "Leads", "count", True),
    ("cost_per_lead", "Cost per lead", "money", False),
    ("customers", "Customers", "decimal", True),
    ("cost_per_customer", "CAC", "money", False),
]
# Figures that are ratios which can be negative: their change is the difference in percentage
# points, never a relative change (ROI from -0.53 to -0.36 is +17.0 pp, not -32%).
POINTS = {"roi"}


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    preset: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same kind just before: last month before last month, the same days
        of the month before for month to date, and so on."""
        return self.back(1)

    def back(self, steps: int) -> Period:
        """The period of the same kind `steps` periods earlier. Computed from this one, not
        step by step, so a to-date period clamped to a short month (29 February) does not
        stay clamped further back."""
        months = MONTH_STEPS.get(self.preset)
        if months is None:
            shift = dt.timedelta(days=steps * self.days)
            return Period(self.start - shift, self.end - shift, self.preset)
        start = shift_months(self.start, -steps * months)
        if self.preset in TO_DATE and self.end < shift_months(self.start, months) - dt.timedelta(
            days=1
        ):
            return Period(start, shift_months(self.end, -steps * months), self.preset)
        # Whole months (a to-date period on the first day of its span is the whole span before).
        end = shift_months(self.end + dt.timedelta(days=1), -steps * months) - dt.timedelta(days=1)
        return Period(start, end, self.preset)

    def trail(self, count: int) -> list[Period]:
        """This period and the `count - 1` before it, oldest first."""
        return [self.back(i) for i in range(count - 1, -1, -1)]


def today() -> dt.date:
    return timezone.localdate()


def preset_period(preset: str, *, on: dt.date | None = None) -> Period:
    """The period a preset names on day `on` (default today, in TIME_ZONE). Every preset ends
    yesterday at the latest (closed days only):

    - last 7 / 30 / 90 days: the days up to yesterday;
    - last week (Monday start), month, quarter, year: the last full calendar one;
    - last 12 months: the 12 full months before this one;
    - month / quarter / year to date: from its first day to yesterday; on its first day (no
      closed day yet) the whole month / quarter / year before.
    """
    on = on or today()
    yesterday = on - dt.timedelta(days=1)
    if preset in ROLLING_DAYS:
        return Period(yesterday - dt.timedelta(days=ROLLING_DAYS[preset] - 1), yesterday, preset)
    if preset == "last_week":
        start = on - dt.timedelta(days=on.weekday() + 7)
        return Period(start, start + dt.timedelta(days=6), preset)
    if preset == "last_quarter":
        end = quarter_start(on) - dt.timedelta(days=1)
        return Period(quarter_start(end), end, preset)
    if preset == "last_year":
        return Period(dt.date(on.year - 1, 1, 1), dt.date(on.year - 1, 12, 31), preset)
    if preset == "last_12_months":
        end = on.replace(day=1) - dt.timedelta(days=1)
        return Period(shift_months(end.replace(day=1), -11), end, preset)
    if preset in TO_DATE:
        first = {
            "month_to_date": yesterday.replace(day=1),
            "quarter_to_date": quarter_start(yesterday),
            "year_to_date": yesterday.replace(month=1, day=1),
        }[preset]
        # On the first day of a month (quarter, year) yesterday closed the one before: whole.
        return Period(first, yesterday, preset)
    end = on.replace(day=1) - dt.timedelta(days=1)
    return Period(end.replace(day=1), end, "last_month")


def preset_label(preset: str, *, on: dt.date | None = None) -> str:
    """The picker's label with the dates it covers: "Last year (2025)", "Last quarter (Q3
    2026)", "Last 30 days (25 Oct - 23 Nov 2026)"."""
    if preset == "custom":
        return PRESETS[preset]
    p = preset_period(preset, on=on)
    return f"{PRESETS[preset]} ({period_name(p.start, p.end)})"


# Its value is part of every page key: `reports.changes.catalogue_changed` replaces it when a
# name or a target changes, which voids every cached page at once.
CATALOGUE_KEY = "reports:catalogue"
# The shape of the cached page figures: a release that changes it (new cards, labels) bumps it,
# so pages never read entries an older release left behind. 2: issue 11 (cost per lead card,
# ROI change in points, "<Channel> (no campaign)" labels); 3: the attribution page's figures per
# model (customers, ROI and CAC beside revenue); 4: the channel table's self-reported column.
FIGURES_SHAPE = 4


def period_cached(
    name: str, first: dt.date, last: dt.date, params: tuple, compute: Callable[[], T]
) -> T:
    """`compute()`'s figures for data dated `first`..`last`, cached while that span is closed
    (before today) and no day of it changed after they were computed.

    Late data stamps its days in `DayChange` once it commits (`reports.changes`), and a stamp
    newer than the cached figures voids them; `computed_at` is taken before computing, so a
    write that commits meanwhile voids them too. The key holds the catalogue's version (names
    and targets) and the time zone (local days). Inside `reports.daycache.bypassed()` the cache
    is neither read nor written.
    """
    seconds = settings.REPORT_CACHE_SECONDS
    if not seconds or last >= today() or is_bypassed():
        return compute()
    version = cache.get(CATALOGUE_KEY, 0)
    zone = timezone.get_current_timezone_name()
    key = f"reports:f{FIGURES_SHAPE}:" + ":".join(
        str(p) for p in (name, version, zone, first, last, *params)
    )
    hit = cache.get(key)
    if hit is not None:
        computed_at, value = hit
        if not DayChange.objects.filter(
            day__gte=first, day__lte=last, changed_at__gte=computed_at
        ).exists():
            return value
    computed_at = timezone.now()
    value = compute()
    cache.set(key, (computed_at, value), seconds)
    return value


def dashboard_data(*, period: Period, attribution: str) -> dict:
    """Headline cards with their change, the channel and campaign tables, and the charts' data."""
    trail = period.trail(12)
    return period_cached(
        "dashboard",
        trail[0].start,
        period.end,
        (attribution, period.preset),
        lambda: _dashboard_data(period=period, attribution=attribution),
    )


def _dashboard_data(*, period: Period, attribution: str) -> dict:
    reports = roi_reports(start=period.start, end=period.end, attribution=attribution)
    by_channel, by_campaign = (
        with_self_reported(reports[GroupBy.CHANNEL]),
        reports[GroupBy.CAMPAIGN],
    )
    funnel = funnel_report(
        start=period.start, end=period.end, group_by=GroupBy.CHANNEL, attribution=attribution
    )
    previous = period.previous()
    before = roi_report(
        start=previous.start, end=previous.end, group_by=GroupBy.CHANNEL, attribution=attribution
    )
    trail = period.trail(12)
    mark_targets(by_campaign["rows"])
    trend, cohorts = roi_trend(trail), cohort_trend(trail)
    return {
        "headlines": headline_cards(by_channel["totals"], before["totals"]),
        "previous": previous,
        "channels": by_channel,
        "campaigns": by_campaign,
        "funnel": funnel,
        "trend": trend,
        "cohorts": cohorts,
        "charts": charts(by_channel=by_channel, funnel=funnel, trend=trend, cohorts=cohorts),
    }


def mark_targets(rows: list[dict]) -> None:
    """Whether each campaign met its targets: leads at or above, cost per lead at or below."""
    for row in rows:
        target_leads, target_cpl = row.get("target_leads"), _number(row.get("target_cost_per_lead"))
        row["leads_target_met"] = target_leads is not None and row.get("leads", 0) >= target_leads
        cpl = _number(row.get("cost_per_lead"))
        row["cpl_target_met"] = target_cpl is not None and cpl is not None and cpl <= target_cpl


def _chart(
    chart_id: str,
    title: str,
    kind: str,
    labels: list[str],
    datasets: list[tuple[str, list]],
    label_header: str,
    scales: dict | None = None,
    cell: Callable[[object], str] = str,
) -> dict:
    """A chart's spec for Chart.js and the same numbers as a text table behind it (each value
    through `cell`)."""
    series = [
        {"label": name, "data": [None if v is None else float(v) for v in values]}
        for name, values in datasets
    ]
    table = [
        (label, ["—" if values[i] is None else cell(values[i]) for _, values in datasets])
        for i, label in enumerate(labels)
    ]
    return {
        "id": chart_id,
        "data_id": f"{chart_id}-data",
        "title": title,
        "label_header": label_header,
        "spec": {"type": kind, "labels": labels, "datasets": series, "scales": scales or {}},
        "table": table,
    }


def charts(*, by_channel: dict, funnel: dict, trend: list[dict], cohorts: list[dict]) -> list[dict]:
    channel_rows = [r for r in by_channel["rows"] if r["key"] != "unattributed"]
    funnel_rows = [r for r in funnel["rows"] if r["key"] != "unattributed"]
    percent = {"y": {"ticks": {"format": {"style": "percent"}}}}
    return [
        _chart(
            "chart-funnel",
            "Funnel by channel",
            "bar",
            [r["label"] for r in funnel_rows],
            [
                (name, [r.get(key) for r in funnel_rows])
                for key, name in (
                    ("followers", "Followers"),
                    ("leads", "Leads"),
                    ("qualified", "Qualified"),
                    ("customers", "Customers"),
                )
            ],
            "Channel",
        ),
        _chart(
            "chart-revenue-cost",
            "Revenue against cost per channel",
            "bar",
            [r["label"] for r in channel_rows],
            [
                ("Revenue", [r["revenue"] for r in channel_rows]),
                ("Cost", [r["cost"] for r in channel_rows]),
            ],
            "Channel",
        ),
        _chart(
            "chart-roi-trend",
            "ROI over the last 12 periods",
            "line",
            [t["label"] for t in trend],
            [("ROI", [t["roi"] for t in trend])],
            "Period",
            percent,
            lambda value: fmt(value, "percent"),
        ),
        _chart(
            "chart-cohorts",
            "Cohort conversion over time (share of entrants)",
            "line",
            [c["label"] for c in cohorts],
            [
                ("Reached lead", [c["lead_share"] for c in cohorts]),
                ("Reached customer", [c["customer_share"] for c in cohorts]),
            ],
            "Entered in",
            percent,
        ),
    ]


CHANGE_PLACES = 3  # a change of 0.125 reads +12.5%


def headline_cards(now: dict, before: dict) -> list[dict]:
    cards = []
    for key, label, kind, higher_is_better in HEADLINES:
        value, previous = _number(now.get(key)), _number(before.get(key))
        change = None
        if key in POINTS:
            if value is not None and previous is not None:
                # Percentage points to one decimal: the ratios' difference, rounded once.
                change = fixed(value - previous, CHANGE_PLACES)
        elif value is not None and previous not in (None, 0):
            # Shown as a percentage to one decimal: rounded once, from the exact change.
            change = fixed(quotient(value - previous, abs(previous)), CHANGE_PLACES)
        good = None if change in (None, 0) else (change > 0) == higher_is_better
        cards.append(
            {
                "key": key,
                "label": label,
                "kind": kind,
                "value": now.get(key),
                "previous": before.get(key),
                "change": change,
                "change_unit": "pp" if key in POINTS else "%",
                "good": good,
            }
        )
    return cards


def _number(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def roi_trend(periods: list[Period]) -> list[dict]:
    """Revenue, cost and ROI of each period: three grouped queries (purchases, their refunds,
    costs).

    The totals row is the same in every attribution model, so the trend needs no attribution.
    Revenue is net of refunds, counted on the purchase's day (`refunded_by_period`).
    """
    bounds = list(_bounds(periods))
    revenue = Purchase.objects.aggregate(
        **{
            f"p{i}": Sum("amount", filter=Q(occurred_at__gte=lo, occurred_at__lt=hi))
            for i, (lo, hi) in bounds
        }
    )
    refunded = refunded_by_period(bounds)
    cost = Cost.objects.aggregate(
        **{
            f"p{i}": Sum("amount", filter=Q(incurred_on__gte=p.start, incurred_on__lte=p.end))
            for i, p in enumerate(periods)
        }
    )
    rows = []
    for i, p in enumerate(periods):
        rev, spent = revenue[f"p{i}"] or Decimal("0.00"), cost[f"p{i}"] or Decimal("0.00")
        rev -= refunded[f"p{i}"] or Decimal("0.00")
        roi = ratio(rev - spent, spent)  # the headline's rounding: the same figure, the same digits
        rows.append(
            {
                "start": p.start,
                "end": p.end,
                "label": period_label(p),
                "revenue": rev,
                "cost": spent,
                "roi": roi,
            }
        )
    return rows


def cohort_trend(periods: list[Period]) -> list[dict]:
    """Of the contacts that entered in each period, the share that reached lead and customer by
    now: sums of the cached month and day counts (reports.counts)."""
    spans = count_spans([(p.start, p.end) for p in periods])
    rows = []
    for p, counts in zip(periods, spans, strict=True):
        groups = counts.values()
        n = sum(g["followers"] for g in groups)
        lead = sum(g["reached_lead"] for g in groups)
        customer = sum(g["reached_customer"] for g in groups)
        rows.append(
            {
                "label": period_label(p),
                "entered": n,
                "lead_share": _share(lead, n),
                "customer_share": _share(customer, n),
            }
        )
    return rows


def _share(part: int, whole: int) -> Decimal | None:
    return fixed(quotient(part, whole), RATIO_PLACES) if whole else None


def refunded_by_period(bounds: list[tuple[int, tuple[dt.datetime, dt.datetime]]]) -> dict:
    """{"p<i>": what was refunded on the purchases of each period (by the purchase's time, not
    the refund's)}, in one query: refunds are never before their purchase, so only those since
    the first period began are read."""
    if not bounds:
        return {}
    return Refund.objects.filter(occurred_at__gte=min(lo for _, (lo, _) in bounds)).aggregate(
        **{
            f"p{i}": Sum(
                "amount", filter=Q(purchase__occurred_at__gte=lo, purchase__occurred_at__lt=hi)
            )
            for i, (lo, hi) in bounds
        }
    )


def _bounds(periods: list[Period]):
    for i, p in enumerate(periods):
        yield i, period_bounds(p.start, p.end)


def period_label(p: Period) -> str:
    """A short label of one period in a trend: "Mar 2026", "Q1 2026", "2025", else its dates."""
    if p.preset in ("last_month", "last_quarter", "last_year", "last_12_months"):
        name = period_name(p.start, p.end)
        return f"{p.start:%b %Y}" if p.preset == "last_month" else name
    return f"{p.start:%d %b} - {p.end:%d %b %Y}"


def attribution_data(*, period: Period, group_by: str = GroupBy.CHANNEL) -> dict:
    """Every model's figures per group (`_attribution_data`), cached: one computation serves
    every choice of model and reference model (`model_comparison` picks two of them)."""
    return period_cached(
        "attribution",
        period.start,
        period.end,
        (group_by,),
        lambda: _attribution_data(period=period, group_by=group_by),
    )


# The figures of a group that depend on the attribution model (cost does not).
MODEL_FIGURES = ("revenue", "customers", "exact_customers", "roi", "cost_per_customer")


def _attribution_data(*, period: Period, group_by: str) -> dict:
    """Every model side by side: each group's cost, and under each model its credited revenue,
    customers (exact and to two decimals), ROI and CAC, from one `roi_matrix` (one attribution
    statement per model); the revenue of every model per row, its spread, and the assists."""
    matrix = roi_matrix(
        start=period.start,
        end=period.end,
        group_bys=[group_by],
        attributions=Attribution.values,
        exact=True,
    )
    reports = {model: by_group[group_by] for model, by_group in matrix.items()}
    keys: dict[str, dict] = {}
    for model, report in reports.items():
        for row in report["rows"]:
            entry = keys.setdefault(
                row["key"],
                {
                    "key": row["key"],
                    "label": row["label"],
                    "channel": row["channel"],
                    "cost": row["cost"],
                    "revenue": {},
                    "figures": {},
                    "assisted_revenue": row.get("assisted_revenue"),
                    "assisted_conversions": row.get("assisted_conversions"),
                },
            )
            entry["revenue"][model] = row["revenue"]
            entry["figures"][model] = {name: row[name] for name in MODEL_FIGURES}
    rows = sorted(
        keys.values(),
        key=lambda r: -max((Decimal(v) for v in r["revenue"].values() if v), default=0),
    )
    for row in rows:
        row["cells"] = [
            (label, row["revenue"].get(model, "0.00")) for model, label in Attribution.choices
        ]
        # A data-driven model with too few conversions credits nothing (None): left out.
        values = [Decimal(v) for _, v in row["cells"] if v is not None]
        row["spread"] = max(values) - min(values)
    return {
        "models": [(m, Attribution(m).label) for m in Attribution.values],
        # How sure each data-driven model is, or why it shows no figures: {model: status}.
        "learned": {m: reports[m]["data_driven"] for m in DATA_DRIVEN},
        "rows": rows,
        "totals": [reports[m]["totals"]["revenue"] for m in Attribution.values],
        "model_totals": {
            m: {"cost": reports[m]["totals"]["cost"]}
            | {name: reports[m]["totals"][name] for name in MODEL_FIGURES}
            for m in Attribution.values
        },
    }


# The figures compared between two models, in the table's order: key, label, whether the
# change is also given relative to the reference figure. ROI's change is in percentage points
# and CAC's in money: a relative change of a ratio that can be negative (ROI) says nothing.
COMPARED = (
    ("revenue", "Revenue", True),
    ("customers", "Customers", True),
    ("roi", "ROI", False),
    ("cost_per_customer", "CAC", False),
)


def model_comparison(
    figures: dict, *, period: Period, group_by: str, model: str, reference: str
) -> dict:
    """Each group's figures under `model` beside the `reference` model, with the changes, the
    totals (the same in every model: every change 0), and a chart of revenue per group under
    both. `figures` is `attribution_data`'s; nothing here reads the database.

    Per group and figure (revenue, customers, ROI, CAC), the keys are `<figure>` (under the
    model), `reference_<figure>`, `<figure>_change` (model minus reference) and, for revenue
    and customers, `<figure>_change_ratio` (the change / |reference|, a ratio). Changes come
    from the exact values: revenue in cents, customers as exact fractions, ROI's change as
    (revenue - reference revenue) / cost (the cost is the same in both models), CAC from
    cost / exact customers; each is None where it is not defined.
    """
    query = period_query(period, attribution=model)
    rows = []
    for entry in figures["rows"]:
        row = {
            "key": entry["key"],
            "label": entry["label"],
            "channel": entry["channel"],
            "href": group_link(entry["key"], query),
            "cost": entry["cost"],
            "revenue_by_model": {m: entry["revenue"].get(m, "0.00") for m in Attribution.values},
        }
        row.update(
            compare_figures(
                entry["cost"],
                entry["figures"].get(model) or no_credit(entry["cost"]),
                entry["figures"].get(reference) or no_credit(entry["cost"]),
            )
        )
        rows.append(row)
    rows.sort(
        key=lambda r: (
            r["key"] == UNATTRIBUTED,
            -Decimal(r["revenue"] or 0),
            -Decimal(r["reference_revenue"] or 0),
            -Decimal(r["cost"]),
            r["label"],
        )
    )
    totals = figures["model_totals"]
    total = {
        "key": "totals",
        "label": "Totals",
        "channel": None,
        "cost": totals[model]["cost"],
        "revenue_by_model": {m: totals[m]["revenue"] for m in Attribution.values},
        **compare_figures(totals[model]["cost"], totals[model], totals[reference]),
    }
    return {
        "model": model,
        "model_label": Attribution(model).label,
        "reference": reference,
        "reference_label": Attribution(reference).label,
        "comparison": rows,
        "comparison_totals": total,
        "totals_by_model": {m: totals[m]["revenue"] for m in Attribution.values},
        "chart": comparison_chart(rows, model=model, reference=reference, group_by=group_by),
    }


def no_credit(cost: str) -> dict:
    """A group's model figures where the model credited it nothing."""
    return {
        "revenue": money(0),
        "customers": decimal(0),
        "exact_customers": Fraction(0),
        "roi": ratio(-Decimal(cost), Decimal(cost)),
        "cost_per_customer": None,
    }


def compare_figures(cost: str, now: dict, before: dict) -> dict:
    """One row's figures under a model (`now`) and the reference model (`before`), and the
    changes (see `model_comparison`)."""
    spent = Decimal(cost)
    if now["revenue"] is None or before["revenue"] is None:
        # A data-driven model with too few conversions: no figure, so no change either.
        return {
            **{f"{name}": now[name] for name in ("revenue", "customers", "roi")},
            **{f"reference_{name}": before[name] for name in ("revenue", "customers", "roi")},
            "cost_per_customer": now["cost_per_customer"],
            "reference_cost_per_customer": before["cost_per_customer"],
            **dict.fromkeys(
                (
                    "revenue_change",
                    "revenue_change_ratio",
                    "customers_change",
                    "customers_change_ratio",
                    "roi_change",
                    "cost_per_customer_change",
                )
            ),
        }
    revenue, reference_revenue = Decimal(now["revenue"]), Decimal(before["revenue"])
    customers, reference_customers = now["exact_customers"], before["exact_customers"]
    cac, reference_cac = quotient(spent, customers), quotient(spent, reference_customers)
    return {
        "revenue": now["revenue"],
        "reference_revenue": before["revenue"],
        "revenue_change": money(revenue - reference_revenue),
        "revenue_change_ratio": ratio(revenue - reference_revenue, abs(reference_revenue)),
        "customers": now["customers"],
        "reference_customers": before["customers"],
        "customers_change": decimal(customers - reference_customers),
        "customers_change_ratio": ratio(customers - reference_customers, reference_customers),
        "roi": now["roi"],
        "reference_roi": before["roi"],
        # (r1 - c) / c - (r0 - c) / c = (r1 - r0) / c, exactly; None where the cost is 0.
        "roi_change": ratio(revenue - reference_revenue, spent),
        "cost_per_customer": now["cost_per_customer"],
        "reference_cost_per_customer": before["cost_per_customer"],
        "cost_per_customer_change": (
            None if cac is None or reference_cac is None else money(cac - reference_cac)
        ),
    }


def period_query(period: Period, **extra: str) -> str:
    """The address's query that opens another page on `period` (its preset, or its days)."""
    params = {"preset": period.preset} if period.preset in PRESETS else {}
    if params.get("preset") in (None, "custom"):
        params = {"preset": "custom", "start": period.start, "end": period.end}
    return urlencode({**params, **extra})


def group_link(key: str, query: str) -> str | None:
    """Where a group's row leads: a campaign to its page, a channel to the dashboard, both on
    the page's period and model; "(no campaign)" and unattributed rows lead nowhere."""
    if key == UNATTRIBUTED or key.startswith("none:"):
        return None
    if key.isdigit():
        return f"{reverse('reports:campaign', args=[int(key)])}?{query}"
    return f"{reverse('reports:dashboard')}?{query}"


CHART_LABEL = 28


def short_label(label: str) -> str:
    """`label`, or its words that fit in CHART_LABEL characters and an ellipsis."""
    if len(label) <= CHART_LABEL:
        return label
    cut = label[: CHART_LABEL + 1].rsplit(" ", 1)[0] if " " in label[:CHART_LABEL] else ""
    return (cut or label[:CHART_LABEL]).rstrip(" ,;:-") + "…"


def comparison_chart(rows: list[dict], *, model: str, reference: str, group_by: str) -> dict:
    """Revenue per group under the model and the reference (one series when they are the
    same), as horizontal bars: campaign names stay readable. The unattributed row is left out:
    no model moves it."""
    shown = [
        r
        for r in rows
        if r["key"] != UNATTRIBUTED
        and (Decimal(r["revenue"] or 0) != 0 or Decimal(r["reference_revenue"] or 0) != 0)
    ]
    series = [(Attribution(model).label, [r["revenue"] for r in shown])]
    if reference != model:
        series.append((Attribution(reference).label, [r["reference_revenue"] for r in shown]))
    chart = _chart(
        "chart-attribution",
        f"Revenue per {GroupBy(group_by).label.lower()}: "
        + " against ".join(Attribution(m).label.lower() for m in dict.fromkeys([model, reference])),
        "bar",
        [r["label"] for r in shown],
        series,
        GroupBy(group_by).label,
        cell=lambda value: fmt(value, "money"),
    )
    # The bars' labels cut at a word after CHART_LABEL characters (a phone gives the axis a
    # third of its width); the data table under the chart keeps the whole names.
    chart["spec"]["labels"] = [short_label(r["label"]) for r in shown]
    chart["spec"]["horizontal"] = True
    # Room for each group's bars: the script sizes the chart's box from it.
    chart["spec"]["rows"] = len(shown)
    return chart


def campaign_trend(*, campaign: Campaign, periods: list[Period], attribution: str) -> list[dict]:
    """The campaign's cost, credited revenue and ROI in each period: one read of the cached
    credit (months and days) for all the periods and one grouped cost query, whatever their
    number.
    The figures are those of the campaign's row in `roi_report` for each period. A data-driven
    model learns each period's shares from that period's journeys: one `data_driven` per period
    (no day cache), its revenue empty where the period has too few conversions."""
    if attribution in DATA_DRIVEN:
        spans = []
        for p in periods:
            learned = data_driven(model=attribution, start=p.start, end=p.end, lookback_days=90)
            credit = learned.by_campaign.get((campaign.channel_id, campaign.pk))
            insufficient = learned.status != "ok"
            spans.append(
                [[None, campaign.pk, None if insufficient else credit.cents if credit else 0]]
            )
    else:
        spans = credit_spans(
            model=attribution, spans=[(p.start, p.end) for p in periods], lookback_days=90
        )
    costs = Cost.objects.filter(campaign=campaign).aggregate(
        **{
            f"p{i}": Sum("amount", filter=Q(incurred_on__gte=p.start, incurred_on__lte=p.end))
            for i, p in enumerate(periods)
        }
    )
    rows = []
    for i, p in enumerate(periods):
        credited = [row[2] for row in spans[i] if row[1] == campaign.pk]
        cost = costs[f"p{i}"] or Decimal("0.00")
        if None in credited:
            rows.append(
                {"label": period_label(p), "cost": money(cost), "revenue": None, "roi": None}
            )
            continue
        revenue = Decimal(sum(credited)) / 100
        rows.append(
            {
                "label": period_label(p),
                "cost": money(cost),
                "revenue": money(revenue),
                "roi": ratio(revenue - cost, cost),
            }
        )
    return rows


def campaign_period(campaign: Campaign, *, on: dt.date | None = None) -> Period:
    """The period a campaign's page opens on: the campaign's own days, from its start to its
    end or yesterday, whichever is first (closed days only, like the presets); at most the
    last three years of a long one. A campaign that has not started yet shows its planned
    days (no figures yet, but the right dates)."""
    yesterday = (on or today()) - dt.timedelta(days=1)
    end = min(campaign.ends_on or yesterday, yesterday)
    if end < campaign.starts_on:
        end = campaign.ends_on or campaign.starts_on
    start = max(campaign.starts_on, end - dt.timedelta(days=MAX_PAGE_DAYS - 1))
    return Period(start, end, "campaign")


def trend_periods(period: Period) -> list[Period]:
    """The periods of a campaign page's "ROI over time": twelve periods like the chosen one,
    or for a campaign's own days its months (the last twelve), cut to its first and last day."""
    if period.preset != "campaign":
        return period.trail(12)
    months, first = [], period.end.replace(day=1)
    while len(months) < 12:
        months.append(
            Period(
                max(first, period.start),
                min(shift_months(first, 1) - dt.timedelta(days=1), period.end),
                "last_month",
            )
        )
        if first <= period.start:
            break
        first = shift_months(first, -1)
    return months[::-1]


def campaign_status(campaign: Campaign, *, on: dt.date | None = None) -> str:
    """planned (starts after today), running (today is within its days) or ended."""
    on = on or today()
    if campaign.starts_on > on:
        return "planned"
    if campaign.ends_on is not None and campaign.ends_on < on:
        return "ended"
    return "running"


CAMPAIGN_SORTS = {
    # key: (header, kind, how to sort); figures sort with the empty ones last.
    "name": ("Campaign", "text"),
    "status": ("Status", "text"),
    "starts_on": ("Starts", "date"),
    "ends_on": ("Ends", "date"),
    "cost": ("Spend", "money"),
    "revenue": ("Revenue", "money"),
    "roi": ("ROI", "ratio"),
    "leads": ("Leads", "count"),
    "cost_per_lead": ("Cost / lead", "money"),
}


def campaign_list(*, period: Period, attribution: str, sort: str = "-starts_on") -> list[dict]:
    """Every campaign with its status, dates, and its figures in `period` (spend, credited
    revenue, ROI, leads against target, cost per lead against target).

    One query for the campaigns and their channels, and the figure families of one
    `roi_report` by campaign (its queries do not grow with the number of campaigns)."""
    figures = period_cached(
        "campaign-list",
        period.start,
        period.end,
        (attribution,),
        lambda: _campaign_figures(period=period, attribution=attribution),
    )
    on = today()
    rows = []
    for campaign in Campaign.objects.select_related("channel"):
        row = figures.get(str(campaign.pk), {})
        rows.append(
            {
                "campaign": campaign,
                "name": campaign.name,
                "status": campaign_status(campaign, on=on),
                "starts_on": campaign.starts_on,
                "ends_on": campaign.ends_on,
                "cost": row.get("cost"),
                "revenue": row.get("revenue"),
                "roi": row.get("roi"),
                "leads": row.get("leads"),
                "cost_per_lead": row.get("cost_per_lead"),
                "target_leads": campaign.target_leads,
                "target_cost_per_lead": campaign.target_cost_per_lead,
                "leads_target_met": row.get("leads_target_met", False),
                "cpl_target_met": row.get("cpl_target_met", False),
            }
        )
    key, descending = sort.lstrip("-"), sort.startswith("-")
    if key not in CAMPAIGN_SORTS:
        key, descending = "starts_on", True
    kind = CAMPAIGN_SORTS[key][1]

    def value(row: dict):
        v = row[key]
        if kind in ("money", "ratio", "count"):
            return _number(v)
        if kind == "text":
            return str(v).lower()
        return v

    present = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]
    present.sort(key=lambda r: r["name"].lower())
    present.sort(key=value, reverse=descending)
    return present + sorted(missing, key=lambda r: r["name"].lower())


def _campaign_figures(*, period: Period, attribution: str) -> dict[str, dict]:
    """Each campaign's row of the period's report by campaign, with its targets marked."""
    report = roi_report(
        start=period.start, end=period.end, group_by=GroupBy.CAMPAIGN, attribution=attribution
    )
    mark_targets(report["rows"])
    return {row["key"]: row for row in report["rows"]}


def campaign_data(*, campaign: Campaign, period: Period, attribution: str) -> dict:
    """One campaign's ledger, coupons, calls, engagement by day, funnel and ROI over time."""
    lo, hi = period_bounds(period.start, period.end)
    costs = list(
        campaign.costs.filter(incurred_on__gte=period.start, incurred_on__lte=period.end).order_by(
            "incurred_on", "id"
        )
    )
    coupons = list(
        campaign.coupons.annotate(
            used=Count(
                "purchases", filter=Q(purchases__occurred_at__gte=lo, purchases__occurred_at__lt=hi)
            ),
            paid=Sum(
                "purchases__amount",
                filter=Q(purchases__occurred_at__gte=lo, purchases__occurred_at__lt=hi),
            ),
            # Net of refunds (a subquery: a join would count a purchase once per refund).
            refunded=Subquery(
                Refund.objects.filter(
                    purchase__coupon=OuterRef("pk"),
                    purchase__occurred_at__gte=lo,
                    purchase__occurred_at__lt=hi,
                )
                .order_by()
                .values("purchase__coupon")
                .annotate(total=Sum("amount"))
                .values("total"),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            ),
            discounts=Sum(
                "purchases__discount",
                filter=Q(purchases__occurred_at__gte=lo, purchases__occurred_at__lt=hi),
            ),
        ).order_by("code")
    )
    for coupon in coupons:
        coupon.revenue = (
            None if coupon.paid is None else coupon.paid - (coupon.refunded or Decimal("0.00"))
        )
    calls = Touchpoint.objects.filter(
        campaign=campaign, kind=Touchpoint.Kind.CALL, occurred_at__gte=lo, occurred_at__lt=hi
    )
    engagement = list(
        EngagementStat.objects.filter(
            campaign=campaign, date__gte=period.start, date__lte=period.end
        ).order_by("date")
    )
    for day in engagement:
        day.rate = _share(day.interactions, day.impressions)
    periods = trend_periods(period)
    figures = period_cached(
        "campaign",
        min(p.start for p in periods),
        period.end,
        (campaign.pk, attribution, period.preset),
        lambda: _campaign_page_figures(
            campaign=campaign, period=period, periods=periods, attribution=attribution
        ),
    )
    return {
        "costs": costs,
        "cost_total": sum((c.amount for c in costs), Decimal("0.00")),
        "coupons": coupons,
        "calls": calls.count(),
        "recent_calls": list(calls.select_related("contact").order_by("-occurred_at")[:10]),
        "engagement": engagement,
        **figures,
    }


def _campaign_page_figures(
    *, campaign: Campaign, period: Period, periods: list[Period], attribution: str
) -> dict:
    """The campaign's cached figures: its report row, its funnel (contacts it sourced, by the
    day each stage was reached, from the day counts) and its ROI over time."""
    funnel = dict.fromkeys(("followers", "leads", "qualified", "customers"), 0)
    for (_, campaign_id), counts in contact_counts(period.start, period.end).items():
        if campaign_id == campaign.pk:
            for name in funnel:
                funnel[name] += counts[name]
    over_time = campaign_trend(campaign=campaign, periods=periods, attribution=attribution)
    report = roi_report(
        start=period.start, end=period.end, group_by=GroupBy.CAMPAIGN, attribution=attribution
    )
    row = next((r for r in report["rows"] if r["key"] == str(campaign.pk)), None)
    return {
        "roi_chart": _chart(
            "chart-campaign-roi",
            "ROI over time",
            "line",
            [p["label"] for p in over_time],
            [("ROI", [p["roi"] for p in over_time])],
            "Period",
            {"y": {"ticks": {"format": {"style": "percent"}}}},
        )["spec"],
        "row": row or {},
        "funnel": funnel,
        "over_time": over_time,
        "data_driven": report.get("data_driven"),
    }
