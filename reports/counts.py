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
from bisect import bisect_right
from collections import defaultdict
from fractions import Fraction

from django.db import connection
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from leads.models import Contact
from reports.daycache import Rows, day_rows, span_rows
from reports.models import ContactDay, DurationDay
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


def combine_counts(parts) -> list:
    """Count rows of several days (or months) added up per source group."""
    groups: dict[Group, list[int]] = {}
    for rows in parts:
        for channel_id, campaign_id, *values in rows:
            sums = groups.get((channel_id, campaign_id))
            if sums is None:
                groups[channel_id, campaign_id] = list(values)
            else:
                for i, value in enumerate(values):
                    sums[i] += value
    return [[*group, *values] for group, values in groups.items()]


def count_spans(spans: list[tuple[dt.date, dt.date]]) -> list[dict[Group, dict[str, int]]]:
    """For each (start, end) of `spans`, every count per source group: closed whole months
    from their roll-ups, other days from the day cache."""
    return [
        {
            (channel_id, campaign_id): dict(zip(FIGURES, values, strict=True))
            for channel_id, campaign_id, *values in rows
        }
        for rows in span_rows(ContactDay, {}, spans, _compute, combine_counts)
    ]


def contact_counts(start: dt.date, end: dt.date) -> dict[Group, dict[str, int]]:
    """Every count of the period per source group (channel, campaign)."""
    return count_spans([(start, end)])[0]


# Cohort durations ---------------------------------------------------------------------------

MICROS_PER_DAY = 86_400 * 1_000_000
DURATION_STAMPS = ("became_lead_at", "became_customer_at")


def _micros(later: str, earlier: str) -> str:
    """Whole microseconds from `earlier` to `later`, exactly."""
    if connection.vendor == "postgresql":
        # date_part is float8 arithmetic (EXTRACT is numeric since PostgreSQL 14, slower); its
        # error is far below half a microsecond for any span under 30 years, so rounding gives
        # the exact whole microseconds.
        return f"round(date_part('epoch', {later} - {earlier}) * 1000000)"
    # SQLite keeps UTC text ("2026-03-10 09:30:00.250000"): whole seconds from strftime, the
    # microseconds from the text (julianday() would be a float of days, off by microseconds).
    return (
        f"((CAST(strftime('%%s', {later}) AS INTEGER) - CAST(strftime('%%s', {earlier}) AS INTEGER))"
        f" * 1000000 + CAST(substr({later}, 21) AS INTEGER) - CAST(substr({earlier}, 21) AS INTEGER))"
    )


def _compute_durations(first: dt.date, last: dt.date) -> Rows:
    """One query over the contacts that entered on the days `first`..`last` and reached lead or
    customer: {day: [[channel, campaign, [micros to lead], [micros to customer]], ...]}, each
    list sorted."""
    lo, hi = period_bounds(first, last)
    day, _ = connection.ops.datetime_cast_date_sql("c.entered_at", (), "TZ")
    day = day.replace("%s", "%(tz)s", 1).replace("%s", "'UTC'", 1)
    # One index-only scan per stamp: each reads its partial covering index
    # (contact_lead_cohort_idx, contact_customer_cohort_idx) and nothing else.
    sql = " UNION ALL ".join(
        f"""
        SELECT {day}, c.source_channel_id, c.source_campaign_id, {i},
               {_micros(f"c.{stamp}", "c.entered_at")}
        FROM leads_contact c
        WHERE c.entered_at >= %(lo)s AND c.entered_at < %(hi)s AND c.{stamp} IS NOT NULL
        """  # noqa: S608 (constant pieces; the values are bound parameters)
        for i, stamp in enumerate(DURATION_STAMPS)
    )
    params = {
        "lo": connection.ops.adapt_datetimefield_value(lo),
        "hi": connection.ops.adapt_datetimefield_value(hi),
        "tz": timezone.get_current_timezone_name(),
    }
    groups: dict[tuple[dt.date, int | None, int | None], list] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for entered, channel_id, campaign_id, which, micros in cursor.fetchall():
            entered = entered if isinstance(entered, dt.date) else dt.date.fromisoformat(entered)
            row = groups.get((entered, channel_id, campaign_id))
            if row is None:
                row = groups[entered, channel_id, campaign_id] = [channel_id, campaign_id, [], []]
            row[2 + which].append(int(micros))
    per_day: Rows = {}
    for (entered, _, _), row in sorted(groups.items(), key=lambda item: _order(item[0])):
        row[2].sort()
        row[3].sort()
        per_day.setdefault(entered, []).append(row)
    return per_day


def _order(key: tuple) -> tuple:
    day, channel_id, campaign_id = key
    return (day, channel_id is not None, channel_id or 0, campaign_id is not None, campaign_id or 0)


def duration_days(start: dt.date, end: dt.date) -> Rows:
    """{day: rows} of cohort durations for the days `start`..`end`, from the cache."""
    return day_rows(DurationDay, {}, start, end, _compute_durations)


def combine_durations(parts) -> list:
    """Duration rows of several days (or months) merged per source group, lists sorted."""
    groups: dict[Group, list] = {}
    for rows in parts:
        for channel_id, campaign_id, to_lead, to_customer in rows:
            row = groups.get((channel_id, campaign_id))
            if row is None:
                groups[channel_id, campaign_id] = [
                    channel_id,
                    campaign_id,
                    [*to_lead],
                    [*to_customer],
                ]
            else:
                row[2] += to_lead
                row[3] += to_customer
    out = [groups[key] for key in sorted(groups, key=lambda k: _order((None, *k))[1:])]
    for row in out:
        row[2].sort()
        row[3].sort()
    return out


def _collect_durations(parts) -> list:
    """A period's duration parts (months and days) per source group, unmerged: [channel,
    campaign, [sorted lists to lead], [sorted lists to customer]]."""
    groups: dict[Group, list] = {}
    for rows in parts:
        for channel_id, campaign_id, to_lead, to_customer in rows:
            row = groups.get((channel_id, campaign_id))
            if row is None:
                row = groups[channel_id, campaign_id] = [channel_id, campaign_id, [], []]
            if to_lead:
                row[2].append(to_lead)
            if to_customer:
                row[3].append(to_customer)
    return list(groups.values())


def median(lists: list[list[int]]) -> Fraction | None:
    """The median of the values of sorted `lists` taken together: the middle value, or the
    exact mean of the two middle ones. Found by bisecting the values, not by merging: each
    step counts the values at or below a bound in every list (a binary search each)."""
    size = sum(len(values) for values in lists)
    if not size:
        return None
    if size % 2:
        return Fraction(_kth(lists, size // 2))
    return Fraction(_kth(lists, size // 2 - 1) + _kth(lists, size // 2), 2)


def _kth(lists: list[list[int]], k: int) -> int:
    """The k-th smallest (from 0) of the integers of sorted `lists` taken together."""
    lo = min(values[0] for values in lists if values)
    hi = max(values[-1] for values in lists if values)
    while lo < hi:
        middle = (lo + hi) // 2
        if sum(bisect_right(values, middle) for values in lists) > k:
            hi = middle
        else:
            lo = middle + 1
    return lo


def cohort_durations(start: dt.date, end: dt.date) -> list:
    """Of the contacts that entered from `start` to `end`: per source group, [channel,
    campaign, sorted lists of micros to lead, sorted lists of micros to customer] (a list per
    closed whole month, from its roll-up, and per other day, from the day cache): `median`
    takes them as they are."""
    return span_rows(
        DurationDay,
        {},
        [(start, end)],
        _compute_durations,
        combine_durations,
        _collect_durations,
    )[0]
