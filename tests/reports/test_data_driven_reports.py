"""The data-driven models in the reports (reports/datadriven.py), hand-worked.

Four contacts in September 2026 (UTC), no campaign costs:
- Ann: a facebook touch (campaign "Fall ads") on 1 Sep, buys 100.00 on 2 Sep;
- Ben: an instagram touch on 3 Sep, buys 50.00 on 4 Sep;
- Cat: facebook (no campaign) on 5 Sep, instagram on 6 Sep, buys 30.00 on 7 Sep;
- Dan: a facebook touch on 8 Sep, never buys.
Journeys: (facebook) converted, (instagram) converted, (facebook, instagram) converted,
(facebook) not converted. 3 conversions, 180.00 of revenue with a touch.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import override_settings
from django.urls import reverse

from leads.models import Via
from leads.services import contact_create, purchase_record, touchpoint_record
from reports.metrics import roi_report
from reports.models import Attribution
from reports.services import report_request
from tests.api.conftest import token_client
from tests.factories import CampaignFactory, channel

pytestmark = pytest.mark.django_db

UTC = dt.UTC
SEPTEMBER = {"start": dt.date(2026, 9, 1), "end": dt.date(2026, 9, 30)}


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 9, day, 12, tzinfo=UTC)


@pytest.fixture
def journeys(reference_data):
    fall = CampaignFactory(name="Fall ads", channel=channel("facebook"))
    ann = contact_create(email="ann@example.com", source_campaign=fall, entered_at=at(1), via="api")
    purchase_record(contact=ann, amount="100.00", occurred_at=at(2), via=Via.API)
    ben = contact_create(email="ben@example.com", source="instagram", entered_at=at(3), via="api")
    purchase_record(contact=ben, amount="50.00", occurred_at=at(4), via=Via.API)
    cat = contact_create(email="cat@example.com", source="facebook", entered_at=at(5), via="api")
    touchpoint_record(contact=cat, channel=channel("instagram"), kind="click", occurred_at=at(6))
    purchase_record(contact=cat, amount="30.00", occurred_at=at(7), via=Via.API)
    contact_create(email="dan@example.com", source="facebook", entered_at=at(8), via="api")
    return fall


def rows(report: dict, *names: str) -> dict:
    return {r["key"]: tuple(r[n] for n in names) for r in report["rows"]}


@override_settings(DATA_DRIVEN_MIN_CONVERSIONS=3)
def test_markov_credits_by_removal_effect(journeys):
    # Transitions: start -> facebook 3 (Ann, Cat, Dan), start -> instagram 1 (Ben); facebook ->
    # conversion 1 (Ann), -> instagram 1 (Cat), -> null 1 (Dan); instagram -> conversion 2.
    # P(conversion) = 3/4 * (1/3 + 1/3 * 1) + 1/4 * 1 = 3/4.
    # Without facebook: 1/4 (only start -> instagram -> conversion): removal effect 2/3.
    # Without instagram: 3/4 * 1/3 = 1/4: removal effect 2/3. Shares 1/2 and 1/2.
    report = roi_report(**SEPTEMBER, attribution="markov")
    assert report["data_driven"]["status"] == "ok"
    assert report["data_driven"]["conversions"] == 3
    assert rows(report, "revenue", "customers") == {
        "facebook": ("90.00", "1.50"),
        "instagram": ("90.00", "1.50"),
    }
    assert report["totals"]["revenue"] == "180.00"
    # Within facebook, by its touches in the converting journeys: Ann's (Fall ads) and Cat's
    # (no campaign): 45.00 each.
    by_campaign = roi_report(**SEPTEMBER, group_by="campaign", attribution="markov")
    assert {r["label"]: r["revenue"] for r in by_campaign["rows"]} == {
        "Fall ads": "45.00",
        "Facebook (no campaign)": "45.00",
        "Instagram (no campaign)": "90.00",
    }
    for row in report["rows"]:
        low, high = row["revenue_low"], row["revenue_high"]
        assert float(low) <= float(row["revenue"]) <= float(high) <= 180.0
        # No cost: no ROI, nor its interval.
        assert row["roi_low"] is None and row["roi_high"] is None


@override_settings(DATA_DRIVEN_MIN_CONVERSIONS=3)
def test_shapley_credits_by_the_conversion_rate_of_each_channel_set(journeys):
    # v(S) = the conversion rate of the journeys whose channels are exactly S: v({facebook}) =
    # 1/2 (Ann converted, Dan did not), v({instagram}) = 1, v({facebook, instagram}) = 1.
    # {facebook}: its 2 journeys x v = 1 conversion, all facebook's; {instagram}: 1, instagram's.
    # {facebook, instagram}: phi_facebook = 1/2 * v(fb) + 1/2 * (v(fb, ig) - v(ig)) = 1/4,
    # phi_instagram = 1/2 * v(ig) + 1/2 * (v(fb, ig) - v(fb)) = 3/4; 1 journey.
    # Credits 1 + 1/4 = 5/4 and 1 + 3/4 = 7/4 of 3: shares 5/12 and 7/12 of 180.00.
    report = roi_report(**SEPTEMBER, attribution="shapley")
    assert rows(report, "revenue", "customers") == {
        "facebook": ("75.00", "1.25"),
        "instagram": ("105.00", "1.75"),
    }


def test_below_the_minimum_the_answer_is_insufficient_data(journeys):
    # 3 conversions against the default minimum of 50: no credited figure, and why.
    report = roi_report(**SEPTEMBER, attribution="markov")
    assert report["data_driven"]["status"] == "insufficient_data"
    assert report["data_driven"]["minimum_conversions"] == 50
    assert "3 conversions" in report["data_driven"]["reason"]
    assert rows(report, "revenue", "roi", "customers") == {
        "facebook": (None, None, None),
        "instagram": (None, None, None),
    }
    # The totals do not depend on the model.
    assert report["totals"]["revenue"] == "180.00"
    assert report["totals"]["customers"] == "3.00"


@override_settings(DATA_DRIVEN_MIN_CONVERSIONS=3)
def test_the_same_data_gives_the_same_interval(journeys):
    first = roi_report(**SEPTEMBER, attribution="shapley")
    again = roi_report(**SEPTEMBER, attribution="shapley")
    assert rows(first, "revenue_low", "revenue_high") == rows(again, "revenue_low", "revenue_high")


# --- every door: pages, CSV, API, saved reports --------------------------------------------


@pytest.fixture
def marketer(client, marketing_user):
    client.force_login(marketing_user)
    return client


PAGE = {"preset": "custom", "start": "2026-09-01", "end": "2026-09-30"}


def test_the_dashboard_says_why_instead_of_a_number(marketer, journeys):
    response = marketer.get(reverse("reports:dashboard"), {**PAGE, "attribution": "markov"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="data-driven-note"' in page
    assert "Not enough data for this model." in page
    assert "3 conversions with a touch in the period" in page
    rows = {r["key"]: r for r in response.context["channels"]["rows"]}
    assert rows["facebook"]["revenue"] is None
    assert response.context["channels"]["totals"]["revenue"] == "180.00"


@override_settings(DATA_DRIVEN_MIN_CONVERSIONS=3)
def test_the_dashboard_shows_each_revenue_with_its_interval(marketer, journeys):
    response = marketer.get(reverse("reports:dashboard"), {**PAGE, "attribution": "shapley"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "A data-driven model." in page
    assert "Revenue low (95%)" in page and "Revenue high (95%)" in page
    assert "75.00 USD" in page  # facebook's 5/12 of 180.00


@override_settings(DATA_DRIVEN_MIN_CONVERSIONS=3)
def test_the_attribution_page_compares_a_data_driven_model(marketer, journeys):
    response = marketer.get(reverse("reports:attribution"), {**PAGE, "attribution": "markov"})
    assert response.status_code == 200
    rows = {r["key"]: r for r in response.context["comparison"]}
    # Markov 90.00 against last touch: facebook closed Ann's 100.00 (Cat's 30.00 closed on
    # instagram): 100.00 -> 90.00.
    assert (rows["facebook"]["revenue"], rows["facebook"]["reference_revenue"]) == (
        "90.00",
        "100.00",
    )
    assert rows["facebook"]["revenue_change"] == "-10.00"
    assert response.context["totals"] == ["180.00"] * len(Attribution.values)


def test_the_attribution_page_with_too_few_conversions_has_no_changes(marketer, journeys):
    response = marketer.get(reverse("reports:attribution"), {**PAGE, "attribution": "shapley"})
    assert response.status_code == 200
    rows = {r["key"]: r for r in response.context["comparison"]}
    assert rows["facebook"]["revenue"] is None
    assert rows["facebook"]["revenue_change"] is None
    assert "Not enough data for this model." in response.content.decode()


@override_settings(DATA_DRIVEN_MIN_CONVERSIONS=3)
def test_the_campaign_page_and_its_trend_under_markov(marketer, journeys):
    response = marketer.get(
        reverse("reports:campaign", args=[journeys.pk]), {**PAGE, "attribution": "markov"}
    )
    assert response.status_code == 200
    assert response.context["row"]["revenue"] == "45.00"
    # The trend's twelve periods: September's is the report's figure, earlier ones have no
    # conversion at all (insufficient: no figure).
    over_time = response.context["over_time"]
    assert over_time[-1]["revenue"] == "45.00"
    assert over_time[0]["revenue"] is None


@override_settings(DATA_DRIVEN_MIN_CONVERSIONS=3)
def test_the_csv_carries_the_intervals(marketer, journeys):
    response = marketer.get(
        reverse("reports:export", args=["channels"]), {**PAGE, "attribution": "markov"}
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_key = {r["key"]: r for r in rows}
    assert by_key["facebook"]["revenue"] == "90.00"
    assert (
        float(by_key["facebook"]["revenue_low"])
        <= 90.0
        <= float(by_key["facebook"]["revenue_high"])
    )
    assert by_key["totals"]["revenue_low"] == by_key["totals"]["revenue_high"] == "180.00"


def test_the_api_answers_insufficient_data(marketing_user, journeys):
    client = token_client(marketing_user)
    response = client.get(
        "/api/v1/reports/roi/",
        {"start": "2026-09-01", "end": "2026-09-30", "attribution": "shapley"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data_driven"]["status"] == "insufficient_data"
    assert {r["key"]: r["revenue"] for r in body["rows"]} == {"facebook": None, "instagram": None}


def test_a_saved_report_under_a_data_driven_model(journeys, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        report = report_request(
            start=dt.date(2026, 9, 1), end=dt.date(2026, 9, 30), attribution="markov"
        )
    report.refresh_from_db()
    assert report.status == "done"
    assert report.data["roi"]["data_driven"]["status"] == "insufficient_data"
