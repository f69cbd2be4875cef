"""The weekly verdict's figures (reports.verdict), hand-worked.

The reported week is Monday 16 to Sunday 22 March 2026. The verdict's window is the 8 weeks
ending with it: 26 January to 22 March (56 days). The history is the 8 weeks before the week,
H1 (19 January) to H8 (9 March). The data-driven model is faked here: its figures are not
what these tests are about (tests of reports.datadriven are); its interval and status are
given, and the rule is checked against them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from campaigns.models import Cost
from leads.models import Via
from leads.services import contact_create, purchase_record
from reports import verdict
from reports.verdict import (
    DOES_NOT_PAY_YET,
    NOT_ENOUGH_DATA,
    PAYS,
    campaign_pacing,
    is_anomaly,
    roi_interval,
    spread,
    verdict_of,
    weekly_verdict,
)
from tests.factories import CampaignFactory, channel
from tests.reports.fake_datadriven import fake_model

pytestmark = pytest.mark.django_db

UTC = dt.UTC
WEEK = dt.date(2026, 3, 16)
H = [WEEK - dt.timedelta(weeks=8 - i) for i in range(8)]  # H[0] = 19 January ... H[7] = 9 March


def cost(campaign, day: dt.date, amount: str) -> None:
    Cost.objects.create(campaign=campaign, incurred_on=day, amount=Decimal(amount))


# The rule, alone ----------------------------------------------------------------------------


def test_the_roi_interval_is_the_revenue_interval_less_the_cost_over_the_cost():
    # Cost 800.00; credited revenue between 1,000.00 and 1,400.00:
    # ((1000 - 800) / 800, (1400 - 800) / 800) = (0.25, 0.75).
    assert roi_interval(cost_cents=80000, lo_cents=100000, hi_cents=140000) == (
        Fraction(1, 4),
        Fraction(3, 4),
    )
    # No cost, or no interval: no ROI interval.
    assert roi_interval(cost_cents=0, lo_cents=100, hi_cents=200) is None
    assert roi_interval(cost_cents=80000, lo_cents=None, hi_cents=None) is None


@pytest.mark.parametrize(
    ("sufficient", "interval", "expected"),
    [
        (True, (Fraction(1, 4), Fraction(3, 4)), PAYS),
        (True, (Fraction(-3, 4), Fraction(-1, 4)), DOES_NOT_PAY_YET),
        # Straddling zero, or touching it: neither clearly pays nor clearly does not.
        (True, (Fraction(-1, 4), Fraction(1, 2)), NOT_ENOUGH_DATA),
        (True, (Fraction(0), Fraction(1, 2)), NOT_ENOUGH_DATA),
        (True, (Fraction(-1, 2), Fraction(0)), NOT_ENOUGH_DATA),
        # The model says too few conversions: whatever the interval.
        (False, (Fraction(1, 4), Fraction(3, 4)), NOT_ENOUGH_DATA),
        # No cost (no interval).
        (True, None, NOT_ENOUGH_DATA),
    ],
)
def test_the_verdict_rule(sufficient, interval, expected):
    assert verdict_of(sufficient=sufficient, interval=interval) == expected


def test_the_anomaly_rule_is_two_sample_standard_deviations_from_the_mean():
    # Weekly costs 100, 120, 80, 100, 110, 90, 100, 100: mean 800 / 8 = 100; squared
    # deviations 0 + 400 + 400 + 0 + 100 + 100 + 0 + 0 = 1000; sample variance 1000 / 7
    # = 142.857..., standard deviation 11.95, so the usual range is 100 ± 23.9.
    history = spread(Fraction(v) for v in (100, 120, 80, 100, 110, 90, 100, 100))
    assert (history.weeks, history.mean, history.variance) == (8, 100, Fraction(1000, 7))
    assert is_anomaly(Fraction(130), history) is True  # 30 from the mean: 900 > 4 · 142.86
    assert is_anomaly(Fraction(123), history) is False  # 23: 529 < 571.43
    assert is_anomaly(Fraction(76), history) is True  # 24 below: 576 > 571.43
    assert is_anomaly(None, history) is None  # no figure this week (an ROI without cost)


def test_no_anomaly_flag_with_fewer_than_four_weeks_of_history():
    # Three weeks: 10, 10, 10; the week's 1,000 is not flagged, nor called usual.
    assert is_anomaly(Fraction(1000), spread([Fraction(10)] * 3)) is None
    # Four weeks of the same figure: anything else is outside mean ± 0.
    assert is_anomaly(Fraction(11), spread([Fraction(10)] * 4)) is True
    assert is_anomaly(Fraction(10), spread([Fraction(10)] * 4)) is False


# The week's verdict, per channel --------------------------------------------------------------


@pytest.fixture
def weeks(reference_data):
    """Costs per channel per week (the amounts on each week's Monday) and one purchase:

    facebook: H1..H8 = 100, 120, 80, 100, 110, 90, 100, 100, then 130 in the week.
    pinterest: new, 40 in H7, 60 in H8, 400 in the week.
    linkedin: 200 in H5, nothing since.
    instagram: no cost at all.
    Bo enters from facebook on Wednesday 18 March and buys for 260.00 on Friday 20 March:
    last touch gives facebook the week's revenue 260.00.
    """
    fb = CampaignFactory(name="Reels", channel=channel("facebook"), starts_on=H[0])
    pins = CampaignFactory(name="Pins", channel=channel("pinterest"), starts_on=H[0])
    posts = CampaignFactory(name="Posts", channel=channel("linkedin"), starts_on=H[0])
    for monday, amount in zip(
        H, ("100", "120", "80", "100", "110", "90", "100", "100"), strict=True
    ):
        cost(fb, monday, amount)
    cost(fb, WEEK, "130")
    cost(pins, H[6], "40")
    cost(pins, H[7], "60")
    cost(pins, WEEK, "400")
    cost(posts, H[4], "200")
    bo = contact_create(
        email="bo@example.com",
        source="facebook",
        entered_at=dt.datetime(2026, 3, 18, 10, tzinfo=UTC),
        via=Via.API,
    )
    purchase_record(
        contact=bo,
        amount="260.00",
        occurred_at=dt.datetime(2026, 3, 20, 10, tzinfo=UTC),
        via=Via.API,
    )


def markov(status: str = "ok") -> object:
    """The faked model's result over the window (cents; lo and hi the 95% interval)."""
    return fake_model(
        status=status,
        conversions=80 if status == "ok" else 12,
        by_channel={
            channel("facebook").pk: (107900, 91300, 124500),
            channel("pinterest").pk: (25000, 12500, 37500),
            channel("linkedin").pk: (22500, 15000, 30000),
            channel("instagram").pk: (5000, 3000, 7000),
            None: (1000, None, None),
        },
    )


def by_channel(document: dict) -> dict[str, dict]:
    return {row["channel"]: row for row in document["channels"]}


def test_each_channel_gets_its_verdict_from_the_eight_week_interval(weeks, monkeypatch):
    asked = []

    def fake(**kwargs):
        asked.append(kwargs)
        return markov()

    monkeypatch.setattr(verdict, "data_driven", fake)
    document = weekly_verdict(start=WEEK)
    # One model run, markov, over the 56 days ending with the week.
    assert asked == [
        {"model": "markov", "start": dt.date(2026, 1, 26), "end": dt.date(2026, 3, 22)}
    ]
    assert (document["window_start"], document["end"]) == ("2026-01-26", "2026-03-22")
    assert document["name"] == "Week 12, 2026"
    rows = by_channel(document)
    # Facebook: window cost = H2..H8 + the week = 120 + 80 + 100 + 110 + 90 + 100 + 100 + 130
    # = 830.00. ROI = (1079 - 830) / 830 = 0.3; interval ((913 - 830) / 830, (1245 - 830) / 830)
    # = (0.1, 0.5): all above zero, it pays.
    fb = rows["facebook"]
    assert (fb["verdict"], fb["verdict_label"], fb["reason"]) == (PAYS, "pays", "")
    assert (fb["cost"], fb["revenue"], fb["roi"]) == ("830.00", "1079.00", "0.3000")
    assert (fb["roi_low"], fb["roi_high"]) == ("0.1000", "0.5000")
    # Pinterest: window cost 40 + 60 + 400 = 500.00; ROI (250 - 500) / 500 = -0.5; interval
    # ((125 - 500) / 500, (375 - 500) / 500) = (-0.75, -0.25): all below, it does not pay yet.
    pins = rows["pinterest"]
    assert (pins["verdict"], pins["verdict_label"]) == (DOES_NOT_PAY_YET, "does not pay yet")
    assert (pins["cost"], pins["roi"], pins["roi_low"], pins["roi_high"]) == (
        "500.00",
        "-0.5000",
        "-0.7500",
        "-0.2500",
    )
    # LinkedIn: cost 200.00 (H5 is in the window); interval ((150 - 200) / 200, (300 - 200)
    # / 200) = (-0.25, 0.5) spans zero: not enough data.
    posts = rows["linkedin"]
    assert (posts["verdict"], posts["reason"]) == (NOT_ENOUGH_DATA, "The ROI interval spans zero.")
    assert (posts["roi_low"], posts["roi_high"]) == ("-0.2500", "0.5000")
    # Instagram: credited 50.00 but no cost, so no ROI: not enough data.
    insta = rows["instagram"]
    assert (insta["verdict"], insta["reason"]) == (NOT_ENOUGH_DATA, "No cost recorded in 8 weeks.")
    assert (insta["cost"], insta["revenue"], insta["roi"], insta["roi_low"]) == (
        "0.00",
        "50.00",
        None,
        None,
    )
    # The unattributed credit has no channel to judge; pays first, then the rest by name.
    assert [r["channel"] for r in document["channels"]] == [
        "facebook",
        "pinterest",
        "instagram",
        "linkedin",
    ]


def test_the_week_against_its_history(weeks, monkeypatch):
    monkeypatch.setattr(verdict, "data_driven", lambda **kwargs: markov())
    rows = by_channel(weekly_verdict(start=WEEK))
    fb = rows["facebook"]["week"]
    # Cost 130 against H1..H8 (mean 100, sample variance 1000 / 7, see the rule's test):
    # change (130 - 100) / 100 = +0.3, and 30 > 2 sd = 23.9: unusual.
    assert fb["cost"] == {
        "value": "130.00",
        "mean": "100.00",
        "weeks": 8,
        "change": "0.3000",
        "anomaly": True,
    }
    # Revenue 260.00 (Bo's purchase, last touch facebook) against eight weeks of 0: no
    # relative change from 0; outside 0 ± 0, so unusual.
    assert fb["revenue"] == {
        "value": "260.00",
        "mean": "0.00",
        "weeks": 8,
        "change": None,
        "anomaly": True,
    }
    # ROI (260 - 130) / 130 = 1 against -1 every week (costs, no revenue): +2 (200 points).
    assert fb["roi"] == {
        "value": "1.0000",
        "mean": "-1.0000",
        "weeks": 8,
        "change": "2.0000",
        "anomaly": True,
    }
    # Leads: Bo's purchase makes him a customer, which stamps every earlier stage: one lead
    # this week, against none in the eight before: no relative change from 0, unusual.
    assert fb["leads"] == {
        "value": "1.00",
        "mean": "0.00",
        "weeks": 8,
        "change": None,
        "anomaly": True,
    }
    # Pinterest's history starts with its first cost, H7: two weeks, mean (40 + 60) / 2 = 50;
    # change (400 - 50) / 50 = +7, but two weeks are too few to call anything unusual.
    pins = rows["pinterest"]["week"]["cost"]
    assert (pins["weeks"], pins["mean"], pins["change"], pins["anomaly"]) == (
        2,
        "50.00",
        "7.0000",
        None,
    )
    # LinkedIn: history from H5, four weeks 200, 0, 0, 0: mean 50, deviations 150, -50, -50,
    # -50, sample variance (22500 + 3 · 2500) / 3 = 10000, sd 100. This week 0: change
    # (0 - 50) / 50 = -1; 50 from the mean is inside 2 sd = 200.
    posts = rows["linkedin"]["week"]
    assert (posts["cost"]["value"], posts["cost"]["change"], posts["cost"]["anomaly"]) == (
        "0.00",
        "-1.0000",
        False,
    )
    # Its ROI history is H5 alone (the only week with a cost: -1); no cost this week, no ROI.
    assert posts["roi"] == {
        "value": None,
        "mean": "-1.0000",
        "weeks": 1,
        "change": None,
        "anomaly": None,
    }
    # Instagram: nothing this week nor before.
    assert rows["instagram"]["week"]["cost"] == {
        "value": "0.00",
        "mean": None,
        "weeks": 0,
        "change": None,
        "anomaly": None,
    }


def test_too_few_conversions_give_no_verdict_anywhere(weeks, monkeypatch):
    monkeypatch.setattr(verdict, "data_driven", lambda **kwargs: markov("insufficient_data"))
    document = weekly_verdict(start=WEEK)
    assert document["status"] == "insufficient_data"
    assert {r["verdict"] for r in document["channels"]} == {NOT_ENOUGH_DATA}
    fb = by_channel(document)["facebook"]
    assert fb["reason"] == "12 conversions in 8 weeks; the model needs 50."
    # No credit, so no revenue nor ROI to show (not a ROI of -100%); the cost still is.
    assert (fb["cost"], fb["revenue"], fb["roi"], fb["roi_low"]) == ("830.00", None, None, None)


def test_a_channel_the_model_credits_nothing_does_not_pay(weeks, monkeypatch):
    """With enough conversions, a channel left out of the model's answer had no share of
    them: credited 0, exactly. Pinterest's window cost 500.00: ROI (0 - 500) / 500 = -1, and
    the interval (-1, -1) is all below zero."""
    answer = markov()
    del answer.by_channel[channel("pinterest").pk]
    monkeypatch.setattr(verdict, "data_driven", lambda **kwargs: answer)
    pins = by_channel(weekly_verdict(start=WEEK))["pinterest"]
    assert (pins["verdict"], pins["revenue"], pins["roi"], pins["roi_low"], pins["roi_high"]) == (
        DOES_NOT_PAY_YET,
        "0.00",
        "-1.0000",
        "-1.0000",
        "-1.0000",
    )


def test_the_verdict_on_the_real_model(reference_data, settings):
    """reports.datadriven itself, on journeys whose answer is certain: four customers each came
    from facebook alone and paid 200.00 in the window; two contacts came from pinterest and
    bought nothing. Markov gives facebook every conversion, in every bootstrap draw too:
    800.00 with the interval 800.00 to 800.00. Facebook cost 100.00: ROI (800 - 100) / 100
    = 7, interval (7, 7): pays. Pinterest cost 500.00 and converted nobody: credited 0, ROI
    -1 in (-1, -1): does not pay yet."""
    settings.DATA_DRIVEN_MIN_CONVERSIONS = 4
    reels = CampaignFactory(name="Reels", channel=channel("facebook"), starts_on=H[0])
    pins = CampaignFactory(name="Pins", channel=channel("pinterest"), starts_on=H[0])
    cost(reels, H[3], "100")
    cost(pins, H[4], "500")
    for i in range(4):
        buyer = contact_create(
            email=f"buyer{i}@example.com",
            source="facebook",
            source_campaign=reels,
            entered_at=dt.datetime(2026, 2, 2 + i, 10, tzinfo=UTC),
            via=Via.API,
        )
        purchase_record(
            contact=buyer,
            amount="200.00",
            occurred_at=dt.datetime(2026, 3, 2 + i, 10, tzinfo=UTC),
            via=Via.API,
        )
    for i in range(2):
        contact_create(
            email=f"browser{i}@example.com",
            source_campaign=pins,
            entered_at=dt.datetime(2026, 3, 10 + i, 10, tzinfo=UTC),
            via=Via.API,
        )
    document = weekly_verdict(start=WEEK)
    assert (document["status"], document["conversions"], document["minimum"]) == ("ok", 4, 4)
    rows = by_channel(document)
    fb = rows["facebook"]
    assert (fb["verdict"], fb["cost"], fb["revenue"], fb["roi"]) == (
        PAYS,
        "100.00",
        "800.00",
        "7.0000",
    )
    assert (fb["roi_low"], fb["roi_high"]) == ("7.0000", "7.0000")
    pins_row = rows["pinterest"]
    assert (
        pins_row["verdict"],
        pins_row["revenue"],
        pins_row["roi_low"],
        pins_row["roi_high"],
    ) == (
        DOES_NOT_PAY_YET,
        "0.00",
        "-1.0000",
        "-1.0000",
    )
    # Below the minimum, the model says so, and so does every verdict.
    settings.DATA_DRIVEN_MIN_CONVERSIONS = 5
    document = weekly_verdict(start=WEEK)
    assert document["status"] == "insufficient_data"
    assert {r["verdict"] for r in document["channels"]} == {NOT_ENOUGH_DATA}


def test_the_verdict_costs_a_fixed_number_of_queries(
    weeks, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(verdict, "data_driven", lambda **kwargs: markov())
    weekly_verdict(start=WEEK)  # warms the day caches of the nine weeks
    # Nine weekly reports from the day caches, the channels, and pacing's two queries,
    # whatever the number of channels and campaigns.
    with django_assert_max_num_queries(9 * 12 + 3):
        weekly_verdict(start=WEEK)


def test_a_week_starts_on_a_monday():
    with pytest.raises(ValueError, match="Monday"):
        weekly_verdict(start=dt.date(2026, 3, 17))


# Pacing ---------------------------------------------------------------------------------------


def test_campaign_pacing(reference_data, django_assert_num_queries):
    pins = channel("pinterest")
    # A flight of 31 days (1-31 March) with 3,100.00: by Sunday 22 March, 22 days of 31 are
    # gone, so 3,100 × 22 / 31 = 2,200.00 is expected. Spent: 1,000 (5 March) + 1,500
    # (20 March) = 2,500.00; 500 on 28 February (before its start) and 300 on 23 March
    # (after the week) do not count. 2,500 / 2,200 = 1.1364 > 1.1: over.
    spring = CampaignFactory(
        name="Spring",
        channel=pins,
        starts_on=dt.date(2026, 3, 1),
        ends_on=dt.date(2026, 3, 31),
        budget=Decimal("3100.00"),
    )
    for day, amount in ((28, "500"), (5, "1000"), (20, "1500"), (23, "300")):
        cost(spring, dt.date(2026, 2 if day == 28 else 3, day), amount)
    # No end date: 620.00 a month. March has 31 days, 22 gone: 620 × 22 / 31 = 440.00
    # expected. Spent this month: 200 (2 March) + 200 (21 March) = 400.00 (February's 100 is
    # last month's). 400 / 440 = 0.9091, within 10%: on.
    always = CampaignFactory(
        name="Always on", channel=pins, starts_on=dt.date(2026, 1, 1), budget=Decimal("620.00")
    )
    cost(always, dt.date(2026, 2, 20), "100")
    cost(always, dt.date(2026, 3, 2), "200")
    cost(always, dt.date(2026, 3, 21), "200")
    # Monthly, started on 16 March: its days this month are 16-22 (7 days), 310 × 7 / 31 =
    # 70.00 expected; spent 30.00: 30 / 70 = 0.4286, under.
    launch = CampaignFactory(
        name="Launch", channel=pins, starts_on=dt.date(2026, 3, 16), budget=Decimal("310.00")
    )
    cost(launch, dt.date(2026, 3, 17), "30")
    # A flight ending within the week (1-18 March): all 18 of 18 days gone, 1,800.00 expected,
    # 1,800.00 spent: 1.0, on.
    burst = CampaignFactory(
        name="Burst",
        channel=pins,
        starts_on=dt.date(2026, 3, 1),
        ends_on=dt.date(2026, 3, 18),
        budget=Decimal("1800.00"),
    )
    cost(burst, dt.date(2026, 3, 3), "1800")
    # Not paced: no budget, ended before the week, starting after it.
    CampaignFactory(name="Organic", channel=pins, starts_on=dt.date(2026, 1, 1), budget=0)
    CampaignFactory(
        name="Winter",
        channel=pins,
        starts_on=dt.date(2026, 1, 1),
        ends_on=dt.date(2026, 3, 15),
        budget=Decimal("100.00"),
    )
    CampaignFactory(
        name="Summer", channel=pins, starts_on=dt.date(2026, 3, 23), budget=Decimal("100.00")
    )
    with django_assert_num_queries(2):
        rows = campaign_pacing(start=WEEK, end=dt.date(2026, 3, 22))
    assert [
        (
            r["label"],
            r["basis"],
            r["days_elapsed"],
            r["days"],
            r["spent"],
            r["expected"],
            r["pace"],
            r["status"],
        )
        for r in rows
    ] == [
        ("Always on", "month", 22, 31, "400.00", "440.00", "0.9091", "on"),
        ("Burst", "flight", 18, 18, "1800.00", "1800.00", "1.0000", "on"),
        ("Launch", "month", 7, 31, "30.00", "70.00", "0.4286", "under"),
        ("Spring", "flight", 22, 31, "2500.00", "2200.00", "1.1364", "over"),
    ]
    assert {r["campaign"] for r in rows} == {always.pk, burst.pk, launch.pk, spring.pk}
