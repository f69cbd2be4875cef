"""The weekly verdict: per channel, does it pay; how the week compares; how campaigns pace.

Read-only figures (a selector): `weekly_verdict` assembles them for one Monday-to-Sunday week;
`reports.delivery` mails and posts them. Definitions (docs/metrics.md "Weekly verdict"):

- Verdict, per channel: the ROI and its 95% interval under the `markov` data-driven model over
  the trailing 8 weeks ending with the week (56 days: one week is too few conversions for most
  businesses). With the window's cost C and the interval (lo, hi) of the credited revenue, the
  ROI interval is ((lo - C) / C, (hi - C) / C). "pays" when its low end > 0, "does not pay yet"
  when its high end < 0; "not enough data" when the model says insufficient_data, when the
  channel had no cost in the window, or when the interval straddles 0 (either end exactly 0
  included: it neither clearly pays nor clearly does not).
- The week's own figures beside it (revenue, cost, leads, ROI) under the default model (last
  touch), as the dashboard shows them.
- Change: the week's figure against the mean of its history, the 8 weeks before it; revenue,
  cost and leads as a relative change ((week - mean) / mean, none when the mean is 0), ROI as a
  difference in points (a relative change of a ratio that can be negative says nothing).
  A channel's history starts at its first week among those 8 with any revenue, cost or lead:
  the weeks before it existed are not its "usual". ROI's history has only the weeks with a cost.
- Anomaly: the week's figure outside mean ± 2 sample standard deviations of its history;
  needs at least 4 history weeks, else no flag (None). Compared exactly, squared:
  (x - mean)² > 4 · variance, so no square root and no float.
- Pacing, per campaign active in the week with a budget: spend to date against the budget
  prorated by days elapsed. A campaign with an end date spends its budget over its flight,
  starts_on to ends_on: expected = budget × days elapsed / days in the flight, spent = its
  costs from starts_on to the week's end. One without an end date has a monthly budget, spent
  at an even daily rate over the calendar month of the week's end: expected = budget × days
  elapsed this month (from the 1st, or starts_on when later) / days in the month, spent = its
  costs over those days. pace = spent / expected; "under" below 0.9, "over" above 1.1, else "on".
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.db.models import F, Q, Sum

from campaigns.models import Campaign, Channel, Cost
from campaigns.numbers import decimal, exact, money, ratio
from reports.datadriven import OK, GroupCredit, data_driven
from reports.metrics import UNATTRIBUTED, roi_report
from reports.models import Attribution, GroupBy
from reports.periods import period_name

WINDOW_WEEKS = 8  # the verdict's window, the week included
HISTORY_WEEKS = 8  # the weeks before it that make the change's mean and the usual range
MIN_HISTORY_WEEKS = 4  # fewer weeks of history: no anomaly flag
ANOMALY_SDS = 2
VERDICT_MODEL = "markov"
WEEK_MODEL = Attribution.LAST_TOUCH
PACE_TOLERANCE = Fraction(1, 10)  # ±10% of the expected spend is on pace

PAYS = "pays"
DOES_NOT_PAY_YET = "does_not_pay_yet"
NOT_ENOUGH_DATA = "not_enough_data"
VERDICT_LABELS = {
    PAYS: "pays",
    DOES_NOT_PAY_YET: "does not pay yet",
    NOT_ENOUGH_DATA: "not enough data",
}
FIGURES = ("revenue", "cost", "leads", "roi")
ZERO_WEEK: dict[str, Fraction | None] = {
    "revenue": Fraction(0),
    "cost": Fraction(0),
    "leads": Fraction(0),
    "roi": None,
}


@dataclass(frozen=True)
class Spread:
    """A figure's history: how many weeks, their mean and sample variance (exact)."""

    weeks: int
    mean: Fraction | None
    variance: Fraction | None


def spread(values: Iterable[Fraction]) -> Spread:
    """The count, mean and sample variance (n - 1) of `values`, exactly; the variance needs two."""
    values = list(values)
    n = len(values)
    if not n:
        return Spread(0, None, None)
    mean = sum(values, Fraction(0)) / n
    variance = sum(((v - mean) ** 2 for v in values), Fraction(0)) / (n - 1) if n > 1 else None
    return Spread(n, mean, variance)


def is_anomaly(value: Fraction | None, history: Spread) -> bool | None:
    """Whether `value` lies outside mean ± 2 sample standard deviations of its history; None
    (no flag either way) with fewer than `MIN_HISTORY_WEEKS` weeks or no value."""
    if value is None or history.weeks < MIN_HISTORY_WEEKS:
        return None
    assert history.mean is not None and history.variance is not None
    return (value - history.mean) ** 2 > ANOMALY_SDS**2 * history.variance


def roi_interval(
    *, cost_cents: int, lo_cents: int | None, hi_cents: int | None
) -> tuple[Fraction, Fraction] | None:
    """((lo - cost) / cost, (hi - cost) / cost), exactly; None without a cost or an interval."""
    if cost_cents <= 0 or lo_cents is None or hi_cents is None:
        return None
    return (
        Fraction(lo_cents - cost_cents, cost_cents),
        Fraction(hi_cents - cost_cents, cost_cents),
    )


def verdict_of(*, sufficient: bool, interval: tuple[Fraction, Fraction] | None) -> str:
    """The rule of the module docstring, from the model's status and the ROI interval."""
    if not sufficient or interval is None:
        return NOT_ENOUGH_DATA
    low, high = interval
    if low > 0:
        return PAYS
    if high < 0:
        return DOES_NOT_PAY_YET
    return NOT_ENOUGH_DATA


def week_of(day: dt.date) -> tuple[dt.date, dt.date]:
    """The Monday-to-Sunday week holding `day`."""
    monday = day - dt.timedelta(days=day.weekday())
    return monday, monday + dt.timedelta(days=6)


def _cents(amount: str | Decimal) -> int:
    return int(Decimal(amount) * 100)


def _weekly_figures(start: dt.date) -> list[dict[str, dict[str, Fraction | None]]]:
    """Per week, oldest first, from `HISTORY_WEEKS` weeks before the week at `start` to it:
    {channel slug: {revenue, cost, leads, roi}} under the default model (the day caches')."""
    weeks = []
    for back in range(HISTORY_WEEKS, -1, -1):
        monday = start - dt.timedelta(weeks=back)
        report = roi_report(
            start=monday,
            end=monday + dt.timedelta(days=6),
            group_by=GroupBy.CHANNEL,
            attribution=WEEK_MODEL,
        )
        weeks.append(
            {
                row["key"]: {
                    "revenue": exact(row["revenue"]),
                    "cost": exact(row["cost"]),
                    "leads": Fraction(row["leads"]),
                    "roi": None if row["roi"] is None else exact(row["roi"]),
                }
                for row in report["rows"]
                if row["key"] != UNATTRIBUTED
            }
        )
    return weeks


def _history(weeks: list[dict[str, dict]], slug: str) -> dict[str, Spread]:
    """The channel's history per figure (see the module docstring): the weeks from its first
    with any revenue, cost or lead; ROI's only those with a cost."""
    rows = [week.get(slug) for week in weeks]
    while rows and not (rows[0] and any(rows[0][f] for f in ("revenue", "cost", "leads"))):
        rows.pop(0)
    rows = [row or ZERO_WEEK for row in rows]
    out = {f: spread(Fraction(row[f]) for row in rows) for f in ("revenue", "cost", "leads")}
    out["roi"] = spread(row["roi"] for row in rows if row["roi"] is not None)
    return out


def _shown(figure: str, value: Fraction | None) -> str | None:
    """A figure as the documents write it: ROI a ratio, leads to two decimals (a mean may be
    fractional), money to cents."""
    if value is None:
        return None
    if figure == "roi":
        return ratio(value, 1)
    return decimal(value) if figure == "leads" else money(value)


def _change(figure: str, value: Fraction | None, history: Spread) -> dict:
    """The week's figure, its history's mean, the change against it and the anomaly flag."""
    if value is None or history.mean is None:
        change = None
    elif figure == "roi":
        change = ratio(value - history.mean, 1)
    else:
        change = ratio(value - history.mean, history.mean)
    return {
        "value": _shown(figure, value),
        "mean": _shown(figure, history.mean),
        "weeks": history.weeks,
        "change": change,
        "anomaly": is_anomaly(value, history),
    }


def weekly_verdict(*, start: dt.date) -> dict:
    """The verdict of the week starting on Monday `start` (see the module docstring), as a
    JSON-ready document: per channel its verdict, the week's figures with their change and
    anomaly flags, and the campaigns' pacing."""
    if start.weekday() != 0:
        raise ValueError("A verdict's week starts on a Monday.")
    end = start + dt.timedelta(days=6)
    window_start = end - dt.timedelta(weeks=WINDOW_WEEKS) + dt.timedelta(days=1)
    model = data_driven(model=VERDICT_MODEL, start=window_start, end=end)
    sufficient = model.status == OK
    # With enough data, a channel the model left out had no share of the conversions: it was
    # credited nothing, exactly (an interval of 0 to 0). Without, nothing is credited at all.
    nothing = GroupCredit(0, 0, 0) if sufficient else None
    weeks = _weekly_figures(start)
    channels = {c.pk: c for c in Channel.objects.all()}
    by_slug = {c.slug: c for c in channels.values()}
    # The window's cost per channel: its last WINDOW_WEEKS weeks of the weekly figures.
    window_cost: dict[str, Fraction] = {}
    for week in weeks[-WINDOW_WEEKS:]:
        for slug, figures in week.items():
            window_cost[slug] = window_cost.get(slug, Fraction(0)) + figures["cost"]
    # Every channel with a cost in the window, credit from the model or figures this week.
    slugs = (
        set(window_cost)
        | set(weeks[-1])
        | {channels[pk].slug for pk in model.by_channel if pk is not None and pk in channels}
    )
    rows = []
    for slug in slugs:
        channel = by_slug[slug]
        credit = model.by_channel.get(channel.pk, nothing)
        cost_cents = int(window_cost.get(slug, Fraction(0)) * 100)
        interval = roi_interval(
            cost_cents=cost_cents,
            lo_cents=credit.lo_cents if credit else None,
            hi_cents=credit.hi_cents if credit else None,
        )
        verdict = verdict_of(sufficient=sufficient, interval=interval)
        if not sufficient:
            reason = f"{model.conversions} conversions in 8 weeks; the model needs {model.minimum}."
        elif cost_cents <= 0:
            reason = "No cost recorded in 8 weeks."
        elif verdict == NOT_ENOUGH_DATA:
            reason = "The ROI interval spans zero."
        else:
            reason = ""
        revenue_cents = credit.cents if credit else None
        # A channel with nothing this week: no revenue, cost or lead, and no ROI.
        this_week = weeks[-1].get(slug) or {**ZERO_WEEK}
        history = _history(weeks[:-1], slug)
        rows.append(
            {
                "channel": slug,
                "label": channel.name,
                "verdict": verdict,
                "verdict_label": VERDICT_LABELS[verdict],
                "reason": reason,
                "cost": money(Fraction(cost_cents, 100)),
                "revenue": None if revenue_cents is None else money(Fraction(revenue_cents, 100)),
                "roi": None
                if revenue_cents is None
                else ratio(revenue_cents - cost_cents, cost_cents),
                "roi_low": None if interval is None else ratio(interval[0], 1),
                "roi_high": None if interval is None else ratio(interval[1], 1),
                "week": {
                    figure: _change(figure, this_week[figure], history[figure])
                    for figure in FIGURES
                },
            }
        )
    rows.sort(key=lambda r: (list(VERDICT_LABELS).index(r["verdict"]), r["label"]))
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "name": period_name(start, end),
        "window_start": window_start.isoformat(),
        "model": VERDICT_MODEL,
        "status": model.status,
        "conversions": model.conversions,
        "minimum": model.minimum,
        "week_model": WEEK_MODEL,
        "channels": rows,
        "pacing": campaign_pacing(end=end, start=start),
    }


def campaign_pacing(*, start: dt.date, end: dt.date) -> list[dict]:
    """The pacing of every campaign active in the week `start`..`end` with a budget (see the
    module docstring): two queries whatever the number of campaigns."""
    campaigns = list(
        Campaign.objects.filter(budget__gt=0, starts_on__lte=end)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=start))
        .select_related("channel")
        .order_by("channel__name", "name", "pk")
    )
    if not campaigns:
        return []
    month_start = end.replace(day=1)
    days_in_month = calendar.monthrange(end.year, end.month)[1]
    spend = {
        row["campaign_id"]: row
        for row in Cost.objects.filter(
            campaign__in=[c.pk for c in campaigns],
            incurred_on__lte=end,
            incurred_on__gte=min(c.starts_on for c in campaigns),
        )
        .values("campaign_id")
        .annotate(
            flight=Sum("amount", filter=Q(incurred_on__gte=F("campaign__starts_on"))),
            month=Sum(
                "amount",
                filter=Q(incurred_on__gte=F("campaign__starts_on"))
                & Q(incurred_on__gte=month_start),
            ),
        )
        .order_by()
    }
    rows = []
    for campaign in campaigns:
        figures = spend.get(campaign.pk, {})
        if campaign.ends_on is not None:
            basis = "flight"
            elapsed = (min(end, campaign.ends_on) - campaign.starts_on).days + 1
            length = (campaign.ends_on - campaign.starts_on).days + 1
            spent = figures.get("flight") or Decimal(0)
        else:
            basis = "month"
            elapsed = (end - max(campaign.starts_on, month_start)).days + 1
            length = days_in_month
            spent = figures.get("month") or Decimal(0)
        expected = Fraction(campaign.budget) * elapsed / length
        pace = Fraction(spent) / expected
        if pace < 1 - PACE_TOLERANCE:
            status = "under"
        elif pace > 1 + PACE_TOLERANCE:
            status = "over"
        else:
            status = "on"
        rows.append(
            {
                "campaign": campaign.pk,
                "label": campaign.name,
                "channel": campaign.channel.slug,
                "basis": basis,
                "budget": money(campaign.budget),
                "days_elapsed": elapsed,
                "days": length,
                "spent": money(spent),
                "expected": money(expected),
                "pace": ratio(pace, 1),
                "status": status,
            }
        )
    return rows
