"""Hand-worked figures that must be exact (SPEC §3): customers credited by the model's weights,
the cost per customer from the exact credit, the remainder cent on the largest exact share, the
first touch ever in one order everywhere, discounts that add up, one rounding rule.

Each scenario is the smallest data that shows its rule, in UTC, on closed days of 2026. Every
report is read twice: cold (the day caches empty: the attribution statement runs) and then
through the day caches (AttributedDay / ContactDay rows written by the first read), and both
reads must agree with the numbers worked out in the comments.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from django.db import connection

from campaigns.models import Cost
from campaigns.numbers import fixed
from leads.models import Contact, Via
from leads.services import contact_create, contact_move_stage, purchase_record, touchpoint_record
from reports.changes import caches_cleared
from reports.metrics import funnel_report, roi_report, roi_reports
from reports.models import RULE_BASED, AttributedDay, ContactDay
from tests.factories import CampaignFactory, CouponFactory, channel

pytestmark = pytest.mark.django_db

UTC = dt.UTC
JUNE = {"start": dt.date(2026, 6, 1), "end": dt.date(2026, 6, 30)}
JULY = {"start": dt.date(2026, 7, 1), "end": dt.date(2026, 7, 31)}
AUGUST = {"start": dt.date(2026, 8, 1), "end": dt.date(2026, 8, 31)}


def at(month: int, day: int, hour: int = 12, *, minute: int = 0, micro: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, microsecond=micro, tzinfo=UTC)


def cold_then_cached(read, *, cache=AttributedDay):
    """`read()` with the day caches empty, then again from the rows the first read stored."""
    caches_cleared()
    cold = read()
    assert cache.objects.exists(), "the first read stores the closed days"
    cached = read()
    assert {**cached, "as_of": None} == {**cold, "as_of": None}  # the funnel says when it was read
    return cold


def figures(report: dict, name: str) -> dict[str, object]:
    return {row["key"]: row[name] for row in report["rows"]}


def nonzero(report: dict, name: str) -> dict[str, object]:
    """The rows' non-zero values of a figure (a walk-in without a coupon adds a follower to the
    `direct` row until its source becomes NULL: that row has no money)."""
    return {key: value for key, value in figures(report, name).items() if Decimal(value) != 0}


def test_customers_are_split_by_the_models_weights_not_by_the_rounded_cents():
    # LinkedIn follow on 1 August, Pinterest click on 2 August, a purchase of 0.01 on 3 August
    # (all at noon): one new customer, one cent.
    ada = contact_create(email="ada@example.com", source="linkedin", entered_at=at(8, 1), via="api")
    touchpoint_record(contact=ada, channel=channel("pinterest"), kind="click", occurred_at=at(8, 2))
    purchase_record(contact=ada, amount="0.01", occurred_at=at(8, 3), via=Via.API)

    # Time decay: ages 2 and 1 days, weights 2^(-2/7) = 0.820335 and 2^(-1/7) = 0.905724, sum
    # 1.726059: exact shares 0.475259 and 0.524741 (47.5% / 52.5%).
    expected = {
        # model: (revenue, customers) of linkedin, then pinterest
        # Everything to the first touch, or to the last.
        "first_touch": (("0.01", "1.00"), ("0.00", "0.00")),
        "last_touch": (("0.00", "0.00"), ("0.01", "1.00")),
        # Half each: the cent floors to 0 + 0, the remainder cent goes to the largest exact share,
        # a tie, so to the earlier touch (LinkedIn); the customer is 1/2 + 1/2 whatever the cent
        # did (the old figures followed the cent: 1.00 and 0.00).
        "linear": (("0.01", "0.50"), ("0.00", "0.50")),
        # Two touches: 50/50, the same as linear.
        "position_based": (("0.01", "0.50"), ("0.00", "0.50")),
        # The cent goes to the largest exact share, Pinterest's 52.5% (it went to the first
        # touch); the customer is 0.475259 -> 0.48 and 0.524741 -> 0.52.
        "time_decay": (("0.00", "0.48"), ("0.01", "0.52")),
    }
    for model, (linkedin, pinterest) in expected.items():
        report = cold_then_cached(lambda model=model: roi_report(**AUGUST, attribution=model))
        revenue, customers = figures(report, "revenue"), figures(report, "customers")
        assert (revenue["linkedin"], customers["linkedin"]) == linkedin, model
        assert (revenue["pinterest"], customers["pinterest"]) == pinterest, model
        assert (report["totals"]["revenue"], report["totals"]["customers"]) == ("0.01", "1.00")


def test_the_remainder_cent_goes_to_the_first_of_the_youngest_touches_under_time_decay():
    # Facebook follow on 1 August noon; on 3 August at noon Ada buys for 0.01 with a Pinterest
    # coupon (a coupon touch at that instant) and an X click is recorded at the same instant,
    # after the purchase (a higher id). The touches in order: facebook, x, the coupon (a coupon
    # touch sorts last at its instant, so it is the last touch).
    pins = CampaignFactory(name="Pins", channel=channel("pinterest"))
    CouponFactory(code="PIN", campaign=pins)
    ada = contact_create(email="ada@example.com", source="facebook", entered_at=at(8, 1), via="api")
    purchase_record(contact=ada, amount="0.01", coupon="PIN", occurred_at=at(8, 3), via=Via.API)
    touchpoint_record(contact=ada, channel=channel("x"), kind="click", occurred_at=at(8, 3))
    # Weights 2^(-2/7) = 0.820335, 1, 1 (sum 2.820335): shares 0.2909, 0.3546, 0.3546 of a
    # cent, all floored to 0. The remainder cent goes to the largest exact share, tied between
    # the click and the coupon touch: the earlier of them, the click (it went to facebook).
    report = cold_then_cached(lambda: roi_report(**AUGUST, attribution="time_decay"))
    assert figures(report, "revenue") == {"facebook": "0.00", "x": "0.01", "pinterest": "0.00"}
    # Customers 0.2909 -> 0.29, 0.3546 -> 0.35 twice: the rows show 0.99, the customer is whole.
    assert figures(report, "customers") == {"facebook": "0.29", "x": "0.35", "pinterest": "0.35"}
    assert report["totals"]["customers"] == "1.00"
    # Last touch: the coupon wins the tie at 3 August noon.
    report = cold_then_cached(lambda: roi_report(**AUGUST, attribution="last_touch"))
    assert figures(report, "revenue") == {"facebook": "0.00", "x": "0.00", "pinterest": "0.01"}


def test_cost_per_customer_divides_by_the_exact_credit():
    # Campaign A (facebook) costs 100.00 on 1 July; Bo touches A, B, C on 1, 2, 3 July and buys
    # for 90.00 on 4 July.
    a = CampaignFactory(name="A", channel=channel("facebook"))
    b = CampaignFactory(name="B", channel=channel("instagram"))
    c = CampaignFactory(name="C", channel=channel("x"))
    Cost.objects.create(campaign=a, incurred_on=dt.date(2026, 7, 1), amount=Decimal("100.00"))
    bo = contact_create(email="bo@example.com", source_campaign=a, entered_at=at(7, 1), via="api")
    touchpoint_record(contact=bo, campaign=b, occurred_at=at(7, 2))
    touchpoint_record(contact=bo, campaign=c, occurred_at=at(7, 3))
    purchase_record(contact=bo, amount="90.00", occurred_at=at(7, 4), via=Via.API)
    reports = cold_then_cached(lambda: roi_reports(**JULY, attribution="linear"))
    # Linear: A is credited 1/3 customer, shown 0.33; its cost per customer is 100 / (1/3) =
    # 300.00 (dividing by the shown 0.33 gave 303.03). Revenue 30.00 each.
    row = next(r for r in reports["campaign"]["rows"] if r["key"] == str(a.pk))
    assert (row["revenue"], row["customers"], row["cost_per_customer"]) == (
        "30.00",
        "0.33",
        "300.00",
    )
    facebook = next(r for r in reports["channel"]["rows"] if r["key"] == "facebook")
    assert (facebook["customers"], facebook["cost_per_customer"]) == ("0.33", "300.00")
    # B and C cost nothing: 0.00 per customer (a zero cost over a non-zero credit).
    assert {r["key"]: r["cost_per_customer"] for r in reports["campaign"]["rows"]} == {
        str(a.pk): "300.00",
        str(b.pk): "0.00",
        str(c.pk): "0.00",
    }
    # The totals: 100.00 over one whole customer.
    assert reports["campaign"]["totals"]["cost_per_customer"] == "100.00"
    # Position based: the ends 2/5 each, the middle 1/5: A 0.40 customer, 100 / (2/5) = 250.00.
    report = cold_then_cached(
        lambda: roi_report(**JULY, group_by="campaign", attribution="position_based")
    )
    row = next(r for r in report["rows"] if r["key"] == str(a.pk))
    assert (row["customers"], row["cost_per_customer"]) == ("0.40", "250.00")


def test_a_credit_shown_as_zero_customers_still_has_a_cost_per_customer():
    # "Old" (facebook) costs 100.00 in August. Cy followed it on 1 June, touched instagram on
    # 31 July and bought for 50.00 on 1 August (all at midnight): ages 61 and 1 days.
    old = CampaignFactory(name="Old", channel=channel("facebook"))
    Cost.objects.create(campaign=old, incurred_on=dt.date(2026, 8, 1), amount=Decimal("100.00"))
    cy = contact_create(
        email="cy@example.com", source_campaign=old, entered_at=at(6, 1, 0), via="api"
    )
    touchpoint_record(contact=cy, channel=channel("instagram"), occurred_at=at(7, 31, 0))
    purchase_record(contact=cy, amount="50.00", occurred_at=at(8, 1, 0), via=Via.API)
    report = cold_then_cached(
        lambda: roi_report(**AUGUST, group_by="campaign", attribution="time_decay")
    )
    row = next(r for r in report["rows"] if r["key"] == str(old.pk))
    # Time decay: Old weighs 2^(-60/7) = 0.0026287 against the young touch's 1: its share of
    # the customer is 0.0026287 / 1.0026287 = 0.0026218, shown 0.00; its cost per customer is
    # 100 / 0.0026218 = about 38,141.6 (it was null: the rounded 0.00 was the denominator).
    # Revenue: 5000 cents * 0.0026218 = 13.1 -> 13 cents.
    w = 2.0 ** (-(61.0 - 1.0) / 7)
    share = Fraction(w / (1.0 + w))
    assert (row["revenue"], row["customers"]) == ("0.13", "0.00")
    assert row["cost_per_customer"] == str(fixed(100 / share, 2))
    assert Decimal("38141") < Decimal(row["cost_per_customer"]) < Decimal("38142")


def test_the_first_touch_ever_is_the_same_touch_in_every_query():
    # 1 March noon: a walk-in buys with the Pinterest coupon (its coupon touch, the lower id),
    # and an X click is recorded at the same instant (a higher id). In the touches' order the
    # coupon touch comes after the click at its instant, so the first touch ever is the click.
    pins = CampaignFactory(name="Pins", channel=channel("pinterest"))
    CouponFactory(code="PIN", campaign=pins)
    purchase_record(
        email="di@example.com", amount="5.00", coupon="PIN", occurred_at=at(3, 1), via=Via.API
    )
    di = Contact.objects.get(email="di@example.com")
    touchpoint_record(contact=di, channel=channel("x"), kind="click", occurred_at=at(3, 1))
    # 4 June: an instagram visit; 9 June: a purchase of 20.00 (100 days after 1 March: both
    # touches of 1 March are out of the 90-day window, only the first touch ever joins).
    touchpoint_record(contact=di, channel=channel("instagram"), occurred_at=at(6, 4))
    purchase_record(contact=di, amount="20.00", occurred_at=at(6, 9), via=Via.API)
    # Eve buys for 10.00 on 4 June and is touched on 5 June: the touch is after her purchase,
    # and her first touch ever is too, so the purchase is unattributed in every model.
    eve = contact_create(email="eve@example.com", entered_at=at(6, 4, 0), via="api")
    purchase_record(contact=eve, amount="10.00", occurred_at=at(6, 4), via=Via.API)
    touchpoint_record(contact=eve, channel=channel("facebook"), occurred_at=at(6, 5))
    expected = {
        # First touch: the click, 20.00 (it was the coupon's campaign: the out-of-window pick
        # ordered by id only).
        "first_touch": {"x": "20.00"},
        # Linear over the click and the visit: 10.00 each (it was pinterest and instagram).
        "linear": {"x": "10.00", "instagram": "10.00"},
        "last_touch": {"instagram": "20.00"},
    }
    for model, revenue in expected.items():
        report = cold_then_cached(lambda model=model: roi_report(**JUNE, attribution=model))
        assert nonzero(report, "revenue") == {**revenue, "unattributed": "10.00"}, model
        assert report["totals"]["revenue"] == "30.00"
    # March: the walk-in's own purchase, with both touches at its instant: first touch: the click.
    march = roi_report(
        start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), attribution="first_touch"
    )
    assert nonzero(march, "revenue") == {"x": "5.00"}


def test_discounts_without_a_coupon_count_in_the_unattributed_row():
    # A walk-in without a coupon pays 45.00 after a 5.00 discount; a coupon buyer pays 18.00
    # after 2.00 off. Rows: unattributed 5.00, the coupon's campaign 2.00; totals 7.00 (the
    # unattributed row showed 0.00 while the totals counted 7.00).
    pins = CampaignFactory(name="Pins", channel=channel("pinterest"))
    CouponFactory(code="PIN", campaign=pins)
    purchase_record(
        email="a@example.com", amount="45.00", discount="5.00", occurred_at=at(8, 3), via=Via.API
    )
    purchase_record(
        email="b@example.com",
        amount="18.00",
        discount="2.00",
        coupon="PIN",
        occurred_at=at(8, 4),
        via=Via.API,
    )
    for group_by, pins_key in (("channel", "pinterest"), ("campaign", str(pins.pk))):
        report = cold_then_cached(lambda group_by=group_by: roi_report(**AUGUST, group_by=group_by))
        assert nonzero(report, "discounts") == {pins_key: "2.00", "unattributed": "5.00"}
        assert report["totals"]["discounts"] == "7.00"


def test_the_lookback_window_is_exact_to_the_microsecond():
    # Purchase of 50.00 on 10 August noon. Facebook on 1 January: the first touch ever (counts
    # whatever its age). Instagram exactly 90 days before (12 May noon): in the window. X 50
    # microseconds older than that: out (SQLite compared julianday floats with 86 microseconds
    # of slack, and let it in).
    fay = contact_create(email="fay@example.com", source="facebook", entered_at=at(1, 1), via="api")
    edge = at(8, 10) - dt.timedelta(days=90)
    touchpoint_record(
        contact=fay, channel=channel("x"), occurred_at=edge - dt.timedelta(microseconds=50)
    )
    touchpoint_record(contact=fay, channel=channel("instagram"), occurred_at=edge)
    purchase_record(contact=fay, amount="50.00", occurred_at=at(8, 10), via=Via.API)
    report = cold_then_cached(lambda: roi_report(**AUGUST, attribution="linear"))
    assert figures(report, "revenue") == {"facebook": "25.00", "instagram": "25.00"}


@pytest.mark.postgres
def test_contacts_without_a_source_count_in_the_unattributed_row():
    # Another change makes Contact.source_channel nullable (a walk-in without a coupon has no
    # known source). Here the column is made nullable inside this test's transaction.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE leads_contact ALTER COLUMN source_channel_id DROP NOT NULL")
    hal = contact_create(email="hal@example.com", entered_at=at(8, 2), via="api")
    Contact.objects.filter(pk=hal.pk).update(source_channel=None)
    contact_move_stage(contact=hal, stage="lead", at=at(8, 3), via="api")
    purchase_record(contact=hal, amount="30.00", occurred_at=at(8, 4), via=Via.API)
    # Hal entered on 2 August, became a lead on 3 August (1 day) and a customer on 4 August
    # (2 days), with no touch: every figure of his is in the unattributed row.
    funnel = cold_then_cached(lambda: funnel_report(**AUGUST), cache=ContactDay)
    row = next(r for r in funnel["rows"] if r["key"] == "unattributed")
    # (Reaching customer stamps qualified at the same time.)
    assert (row["followers"], row["leads"], row["qualified"], row["customers"]) == (1, 1, 1, 1)
    assert (row["median_days_to_lead"], row["median_days_to_customer"]) == ("1.00", "2.00")
    assert row["label"] == "Unattributed" and row["channel"] is None
    for group_by in ("channel", "campaign"):
        report = cold_then_cached(lambda group_by=group_by: roi_report(**AUGUST, group_by=group_by))
        assert [r["key"] for r in report["rows"]] == ["unattributed"]
        row = report["rows"][0]
        assert (row["followers"], row["leads"], row["revenue"], row["customers"]) == (
            1,
            1,
            "30.00",
            "1.00",
        )


@pytest.mark.parametrize("model", RULE_BASED)
def test_every_model_credits_customers_that_add_up_exactly(model):
    # Three buyers, each split three ways (linear thirds; position based 2/5, 1/5, 2/5; ...): the
    # exact credits add up to 3 customers, while each row is shown to two decimals.
    for n, email in enumerate(("a@example.com", "b@example.com", "c@example.com")):
        contact = contact_create(email=email, source="facebook", entered_at=at(8, 1 + n), via="api")
        touchpoint_record(contact=contact, channel=channel("x"), occurred_at=at(8, 5 + n))
        touchpoint_record(contact=contact, channel=channel("linkedin"), occurred_at=at(8, 9 + n))
        purchase_record(contact=contact, amount="10.00", occurred_at=at(8, 20 + n), via=Via.API)
    report = cold_then_cached(lambda: roi_report(**AUGUST, attribution=model))
    assert report["totals"]["customers"] == "3.00"
    shown = sum(Decimal(c) for c in figures(report, "customers").values())
    assert abs(shown - 3) <= Decimal("0.01") * len(report["rows"])
    expected = {
        "first_touch": {"facebook": "3.00", "x": "0.00", "linkedin": "0.00"},
        "last_touch": {"facebook": "0.00", "x": "0.00", "linkedin": "3.00"},
        "linear": {"facebook": "1.00", "x": "1.00", "linkedin": "1.00"},
        "position_based": {"facebook": "1.20", "x": "0.60", "linkedin": "1.20"},
    }
    if model in expected:
        assert figures(report, "customers") == expected[model]


def test_customers_over_denominators_beyond_the_common_one():
    # Ida buys for 23.00 on 20 August after 23 touches (12 facebook, then 11 x, one a day from
    # 1 August): linear weights 1/23, a denominator the statement's common one does not cover.
    # Jo buys the same day after a facebook and an x touch: 1/2 each. Facebook costs 100.00.
    spring = CampaignFactory(name="Spring", channel=channel("facebook"))
    Cost.objects.create(campaign=spring, incurred_on=dt.date(2026, 8, 1), amount=Decimal("100.00"))
    ida = contact_create(email="ida@example.com", entered_at=at(8, 1, 0), via="api")
    for day in range(1, 24):
        slug, campaign = ("facebook", spring) if day <= 12 else ("x", None)
        touchpoint_record(
            contact=ida, channel=channel(slug), campaign=campaign, occurred_at=at(8, day, 6)
        )
    purchase_record(contact=ida, amount="23.00", occurred_at=at(8, 24), via=Via.API)
    jo = contact_create(
        email="jo@example.com", source_campaign=spring, entered_at=at(8, 2), via="api"
    )
    touchpoint_record(contact=jo, channel=channel("x"), occurred_at=at(8, 3))
    purchase_record(contact=jo, amount="10.00", occurred_at=at(8, 24, 13), via=Via.API)
    report = cold_then_cached(lambda: roi_report(**AUGUST, attribution="linear"))
    # Facebook: 12/23 + 1/2 = 47/46 = 1.0217 customers -> 1.02; CAC 100 / (47/46) = 97.87.
    # X: 11/23 + 1/2 = 45/46 = 0.9783 -> 0.98. Revenue: 12.00 + 5.00 and 11.00 + 5.00.
    assert nonzero(report, "customers") == {"facebook": "1.02", "x": "0.98"}
    assert nonzero(report, "revenue") == {"facebook": "17.00", "x": "16.00"}
    facebook = next(r for r in report["rows"] if r["key"] == "facebook")
    assert facebook["cost_per_customer"] == "97.87"
