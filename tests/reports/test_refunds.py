"""Revenue net of refunds, hand-worked under every model (SPEC §10 "Refunds"). UTC.

Two purchases in March 2026:
- Ada pays 100.00 on 10 March 00:00 after four touches: facebook 1 March (9 days before),
  instagram 5 March (5 days), x 8 March (2 days), pinterest 10 March 00:00 (0 days). On 12 March
  33.33 of it is refunded: its net is 66.67, 6667 cents, split by each model's shares.
- Bob pays 50.00 on 12 March 12:00 after two touches: linkedin 2 March 12:00 (10 days before)
  and email 12 March 12:00 (0 days). 20.00 is refunded on 13 March and 30.00 on 2 April (after
  the period: still credited on the purchase's day): fully refunded, net 0.
Both are first purchases: two new customers, whatever the refunds.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from leads.models import Refund, Via
from leads.services import purchase_record, refund_delete, refund_record
from reports.dashboard import Period, campaign_data, roi_trend, trend_periods
from reports.metrics import roi_report
from reports.models import AttributedDay, DayChange, PathDay, Report
from reports.paths import conversion_paths
from reports.services import report_request
from reports.verify import caches_verify
from tests.factories import ContactFactory, PurchaseFactory, TouchpointFactory, channel

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MARCH = {"start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 31)}
MODELS = ["first_touch", "last_touch", "linear", "position_based", "time_decay"]


def at(month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=UTC)


def rows(report: dict, name: str) -> dict[str, str]:
    return {r["key"]: r[name] for r in report["rows"] if r[name] not in ("0.00", 0)}


@pytest.fixture
def refunded(reference_data):
    ada = ContactFactory(source_channel=channel("facebook"), entered_at=at(3, 1))
    for slug, when in (
        ("facebook", at(3, 1)),
        ("instagram", at(3, 5)),
        ("x", at(3, 8)),
        ("pinterest", at(3, 10)),
    ):
        TouchpointFactory(contact=ada, channel=channel(slug), occurred_at=when)
    ada_buys = PurchaseFactory(contact=ada, amount=Decimal("100.00"), occurred_at=at(3, 10))
    refund_record(purchase=ada_buys, amount="33.33", occurred_at=at(3, 12), via=Via.API)

    bob = ContactFactory(source_channel=channel("linkedin"), entered_at=at(3, 2, 12))
    TouchpointFactory(contact=bob, channel=channel("linkedin"), occurred_at=at(3, 2, 12))
    TouchpointFactory(contact=bob, channel=channel("email"), occurred_at=at(3, 12, 12))
    bob_buys = PurchaseFactory(contact=bob, amount=Decimal("50.00"), occurred_at=at(3, 12, 12))
    refund_record(purchase=bob_buys, amount="20.00", occurred_at=at(3, 13), via=Via.API)
    refund_record(purchase=bob_buys, amount="30.00", occurred_at=at(4, 2), via=Via.API)
    return {"ada": ada_buys, "bob": bob_buys}


# Ada's 6667 net cents per model; Bob's net is 0, so his touches earn 0.00 in every model.
NET_REVENUE = {
    # All of it to the first touch ever.
    "first_touch": {"facebook": "66.67"},
    # All of it to the latest touch at or before the purchase.
    "last_touch": {"pinterest": "66.67"},
    # 6667 / 4 = 1666.75: floors 1666 x 4 = 6664; the 3 remainder cents go to the largest exact
    # share, all four tied: the earliest touch, facebook (1669).
    "linear": {"facebook": "16.69", "instagram": "16.66", "x": "16.66", "pinterest": "16.66"},
    # 2/5 of 6667 = 2666.8 for the first and the last, 1/10 = 666.7 for each middle one: floors
    # 2666 + 666 + 666 + 2666 = 6664; 3 remainder cents to the largest exact share, first and
    # last tied: the earlier, facebook (2669).
    "position_based": {
        "facebook": "26.69",
        "instagram": "6.66",
        "x": "6.66",
        "pinterest": "26.66",
    },
    # Weights 2^(-age/7): 2^(-9/7) = 0.410168, 2^(-5/7) = 0.609507, 2^(-2/7) = 0.820335, 1; sum
    # 2.840010. 6667 * w / sum = 962.88, 1430.83, 1925.76, 2347.53: floors 962 + 1430 + 1925 +
    # 2347 = 6664; the 3 remainder cents go to the largest share, the youngest: pinterest 2350.
    "time_decay": {"facebook": "9.62", "instagram": "14.30", "x": "19.25", "pinterest": "23.50"},
}
# Customers are credited by the weights of each first purchase, refunded or not. Ada: as in
# test_metrics (linear 1/4 each; position based 2/5, 1/10, 1/10, 2/5; time decay 0.144, 0.215,
# 0.289, 0.352). Bob, two touches: first touch linkedin; last touch email; linear and position
# based 1/2 each; time decay 2^(-10/7) = 0.371499 and 1, normalised 0.270862 and 0.729138.
CUSTOMERS = {
    "first_touch": {"facebook": "1.00", "linkedin": "1.00"},
    "last_touch": {"pinterest": "1.00", "email": "1.00"},
    "linear": {
        "facebook": "0.25",
        "instagram": "0.25",
        "x": "0.25",
        "pinterest": "0.25",
        "linkedin": "0.50",
        "email": "0.50",
    },
    "position_based": {
        "facebook": "0.40",
        "instagram": "0.10",
        "x": "0.10",
        "pinterest": "0.40",
        "linkedin": "0.50",
        "email": "0.50",
    },
    "time_decay": {
        "facebook": "0.14",
        "instagram": "0.21",
        "x": "0.29",
        "pinterest": "0.35",
        "linkedin": "0.27",
        "email": "0.73",
    },
}


@pytest.mark.parametrize("model", MODELS)
def test_a_partial_and_a_full_refund_under_every_model(refunded, model):
    report = roi_report(**MARCH, attribution=model)
    assert rows(report, "revenue") == NET_REVENUE[model]
    assert rows(report, "customers") == CUSTOMERS[model]
    # Assists, whatever the model: Ada's last touch is pinterest, so facebook, instagram and x
    # assisted her purchase (its net 66.67 each); Bob's is email, so linkedin assisted his,
    # whose net is 0: an assisted conversion with no assisted revenue.
    assert rows(report, "assisted_conversions") == {
        "facebook": 1,
        "instagram": 1,
        "x": 1,
        "linkedin": 1,
    }
    assert rows(report, "assisted_revenue") == {
        "facebook": "66.67",
        "instagram": "66.67",
        "x": "66.67",
    }
    # The totals: 66.67 + 0.00 of revenue, both customers, two assisted purchases worth 66.67.
    totals = report["totals"]
    assert totals["revenue"] == "66.67"
    assert totals["customers"] == "2.00"
    assert (totals["assisted_conversions"], totals["assisted_revenue"]) == (2, "66.67")


def test_totals_are_the_same_in_every_model_and_grouping(refunded):
    totals = {
        (model, group_by): roi_report(**MARCH, attribution=model, group_by=group_by)["totals"]
        for model in MODELS
        for group_by in ("channel", "campaign")
    }
    assert {t["revenue"] for t in totals.values()} == {"66.67"}
    assert {t["customers"] for t in totals.values()} == {"2.00"}
    for report in (roi_report(**MARCH, attribution=m) for m in MODELS):
        assert sum(Decimal(r["revenue"]) for r in report["rows"]) == Decimal("66.67")


def test_a_refund_counts_on_its_purchases_day_not_its_own(refunded):
    # Bob's second refund is dated 2 April: April has no purchase, so no revenue to lower; March
    # carries all of it.
    april = roi_report(start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 30))
    assert april["totals"]["revenue"] == "0.00"
    ada_day = roi_report(start=dt.date(2026, 3, 10), end=dt.date(2026, 3, 10))
    assert ada_day["totals"]["revenue"] == "66.67"


def test_a_fully_refunded_walk_in_stays_a_customer_in_the_unattributed_row(reference_data):
    # A walk-in without a coupon pays 30.00 on 3 March and gets all of it back: no touch, so
    # the unattributed row shows its customer and no revenue, in every model.
    purchase, _ = purchase_record(
        email="cash@example.com", amount="30.00", occurred_at=at(3, 3), via=Via.API
    )
    refund_record(purchase=purchase, amount="30.00", occurred_at=at(3, 4), via=Via.API)
    assert purchase.contact.stage == "customer"
    for model in MODELS:
        report = roi_report(**MARCH, attribution=model)
        unattributed = next(r for r in report["rows"] if r["key"] == "unattributed")
        assert (unattributed["revenue"], unattributed["customers"]) == ("0.00", "1.00")
        assert (report["totals"]["revenue"], report["totals"]["customers"]) == ("0.00", "1.00")


@pytest.mark.parametrize(
    "refund,expected",
    [
        # 10.02 paid, 0.03 refunded: 999 net cents over three equal touches, floors 333 each,
        # no remainder.
        ("0.03", {"facebook": "3.33", "x": "3.33", "linkedin": "3.33"}),
        # 0.02 refunded: 1000 cents over three: floors 333 x 3 = 999, the remainder cent to the
        # earliest of the tied shares, facebook.
        ("0.02", {"facebook": "3.34", "x": "3.33", "linkedin": "3.33"}),
        # 10.01 refunded: 1 cent over three: floors 0, the cent to facebook.
        ("10.01", {"facebook": "0.01"}),
    ],
)
def test_the_net_amount_is_rounded_to_cents_like_any_amount(reference_data, refund, expected):
    contact = ContactFactory(entered_at=at(3, 1))
    for slug, day in (("facebook", 1), ("x", 2), ("linkedin", 3)):
        TouchpointFactory(contact=contact, channel=channel(slug), occurred_at=at(3, day))
    purchase = PurchaseFactory(contact=contact, amount=Decimal("10.02"), occurred_at=at(3, 4))
    refund_record(purchase=purchase, amount=refund, occurred_at=at(3, 5), via=Via.API)
    report = roi_report(**MARCH, attribution="linear")
    assert rows(report, "revenue") == expected
    assert report["totals"]["revenue"] == str(Decimal("10.02") - Decimal(refund))


def test_conversion_paths_count_net_revenue(refunded):
    # Two conversions: Ada's path (facebook, instagram, x, pinterest) worth 66.67 net, and Bob's
    # (linkedin, email) worth 0.00; both still conversions.
    report = conversion_paths(**MARCH)
    revenue = {r["label"]: r["revenue"] for r in report["rows"]}
    assert revenue == {
        "Facebook → Instagram → X (Twitter) → Pinterest": Decimal("66.67"),
        "LinkedIn → Email": Decimal("0.00"),
    }
    assert (report["totals"]["conversions"], report["totals"]["revenue"]) == (2, Decimal("66.67"))


# --- late data: a refund voids its purchase's day --------------------------------------------


def test_a_refund_voids_the_purchases_day_and_the_saved_report_follows(
    refunded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = report_request(group_by="channel", attribution="linear", **MARCH)
    report.refresh_from_db()
    assert report.status == "done"
    assert report.data["roi"]["totals"]["revenue"] == "66.67"
    # The closed days of March are cached now, Ada's day (10 March) among them.
    roi_report(**MARCH, attribution="linear")
    conversion_paths(**MARCH)
    assert AttributedDay.objects.filter(day=dt.date(2026, 3, 10), model="linear").exists()
    assert PathDay.objects.filter(day=dt.date(2026, 3, 10)).exists()

    # Another 16.67 of Ada's purchase is refunded on 1 April: late data for 10 March.
    with django_capture_on_commit_callbacks(execute=True):
        refund, _ = refund_record(
            purchase=refunded["ada"], amount="16.67", occurred_at=at(4, 1), via=Via.API
        )
    # 10 March is stamped changed (not 1 April, the refund's own day); the cached rows of 10
    # March that were read before are gone (the regenerated report stored fresh ones since).
    stamp = DayChange.objects.get(day=dt.date(2026, 3, 10)).changed_at
    assert not DayChange.objects.filter(day=dt.date(2026, 4, 1)).exists()
    assert not AttributedDay.objects.filter(day=dt.date(2026, 3, 10), computed_at__lt=stamp)
    assert not PathDay.objects.filter(day=dt.date(2026, 3, 10), computed_at__lt=stamp)
    # Regenerated, and equal to the live figures: 100.00 - 33.33 - 16.67 = 50.00.
    report = Report.objects.get(pk=report.pk)
    live = roi_report(**MARCH, attribution="linear")
    assert report.status == "done" and not report.stale
    assert report.data["roi"]["totals"] == live["totals"]
    assert live["totals"]["revenue"] == "50.00"
    # 5000 / 4 = 1250 each: no remainder.
    assert rows(live, "revenue") == {
        "facebook": "12.50",
        "instagram": "12.50",
        "x": "12.50",
        "pinterest": "12.50",
    }

    # Deleting the refund again is late data for the same day, and the report follows back.
    with django_capture_on_commit_callbacks(execute=True):
        refund_delete(refund=refund)
    report = Report.objects.get(pk=report.pk)
    assert report.data["roi"]["totals"]["revenue"] == "66.67"
    assert roi_report(**MARCH, attribution="linear")["totals"]["revenue"] == "66.67"


def test_the_caches_prove_themselves_net_of_refunds(refunded, django_capture_on_commit_callbacks):
    for model in MODELS:
        roi_report(**MARCH, attribution=model)
    conversion_paths(**MARCH)
    assert caches_verify().mismatches == []
    # A refund written around the service declares nothing: the cached days now disagree with
    # the data, and the independent recomputation (net of refunds) says so.
    Refund.objects.create(purchase=refunded["ada"], amount=Decimal("1.00"), occurred_at=at(4, 3))
    found = caches_verify().mismatches
    assert found and {m.which for m in found} >= {"2026-03-10"}


# --- the pages: dashboard, campaign page, CSV ---------------------------------------------------


@pytest.fixture
def marketer_client(client, marketing_user):
    client.force_login(marketing_user)
    return client


@pytest.fixture
def scenario_refunded(scenario, django_capture_on_commit_callbacks):
    """tests/reports/conftest.py's March (Ada 100.00 with PIN10 on 20 March after entering from
    the B2B campaign; a walk-in 50.00 with PIN10 on 15 March; costs 400.00 + 200.00), with 30.00
    of Ada's purchase refunded on 25 March: revenue 70.00 + 50.00 = 120.00."""
    ada_buys = scenario["ada"].purchases.get()
    with django_capture_on_commit_callbacks(execute=True):
        refund_record(purchase=ada_buys, amount="30.00", occurred_at=at(3, 25), via=Via.API)
    return scenario


def test_the_dashboard_shows_net_revenue(marketer_client, scenario_refunded):
    response = marketer_client.get(reverse("reports:dashboard"), MARCH)
    cards = {c["key"]: c for c in response.context["headlines"]}
    # ROI (120.00 - 600.00) / 600.00 = -0.8000.
    assert (cards["revenue"]["value"], cards["roi"]["value"]) == ("120.00", "-0.8000")
    channels = {r["key"]: r["revenue"] for r in response.context["channels"]["rows"]}
    assert channels["pinterest"] == "120.00"  # last touch: the coupon closes both
    # The ROI trend's March: 150.00 paid less 30.00 refunded.
    march = next(p for p in roi_trend(trend_periods(_march())) if p["start"] == MARCH["start"])
    assert march["revenue"] == Decimal("120.00")


def test_the_campaign_pages_coupon_revenue_is_net(scenario_refunded):
    data = campaign_data(campaign=scenario_refunded["pins"], period=_march(), attribution="linear")
    coupon = data["coupons"][0]
    # Used twice in March: 100.00 + 50.00 paid, 30.00 refunded.
    assert (coupon.code, coupon.used, coupon.revenue) == ("PIN10", 2, Decimal("120.00"))


def test_the_csv_export_shows_net_revenue(marketer_client, scenario_refunded):
    response = marketer_client.get(
        reverse("reports:export", args=["channels"]), {**MARCH, "attribution": "first_touch"}
    )
    table = {r["key"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    # First touch: Ada's 70.00 net to linkedin (her source campaign), the walk-in's 50.00 to
    # pinterest (its coupon touch is its first).
    assert table["linkedin"]["revenue"] == "70.00"
    assert table["pinterest"]["revenue"] == "50.00"
    assert table["totals"]["revenue"] == "120.00"


def _march() -> Period:
    return Period(start=MARCH["start"], end=MARCH["end"], preset="last_month")
