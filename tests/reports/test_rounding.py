"""One rounding rule (half up, from the exact value) on every page, report, API answer and
template filter (campaigns.numbers)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from campaigns.models import Cost
from campaigns.numbers import fixed, money, per, ratio
from leads.models import Via
from leads.services import contact_create, contact_move_stage, purchase_record
from reports.dashboard import Period, headline_cards, roi_trend
from reports.metrics import funnel_report, roi_report
from reports.templatetags.report_format import fmt, signed_percent
from tests.factories import CampaignFactory, channel

UTC = dt.UTC
MARCH = {"start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 31)}


@pytest.mark.parametrize(
    "value,places,expected",
    [
        (Decimal("0.125"), 2, "0.13"),  # half up, not to even (0.12)
        (Decimal("-0.125"), 2, "-0.13"),  # away from zero
        (Fraction(1, 3), 2, "0.33"),
        (Fraction(-1, 1000), 2, "0.00"),  # no "-0.00"
        # Exact: 0.005 less a hair is below the half, though a 28-digit Decimal division
        # would have rounded it up to 0.005000... first.
        (Fraction(5, 1000) - Fraction(1, 10**40), 2, "0.00"),
        (0.125, 2, "0.13"),  # a float is taken at its exact binary value
        (2, 4, "2.0000"),
    ],
)
def test_one_rounding_rule(value, places, expected):
    assert str(fixed(value, places)) == expected


def test_ratios_and_per_unit_figures_are_null_only_on_an_exact_zero():
    assert ratio(1, 0) is None and per(Decimal("5.00"), Fraction(0)) is None
    assert per(Decimal("100.00"), Fraction(1, 3)) == "300.00"
    assert per(Decimal("1.00"), Fraction(1, 10**6)) == "1000000.00"
    assert ratio(Decimal("-36.00"), Decimal("100.00")) == "-0.3600"
    assert money(None) == "0.00"


@pytest.mark.django_db
def test_the_roi_trend_rounds_like_the_headline(reference_data):
    # March: cost 200.00, revenue 250.01: roi = 50.01 / 200 = 0.25005 exactly, 0.2501 half up.
    # The trend rounded half to even (0.2500) while the headline showed 0.2501.
    pins = CampaignFactory(channel=channel("pinterest"))
    Cost.objects.create(campaign=pins, incurred_on=dt.date(2026, 3, 2), amount=Decimal("200.00"))
    purchase_record(
        email="a@example.com",
        amount="250.01",
        occurred_at=dt.datetime(2026, 3, 9, tzinfo=UTC),
        via=Via.API,
    )
    headline = roi_report(**MARCH)["totals"]["roi"]
    trend = roi_trend([Period(MARCH["start"], MARCH["end"], "last_month")])
    assert headline == "0.2501"
    assert str(trend[0]["roi"]) == headline


def test_headline_changes_are_rounded_once():
    # Revenue 89.80 against 80.00: +0.1225 exactly, +12.3% half up. Rounding the ratio first and
    # the percentage again, or half to even, shows +12.2%.
    cards = {c["key"]: c for c in headline_cards({"revenue": "89.80"}, {"revenue": "80.00"})}
    assert signed_percent(cards["revenue"]["change"]) == "+12.3%"
    assert cards["revenue"]["good"] is True


@pytest.mark.parametrize(
    "value,kind,expected",
    [
        # Half to even showed 0.12, 1.2%, 2.12 and 0 below.
        ("0.1250", "ratio", "0.13"),
        ("0.0125", "percent", "1.3%"),
        ("2.125", "decimal", "2.13"),
        ("0.5", "count", "1"),
        ("1234.565", "money", "1,234.57 USD"),
        ("-0.3650", "ratio", "-0.37"),
        (None, "money", "—"),
    ],
)
def test_template_filters_round_half_up(value, kind, expected):
    assert fmt(value, kind) == expected


def test_signed_percent_rounds_half_up():
    assert signed_percent(Decimal("0.0125")) == "+1.3%"
    assert signed_percent(Decimal("-0.0125")) == "-1.3%"


@pytest.mark.django_db
def test_median_days_are_rounded_half_up_from_the_exact_duration():
    # A lead 432 seconds after entering: 432 / 86400 = 0.005 days exactly, shown 0.01.
    gus = contact_create(
        email="gus@example.com",
        source="x",
        entered_at=dt.datetime(2026, 8, 3, 12, tzinfo=UTC),
        via="api",
    )
    contact_move_stage(
        contact=gus, stage="lead", at=dt.datetime(2026, 8, 3, 12, 7, 12, tzinfo=UTC), via="api"
    )
    report = funnel_report(start=dt.date(2026, 8, 1), end=dt.date(2026, 8, 31))
    assert {r["key"]: r["median_days_to_lead"] for r in report["rows"]} == {"x": "0.01"}
    assert report["totals"]["median_days_to_lead"] == "0.01"


def test_the_engagement_endpoint_rounds_its_rate_by_the_same_rule(client, superuser):
    # 1 click in 20,000 impressions is 0.00005 exactly: half up gives 0.0001 (half-even gave 0).
    from tests.factories import CampaignFactory

    client.force_login(superuser)
    body = {"campaign": CampaignFactory().pk, "date": "2026-03-02", "impressions": 20000}
    response = client.post(
        "/api/v1/engagement/", {**body, "clicks": 1}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["engagement_rate"] == "0.0001"
