"""Month roll-ups: a closed whole month of each day cache is read as one row, never stale.

Scenario (UTC): Ada enters from facebook on 20 February 2026 and buys 50.00 on 25 February;
Ben enters from instagram on 3 March and buys 80.00 on 12 March; Cy enters from x on 2 April
and buys 30.00 on 5 April. A period from 15 February to 10 April holds one whole month, March:
it is rolled up in each cache the reports read, and its edges are read day by day.
"""

from __future__ import annotations

import datetime as dt
import random
from fractions import Fraction

import pytest
from django.utils import timezone

from leads.models import Via
from leads.services import contact_create, purchase_record
from reports.counts import median
from reports.daycache import bypassed, whole_months
from reports.metrics import funnel_report, roi_report
from reports.models import DayChange, MonthRollup
from reports.paths import conversion_paths
from tests.factories import channel

pytestmark = pytest.mark.django_db

UTC = dt.UTC
SPAN = {"start": dt.date(2026, 2, 15), "end": dt.date(2026, 4, 10)}
MARCH = dt.date(2026, 3, 1)


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 12, tzinfo=UTC)


@pytest.fixture
def buyers(reference_data):
    for name, source, entered, bought, amount in (
        ("ada", "facebook", at(2, 20), at(2, 25), "50.00"),
        ("ben", "instagram", at(3, 3), at(3, 12), "80.00"),
        ("cy", "x", at(4, 2), at(4, 5), "30.00"),
    ):
        person = contact_create(
            email=f"{name}@example.com", source=source, entered_at=entered, via=Via.API
        )
        purchase_record(contact=person, amount=amount, occurred_at=bought, via=Via.API)


def read_all() -> tuple:
    return (
        roi_report(**SPAN, attribution="linear"),
        {**funnel_report(**SPAN), "as_of": None},
        conversion_paths(**SPAN),
    )


def test_whole_months():
    assert whole_months(dt.date(2026, 2, 15), dt.date(2026, 4, 10)) == [MARCH]
    assert whole_months(dt.date(2026, 3, 1), dt.date(2026, 3, 31)) == [MARCH]
    assert whole_months(dt.date(2026, 3, 1), dt.date(2026, 3, 30)) == []
    assert whole_months(dt.date(2024, 2, 1), dt.date(2024, 2, 29)) == [dt.date(2024, 2, 1)]
    assert whole_months(dt.date(2025, 12, 2), dt.date(2026, 3, 31)) == [
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
        MARCH,
    ]
    assert whole_months(dt.date(2026, 4, 10), dt.date(2026, 3, 1)) == []


def test_a_whole_month_is_rolled_up_and_the_figures_are_the_days(buyers):
    first = read_all()
    rolled = set(MonthRollup.objects.values_list("cache", "keys", "month"))
    # March only (February and April are cut by the period), in every cache read.
    assert rolled == {
        ("attributedday", "lookback_days=90:model=linear", MARCH),
        ("contactday", "", MARCH),
        ("durationday", "", MARCH),
        ("pathday", "lookback_days=90", MARCH),
    }
    # Ben's March: credited 8000 cents to instagram, his entry and his 9 days to customer.
    attributed = MonthRollup.objects.get(cache="attributedday").rows
    assert [(row[0], row[2]) for row in attributed] == [(channel("instagram").pk, 8000)]
    durations = MonthRollup.objects.get(cache="durationday").rows
    nine_days = 9 * 86_400 * 1_000_000
    assert durations == [[channel("instagram").pk, None, [nine_days], [nine_days]]]
    # Read again from the roll-ups, and from the data alone: the same figures.
    assert read_all() == first
    with bypassed():
        assert read_all() == first
    assert first[0]["totals"]["revenue"] == "160.00"


def test_late_data_in_the_month_voids_its_roll_ups(buyers, django_capture_on_commit_callbacks):
    read_all()
    with django_capture_on_commit_callbacks(execute=True):
        purchase_record(email="dee@example.com", amount="20.00", occurred_at=at(3, 25), via=Via.API)
    # Deleted with the day's caches, in the writing transaction.
    assert not MonthRollup.objects.filter(month=MARCH).exists()
    report, _, paths = read_all()
    assert report["totals"]["revenue"] == "180.00"
    assert paths["totals"]["conversions"] == 4
    assert MonthRollup.objects.filter(month=MARCH).count() == 4


def test_a_roll_up_older_than_a_stamp_of_its_month_is_not_served(buyers):
    read_all()
    computed = dict(MonthRollup.objects.values_list("cache", "computed_at"))
    # A stamp of a March day after the roll-ups (a change whose delete this test skips), with
    # a roll-up row altered behind it: the altered row must not be read.
    DayChange.objects.create(day=dt.date(2026, 3, 30), changed_at=timezone.now())
    MonthRollup.objects.filter(cache="attributedday").update(rows=[])
    assert read_all()[0]["totals"]["revenue"] == "160.00"
    assert all(
        row.computed_at > computed[row.cache] for row in MonthRollup.objects.filter(month=MARCH)
    )


def test_the_current_month_is_never_rolled_up(reference_data):
    today = timezone.localdate()
    roi_report(start=today.replace(day=1), end=today, attribution="linear")
    assert not MonthRollup.objects.exists()


def test_the_median_of_sorted_lists_is_the_median_of_their_union():
    # [1, 5, 9] and [2, 3]: 1 2 3 5 9, the middle one is 3.
    assert median([[1, 5, 9], [2, 3]]) == 3
    # With [10]: 1 2 3 5 9 10, the mean of 3 and 5 is 4; with [4] instead: (3 + 4) / 2 = 3.5.
    assert median([[1, 5, 9], [2, 3], [10]]) == 4
    assert median([[1, 5, 9], [2, 3], [4]]) == Fraction(7, 2)
    assert median([[], [7]]) == 7 and median([[], []]) is None and median([]) is None
    rng = random.Random(11)
    for _ in range(200):
        lists = [
            sorted(rng.randint(-50, 10**12) for _ in range(rng.randint(0, 9)))
            for _ in range(rng.randint(1, 6))
        ]
        union = sorted(v for values in lists for v in values)
        if not union:
            continue
        middle = len(union) // 2
        expected = (
            Fraction(union[middle])
            if len(union) % 2
            else Fraction(union[middle - 1] + union[middle], 2)
        )
        assert median(lists) == expected
