"""The period picker's presets, hand-worked on fixed days (issue 11).

Every preset ends on a closed day (yesterday at the latest). Each expected span is worked out
in its comment; "today" is the local date in TIME_ZONE.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from reports.dashboard import Period, preset_label, preset_period, today
from reports.periods import period_bounds, period_name, span_text

D = dt.date


def spans(on: dt.date) -> dict[str, tuple[dt.date, dt.date]]:
    return {
        key: (p.start, p.end)
        for key in (
            "last_7_days",
            "last_30_days",
            "last_90_days",
            "last_week",
            "last_month",
            "last_quarter",
            "last_year",
            "last_12_months",
            "month_to_date",
            "quarter_to_date",
            "year_to_date",
        )
        for p in [preset_period(key, on=on)]
    }


def test_presets_on_an_ordinary_tuesday():
    # Tuesday 24 November 2026: yesterday is Monday 23 November.
    assert spans(D(2026, 11, 24)) == {
        "last_7_days": (D(2026, 11, 17), D(2026, 11, 23)),  # 17..23: 7 days
        "last_30_days": (D(2026, 10, 25), D(2026, 11, 23)),  # 23 in Nov + 7 in Oct (25..31)
        # 23 in Nov + 31 in Oct + 30 in Sep + 6 in Aug (26..31) = 90
        "last_90_days": (D(2026, 8, 26), D(2026, 11, 23)),
        "last_week": (D(2026, 11, 16), D(2026, 11, 22)),  # Monday to Sunday before this week
        "last_month": (D(2026, 10, 1), D(2026, 10, 31)),
        "last_quarter": (D(2026, 7, 1), D(2026, 9, 30)),
        "last_year": (D(2025, 1, 1), D(2025, 12, 31)),  # the calendar year, labelled "(2025)"
        "last_12_months": (D(2025, 11, 1), D(2026, 10, 31)),  # full months, not this one
        "month_to_date": (D(2026, 11, 1), D(2026, 11, 23)),
        "quarter_to_date": (D(2026, 10, 1), D(2026, 11, 23)),
        "year_to_date": (D(2026, 1, 1), D(2026, 11, 23)),
    }


def test_presets_on_new_years_day():
    # Friday 1 January 2027: yesterday closed December, Q4 and 2026, so the "to date" presets
    # are those whole periods (no day of 2027 is closed yet).
    assert spans(D(2027, 1, 1)) == {
        "last_7_days": (D(2026, 12, 25), D(2026, 12, 31)),
        "last_30_days": (D(2026, 12, 2), D(2026, 12, 31)),
        "last_90_days": (D(2026, 10, 3), D(2026, 12, 31)),  # 31 Dec + 30 Nov + 29 Oct (3..31)
        "last_week": (D(2026, 12, 21), D(2026, 12, 27)),  # this week began Monday 28 Dec
        "last_month": (D(2026, 12, 1), D(2026, 12, 31)),
        "last_quarter": (D(2026, 10, 1), D(2026, 12, 31)),
        "last_year": (D(2026, 1, 1), D(2026, 12, 31)),
        "last_12_months": (D(2026, 1, 1), D(2026, 12, 31)),
        "month_to_date": (D(2026, 12, 1), D(2026, 12, 31)),
        "quarter_to_date": (D(2026, 10, 1), D(2026, 12, 31)),
        "year_to_date": (D(2026, 1, 1), D(2026, 12, 31)),
    }
    ytd = preset_period("year_to_date", on=D(2027, 1, 1))
    assert ytd.previous() == Period(D(2025, 1, 1), D(2025, 12, 31), "year_to_date")


def test_presets_around_a_leap_day():
    # Wednesday 1 March 2028: yesterday was 29 February (2028 is a leap year).
    on = D(2028, 3, 1)
    got = spans(on)
    assert got["last_30_days"] == (D(2028, 1, 31), D(2028, 2, 29))  # 29 in Feb + 31 Jan
    assert got["month_to_date"] == (D(2028, 2, 1), D(2028, 2, 29))  # February, whole
    assert got["year_to_date"] == (D(2028, 1, 1), D(2028, 2, 29))
    assert got["last_month"] == (D(2028, 2, 1), D(2028, 2, 29))
    # Year to date against the same days of 2027, which has no 29 February.
    ytd = preset_period("year_to_date", on=on)
    assert ytd.previous() == Period(D(2027, 1, 1), D(2027, 2, 28), "year_to_date")
    # Friday 31 March 2028: month to date is 1..30 March; the month before has 29 days, and the
    # one before that is 1..30 January again (each step from March, not from clamped February).
    mtd = preset_period("month_to_date", on=D(2028, 3, 31))
    assert [(p.start, p.end) for p in mtd.trail(3)] == [
        (D(2028, 1, 1), D(2028, 1, 30)),
        (D(2028, 2, 1), D(2028, 2, 29)),
        (D(2028, 3, 1), D(2028, 3, 30)),
    ]


def test_previous_periods_of_the_new_presets():
    on = D(2026, 11, 24)
    assert preset_period("last_30_days", on=on).previous() == Period(
        D(2026, 9, 25),
        D(2026, 10, 24),
        "last_30_days",  # the 30 days before 25 Oct
    )
    assert preset_period("last_12_months", on=on).previous() == Period(
        D(2024, 11, 1), D(2025, 10, 31), "last_12_months"
    )
    assert preset_period("quarter_to_date", on=on).previous() == Period(
        D(2026, 7, 1),
        D(2026, 8, 23),
        "quarter_to_date",  # the same 54 days of Q3
    )
    last_year = preset_period("last_year", on=on)
    assert [p.start.year for p in last_year.trail(3)] == [2023, 2024, 2025]


@pytest.mark.parametrize(
    "utc,zone,local_today,last7,hours",
    [
        # Europe/Berlin moves to summer time on Sunday 29 March 2026 (a 23-hour day).
        # 21:30 UTC on the 29th is 23:30 in Berlin: still the 29th; the last 7 days 22..28.
        (
            dt.datetime(2026, 3, 29, 21, 30, tzinfo=dt.UTC),
            "Europe/Berlin",
            D(2026, 3, 29),
            (D(2026, 3, 22), D(2026, 3, 28)),
            168,
        ),
        # 22:30 UTC is 00:30 on the 30th: the last 7 days 23..29 hold the short day.
        (
            dt.datetime(2026, 3, 29, 22, 30, tzinfo=dt.UTC),
            "Europe/Berlin",
            D(2026, 3, 30),
            (D(2026, 3, 23), D(2026, 3, 29)),
            167,
        ),
        # Back to winter time on Sunday 25 October 2026 (a 25-hour day); 00:30 on Monday 26th.
        (
            dt.datetime(2026, 10, 25, 23, 30, tzinfo=dt.UTC),
            "Europe/Berlin",
            D(2026, 10, 26),
            (D(2026, 10, 19), D(2026, 10, 25)),
            169,
        ),
        # New York at 20:00 on 31 December is already 1 January in UTC: the local year counts.
        (
            dt.datetime(2027, 1, 1, 1, 0, tzinfo=dt.UTC),
            "America/New_York",
            D(2026, 12, 31),
            (D(2026, 12, 24), D(2026, 12, 30)),
            168,
        ),
    ],
)
def test_presets_follow_the_local_day_across_dst(utc, zone, local_today, last7, hours):
    with time_machine.travel(utc, tick=False), timezone.override(zone):
        assert today() == local_today
        p = preset_period("last_7_days")
        assert (p.start, p.end) == last7
        lo, hi = period_bounds(p.start, p.end)
        # Aware datetimes of one zone subtract as wall clocks: compare the instants in UTC.
        assert hi.astimezone(dt.UTC) - lo.astimezone(dt.UTC) == dt.timedelta(hours=hours)


def test_labels_say_which_dates():
    on = D(2026, 11, 24)
    assert preset_label("last_year", on=on) == "Last year (2025)"
    assert preset_label("last_quarter", on=on) == "Last quarter (Q3 2026)"
    assert preset_label("last_month", on=on) == "Last month (October 2026)"
    assert preset_label("last_week", on=on) == "Last week (Week 47, 2026)"
    assert preset_label("last_7_days", on=on) == "Last 7 days (17\u201323 Nov 2026)"
    assert preset_label("last_30_days", on=on) == "Last 30 days (25 Oct \u2013 23 Nov 2026)"
    assert preset_label("last_12_months", on=on) == "Last 12 months (Nov 2025 \u2013 Oct 2026)"
    assert preset_label("year_to_date", on=on) == "Year to date (1 Jan \u2013 23 Nov 2026)"
    assert preset_label("custom", on=on) == "Custom range"


def test_period_names():
    assert period_name(D(2026, 3, 1), D(2026, 3, 31)) == "March 2026"
    assert period_name(D(2026, 7, 1), D(2026, 9, 30)) == "Q3 2026"
    assert period_name(D(2025, 1, 1), D(2025, 12, 31)) == "2025"
    assert period_name(D(2026, 11, 16), D(2026, 11, 22)) == "Week 47, 2026"
    # ISO week 1 of 2027 starts on Monday 4 January; 28 Dec 2026 is week 53 of 2026.
    assert period_name(D(2026, 12, 28), D(2027, 1, 3)) == "Week 53, 2026"
    assert period_name(D(2026, 3, 1), D(2026, 3, 15)) == "1\u201315 Mar 2026"
    assert period_name(D(2026, 11, 23), D(2026, 11, 23)) == "23 Nov 2026"
    assert period_name(D(2028, 2, 1), D(2028, 2, 29)) == "February 2028"
    assert span_text(D(2025, 12, 16), D(2026, 1, 15)) == "16 Dec 2025 \u2013 15 Jan 2026"


@pytest.mark.django_db
def test_the_picker_offers_every_preset_with_its_dates(client, marketing_user):
    client.force_login(marketing_user)
    with time_machine.travel(dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC), tick=False):
        response = client.get("/reports/", {"preset": "last_30_days"})
    assert response.status_code == 200
    assert (response.context["period"].start, response.context["period"].end) == (
        D(2026, 10, 25),
        D(2026, 11, 23),
    )
    html = response.content.decode()
    assert '<option value="last_year">Last year (2025)</option>' in html
    assert "Year to date (1 Jan \u2013 23 Nov 2026)" in html


@pytest.mark.django_db
@pytest.mark.parametrize("preset", ["last_7_days", "month_to_date", "last_12_months"])
def test_the_pages_answer_every_new_preset(client, marketing_user, scenario, preset):
    # 15 April 2026: month to date 1..14 April; last 12 months April 2025 - March 2026 holds
    # the scenario's March (revenue 150.00); the last 7 days (8..14 April) hold nothing.
    client.force_login(marketing_user)
    with time_machine.travel(dt.datetime(2026, 4, 15, 12, tzinfo=dt.UTC), tick=False):
        dashboard = client.get("/reports/", {"preset": preset})
        attribution = client.get("/reports/attribution/", {"preset": preset})
    assert dashboard.status_code == attribution.status_code == 200
    revenue = dashboard.context["channels"]["totals"]["revenue"]
    assert revenue == ("150.00" if preset == "last_12_months" else "0.00")
    assert len(dashboard.context["trend"]) == 12
