"""Contact counts per source group and local day, cached per closed day (ContactDay).

For each day and source (channel, campaign), with the contact's source as its group:
- followers: contacts whose entered_at falls on the day (the day's cohort);
- reached_lead, reached_customer: of that cohort, how many have a lead / customer stamp now;
- leads, qualified, customers: contacts whose became_lead_at / became_qualified_at /
  became_customer_at falls on the day.
A contact whose source is unknown (no source channel: a walk-in without a coupon) has the group
(None, None), which the reports show as the unattributed row.
Every figure is a sum over days, so a period's counts are the sums of its days. A stage move,
a merge or a source edit marks the days of the contact's stamps (its entry day among them),
which voids exactly the cached days whose counts it changes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from leads.models import Contact
from reports.daycache import Rows, day_rows
from reports.models import ContactDay
from reports.periods import period_bounds

FIGURES = ("followers", "leads", "qualified", "customers", "reached_lead", "reached_customer")
# The stamp each figure is dated by, and the extra figures read in the same query.
STAMPS = {
    "entered_at": {
        "followers": Count("id"),
        "reached_lead": Count("id", filter=Q(became_lead_at__isnull=False)),
        "reached_customer": Count("id", filter=Q(became_customer_at__isnull=False)),
    },
    "became_lead_at": {"leads": Count("id")},
    "became_qualified_at": {"qualified": Count("id")},
    "became_customer_at": {"customers": Count("id")},
}
Group = tuple[int | None, int | None]  # (None, None): no known source, the unattributed row


def _compute(first: dt.date, last: dt.date) -> Rows:
    """One grouped query per stamp over the days `first`..`last`: {day: [[channel, campaign,
    *FIGURES], ...]}."""
    lo, hi = period_bounds(first, last)
    counts: dict[dt.date, dict[Group, list[int]]] = defaultdict(dict)
    for stamp, figures in STAMPS.items():
        rows = (
            Contact.objects.filter(**{f"{stamp}__gte": lo, f"{stamp}__lt": hi})
            .annotate(day=TruncDate(stamp))
            .values("day", "source_channel_id", "source_campaign_id")
            .annotate(**figures)
            .order_by()
        )
        for row in rows:
            group = (row["source_channel_id"], row["source_campaign_id"])
            values = counts[row["day"]].setdefault(group, [0] * len(FIGURES))
            for name in figures:
                values[FIGURES.index(name)] += row[name]
    return {
        day: [[*group, *values] for group, values in groups.items()]
        for day, groups in counts.items()
    }


def contact_days(start: dt.date, end: dt.date) -> Rows:
    """{day: rows} for the days `start`..`end`, from the cache where it is still valid."""
    return day_rows(ContactDay, {}, start, end, _compute)


def sum_days(per_day: Rows, start: dt.date, end: dt.date) -> dict[Group, dict[str, int]]:
    """The counts of the days `start`..`end` of `per_day`, per source group."""
    out: dict[Group, dict[str, int]] = {}
    for day, rows in per_day.items():
        if start <= day <= end:
            for channel_id, campaign_id, *values in rows:
                figures = out.setdefault((channel_id, campaign_id), dict.fromkeys(FIGURES, 0))
                for name, value in zip(FIGURES, values, strict=True):
                    figures[name] += value
    return out


def contact_counts(start: dt.date, end: dt.date) -> dict[Group, dict[str, int]]:
    """Every count of the period per source group (channel, campaign)."""
    return sum_days(contact_days(start, end), start, end)
