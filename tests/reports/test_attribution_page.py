"""The attribution page compares two models: each figure per group under the chosen model beside
the reference model, with the change; a chart, a CSV equal to the page, links to each group.

Scenario (April 2026, UTC; hand-worked). Two channels, one campaign each:
- "FB ads" (Facebook) costs 300.00 on 2 April; "IG reels" (Instagram) costs 100.00 on 3 April.
- Ann enters from FB ads on 1 April, is touched by IG reels on 5 April, buys 120.00 on 6 April.
- Ben enters from IG reels on 2 April, buys 60.00 on 4 April and again 30.00 on 10 April (the
  second is not a new customer).
- Cy enters from FB ads on 3 April, is touched by IG reels on 7 April and by FB ads on 8 April,
  buys 90.00 on 9 April.
Totals (every model): revenue 120 + 60 + 30 + 90 = 300.00, cost 400.00, 3 new customers,
ROI (300 - 400) / 400 = -25.0%, CAC 400 / 3 = 133.33.

Reference, last touch (the latest touch takes all):
- Facebook: Cy's 90.00; customers 1 (Cy); ROI (90 - 300) / 300 = -70.0%; CAC 300 / 1 = 300.00.
- Instagram: Ann's 120.00 + Ben's 60.00 + 30.00 = 210.00; customers 2 (Ann, Ben);
  ROI (210 - 100) / 100 = +110.0%; CAC 100 / 2 = 50.00.
Model, linear (equal shares of each purchase's touches):
- Facebook: Ann 120 / 2 = 60.00, Cy 2 x 90 / 3 = 60.00: 120.00; customers 1/2 + 2/3 = 7/6,
  shown 1.17; ROI (120 - 300) / 300 = -60.0%; CAC 300 / (7/6) = 1800/7 = 257.14.
- Instagram: Ann 60.00 + Ben 90.00 + Cy 30.00 = 180.00; customers 1/2 + 1 + 1/3 = 11/6, shown
  1.83; ROI (180 - 100) / 100 = +80.0%; CAC 100 / (11/6) = 600/11 = 54.55.
Changes, linear minus last touch:
- Facebook: revenue +30.00, 30 / 90 = +33.3%; customers 7/6 - 1 = +1/6: +0.17, (1/6) / 1 =
  +16.7%; ROI (120 - 90) / 300 = +10.0 pp; CAC 1800/7 - 300 = -300/7 = -42.86.
- Instagram: revenue -30.00, -30 / 210 = -14.3%; customers 11/6 - 2 = -1/6: -0.17, (-1/6) / 2 =
  -8.3%; ROI -30 / 100 = -30.0 pp; CAC 600/11 - 50 = 50/11 = +4.55.
- Totals: the same in both models, every change 0.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.models import Cost
from leads.models import Via
from leads.services import contact_create, purchase_record, touchpoint_record
from reports.models import Attribution
from tests.factories import CampaignFactory, channel

pytestmark = pytest.mark.django_db

UTC = dt.UTC
APRIL = {"preset": "custom", "start": "2026-04-01", "end": "2026-04-30"}
PERIOD = "preset=custom&start=2026-04-01&end=2026-04-30"


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 4, day, 10, tzinfo=UTC)


@pytest.fixture
def april(reference_data):
    fb = CampaignFactory(name="FB ads", channel=channel("facebook"), starts_on=dt.date(2026, 4, 1))
    ig = CampaignFactory(
        name="IG reels", channel=channel("instagram"), starts_on=dt.date(2026, 4, 1)
    )
    Cost.objects.create(campaign=fb, incurred_on=dt.date(2026, 4, 2), amount=Decimal("300.00"))
    Cost.objects.create(campaign=ig, incurred_on=dt.date(2026, 4, 3), amount=Decimal("100.00"))
    ann = contact_create(email="ann@example.com", source_campaign=fb, entered_at=at(1), via=Via.API)
    touchpoint_record(contact=ann, campaign=ig, occurred_at=at(5))
    purchase_record(contact=ann, amount="120.00", occurred_at=at(6), via=Via.API)
    ben = contact_create(email="ben@example.com", source_campaign=ig, entered_at=at(2), via=Via.API)
    purchase_record(contact=ben, amount="60.00", occurred_at=at(4), via=Via.API)
    purchase_record(contact=ben, amount="30.00", occurred_at=at(10), via=Via.API)
    cy = contact_create(email="cy@example.com", source_campaign=fb, entered_at=at(3), via=Via.API)
    touchpoint_record(contact=cy, campaign=ig, occurred_at=at(7))
    touchpoint_record(contact=cy, campaign=fb, occurred_at=at(8))
    purchase_record(contact=cy, amount="90.00", occurred_at=at(9), via=Via.API)
    return {"fb": fb, "ig": ig}


@pytest.fixture
def marketer_client(client, marketing_user):
    client.force_login(marketing_user)
    return client


FIGURES = [
    "cost",
    "revenue",
    "reference_revenue",
    "revenue_change",
    "revenue_change_ratio",
    "customers",
    "reference_customers",
    "customers_change",
    "customers_change_ratio",
    "roi",
    "reference_roi",
    "roi_change",
    "cost_per_customer",
    "reference_cost_per_customer",
    "cost_per_customer_change",
]
# The worked figures above, in FIGURES' order (ratios as the API gives them).
FACEBOOK = [
    "300.00",
    "120.00",
    "90.00",
    "30.00",
    "0.3333",
    "1.17",
    "1.00",
    "0.17",
    "0.1667",
    "-0.6000",
    "-0.7000",
    "0.1000",
    "257.14",
    "300.00",
    "-42.86",
]
INSTAGRAM = [
    "100.00",
    "180.00",
    "210.00",
    "-30.00",
    "-0.1429",
    "1.83",
    "2.00",
    "-0.17",
    "-0.0833",
    "0.8000",
    "1.1000",
    "-0.3000",
    "54.55",
    "50.00",
    "4.55",
]
TOTALS = [
    "400.00",
    "300.00",
    "300.00",
    "0.00",
    "0.0000",
    "3.00",
    "3.00",
    "0.00",
    "0.0000",
    "-0.2500",
    "-0.2500",
    "0.0000",
    "133.33",
    "133.33",
    "0.00",
]


def figures(row: dict) -> list:
    return [row[k] for k in FIGURES]


def test_linear_against_last_touch_by_channel(marketer_client, april):
    response = marketer_client.get(
        reverse("reports:attribution"), {**APRIL, "attribution": "linear"}
    )
    assert response.status_code == 200
    assert response.context["reference"] == "last_touch"  # the default reference
    rows = response.context["comparison"]
    # Sorted by the chosen model's revenue: Instagram 180.00, then Facebook 120.00.
    assert [r["key"] for r in rows] == ["instagram", "facebook"]
    assert figures(rows[0]) == INSTAGRAM
    assert figures(rows[1]) == FACEBOOK
    assert figures(response.context["comparison_totals"]) == TOTALS
    # The side-by-side table keeps every model's revenue.
    side = {r["key"]: r["revenue"] for r in response.context["rows"]}
    assert side["facebook"]["first_touch"] == "210.00"  # Ann 120 + Cy 90 entered from FB ads
    assert response.context["totals"] == ["300.00"] * len(Attribution.values)
    page = response.content.decode()
    # As the page reads them: percentages, points, signed money, two-decimal customers.
    for text in (
        "257.14 USD",
        "-42.86 USD",
        "+4.55 USD",
        "+33.3%",
        "-14.3%",
        "+16.7%",
        "-8.3%",
        "+10.0 pp",
        "-30.0 pp",
        "-60.0%",
        "110.0%",
        "1.17",
        "1.83",
        "+0.17",
        "-0.17",
        "133.33 USD",
    ):
        assert text in page, text
    # The chart: revenue per channel under both models, the same numbers as the table.
    spec = response.context["chart"]["spec"]
    assert spec["labels"] == ["Instagram", "Facebook"]
    assert [(d["label"], d["data"]) for d in spec["datasets"]] == [
        ("Linear", [180.0, 120.0]),
        ("Last touch", [210.0, 90.0]),
    ]
    assert 'id="chart-attribution-data" type="application/json"' in page


def test_the_same_model_as_reference_changes_nothing(marketer_client, april):
    response = marketer_client.get(
        reverse("reports:attribution"),
        {**APRIL, "attribution": "first_touch", "reference": "first_touch"},
    )
    assert response.status_code == 200
    for row in response.context["comparison"]:
        assert row["revenue"] == row["reference_revenue"]
        assert row["revenue_change"] == "0.00" and row["customers_change"] == "0.00"
    # One series in the chart: the two models are one.
    assert len(response.context["chart"]["spec"]["datasets"]) == 1


def test_a_chosen_reference(marketer_client, april):
    # First touch against linear. First touch: Facebook has Ann's 120.00 and Cy's 90.00 (both
    # entered from FB ads): 210.00, 2 customers; Instagram has Ben's 90.00, 1 customer.
    # Linear (above): Facebook 120.00 and 7/6, Instagram 180.00 and 11/6.
    response = marketer_client.get(
        reverse("reports:attribution"),
        {**APRIL, "attribution": "first_touch", "reference": "linear"},
    )
    rows = {r["key"]: r for r in response.context["comparison"]}
    assert rows["facebook"]["revenue"] == "210.00"
    assert rows["facebook"]["reference_revenue"] == "120.00"
    assert rows["facebook"]["revenue_change"] == "90.00"  # 210 - 120
    assert rows["facebook"]["revenue_change_ratio"] == "0.7500"  # 90 / 120
    assert rows["facebook"]["customers_change"] == "0.83"  # 2 - 7/6 = 5/6
    assert rows["instagram"]["customers_change_ratio"] == "-0.4545"  # (1 - 11/6) / (11/6) = -5/11
    assert rows["instagram"]["cost_per_customer"] == "100.00"  # 100 / 1
    assert rows["instagram"]["cost_per_customer_change"] == "45.45"  # 100 - 600/11 = 500/11


def test_undefined_figures_and_changes_read_as_a_dash(marketer_client, april):
    # Eve enters from email (no campaign, no cost) on 2 April, is touched by IG reels on 11
    # April and buys 10.00 on 12 April. First touch gives email her 10.00 and 1 customer; last
    # touch gives it nothing. Email under first touch against last touch: revenue 10.00 against
    # 0.00 (+10.00, no % change: nothing to compare with), customers 1.00 against 0.00 (+1.00,
    # no %), ROI undefined in both (no cost) and so its change, CAC 0 / 1 = 0.00 against
    # undefined (no customer), so no CAC change.
    eve = contact_create(email="eve@example.com", source="email", entered_at=at(2), via=Via.API)
    touchpoint_record(contact=eve, campaign=april["ig"], occurred_at=at(11))
    purchase_record(contact=eve, amount="10.00", occurred_at=at(12), via=Via.API)
    response = marketer_client.get(
        reverse("reports:attribution"), {**APRIL, "attribution": "first_touch"}
    )
    email = next(r for r in response.context["comparison"] if r["key"] == "email")
    assert email["cost"] == "0.00"
    assert (email["revenue"], email["reference_revenue"]) == ("10.00", "0.00")
    assert (email["revenue_change"], email["revenue_change_ratio"]) == ("10.00", None)
    assert (email["customers"], email["reference_customers"]) == ("1.00", "0.00")
    assert (email["customers_change"], email["customers_change_ratio"]) == ("1.00", None)
    assert email["roi"] is None and email["reference_roi"] is None and email["roi_change"] is None
    assert email["cost_per_customer"] == "0.00"
    assert email["reference_cost_per_customer"] is None
    assert email["cost_per_customer_change"] is None
    row = response.content.decode().split('data-key="email"')[1].split("</tr>")[0]
    # Revenue %, customers %, ROI, reference ROI, ROI change, reference CAC, CAC change.
    assert row.count("—") == 7


def test_rows_link_to_their_campaign_or_the_dashboard(marketer_client, april):
    response = marketer_client.get(
        reverse("reports:attribution"), {**APRIL, "group_by": "campaign", "attribution": "linear"}
    )
    rows = {r["label"]: r for r in response.context["comparison"]}
    fb = april["fb"]
    assert rows["FB ads"]["href"] == f"/reports/campaigns/{fb.pk}/?{PERIOD}&attribution=linear"
    assert figures(rows["FB ads"]) == FACEBOOK  # one campaign per channel: the same figures
    page = response.content.decode()
    assert f'<a href="/reports/campaigns/{fb.pk}/?{PERIOD.replace("&", "&amp;")}' in page
    # The campaign's page opens on the attribution page's period.
    opened = marketer_client.get(rows["FB ads"]["href"])
    assert opened.context["period"].start == dt.date(2026, 4, 1)
    assert opened.context["period"].end == dt.date(2026, 4, 30)
    by_channel = marketer_client.get(reverse("reports:attribution"), APRIL)
    channel_rows = {r["key"]: r for r in by_channel.context["comparison"]}
    assert channel_rows["facebook"]["href"] == f"/reports/?{PERIOD}&attribution=last_touch"


def test_no_campaign_and_unattributed_rows_have_no_link(marketer_client, april):
    # Fay enters from facebook without a campaign and buys 20.00; a walk-in buys 5.00.
    fay = contact_create(email="fay@example.com", source="facebook", entered_at=at(2), via=Via.API)
    purchase_record(contact=fay, amount="20.00", occurred_at=at(3), via=Via.API)
    purchase_record(email="walkin@example.com", amount="5.00", occurred_at=at(3), via=Via.API)
    response = marketer_client.get(
        reverse("reports:attribution"), {**APRIL, "group_by": "campaign"}
    )
    rows = {r["key"]: r for r in response.context["comparison"]}
    assert rows["none:facebook"]["href"] is None
    assert rows["unattributed"]["href"] is None
    assert response.context["comparison"][-1]["key"] == "unattributed"  # always last
    page = response.content.decode()
    assert '<th scope="row">Facebook (no campaign)</th>' in page
    assert '<th scope="row">Unattributed</th>' in page
    # The unattributed row is the same in every model: not in the chart.
    assert "Unattributed" not in response.context["chart"]["spec"]["labels"]


def test_the_csv_equals_the_page(marketer_client, april):
    params = {**APRIL, "attribution": "linear", "reference": "last_touch"}
    page = marketer_client.get(reverse("reports:attribution"), params)
    response = marketer_client.get(reverse("reports:export", args=["attribution"]), params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert (
        "attribution-channel-2026-04-01-2026-04-30-linear-vs-last_touch.csv"
        in (response["Content-Disposition"])
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    shown = [*page.context["comparison"], page.context["comparison_totals"]]
    assert (
        [r["key"] for r in rows]
        == [r["key"] for r in shown]
        == [
            "instagram",
            "facebook",
            "totals",
        ]
    )
    for row, want in zip(rows, shown, strict=True):
        assert (row["attribution"], row["reference"]) == ("linear", "last_touch")
        assert row["label"] == want["label"]
        for key in FIGURES:
            assert row[key] == (want[key] or ""), key
        for model, revenue in want["revenue_by_model"].items():
            assert row[f"revenue_{model}"] == (revenue or "")  # empty: too few conversions
    assert [rows[1][k] for k in FIGURES] == FACEBOOK
    assert [rows[2][k] for k in FIGURES] == TOTALS
    assert rows[1]["revenue_first_touch"] == "210.00"


def test_forged_parameters_are_refused_not_a_500(marketer_client, april):
    url = reverse("reports:attribution")
    response = marketer_client.get(url, {**APRIL, "reference": "best_touch"})
    assert response.status_code == 400
    assert response.context["reference"] == "last_touch"
    assert "Select a valid choice" in response.content.decode()
    assert marketer_client.get(url, {**APRIL, "attribution": "nope"}).status_code == 400
    assert marketer_client.get(url, {**APRIL, "group_by": "<x>"}).status_code == 200
    export = reverse("reports:export", args=["attribution"])
    assert marketer_client.get(export, {**APRIL, "reference": "x"}).status_code == 400
    assert marketer_client.get(export, {**APRIL, "attribution": "x"}).status_code == 400
    assert marketer_client.get(url, {"preset": "custom", "start": "2026-04-31"}).status_code == 400


def test_the_page_needs_the_report_permission(client, sales_user, db):
    client.force_login(sales_user)
    assert client.get(reverse("reports:attribution")).status_code == 403
    assert client.get(reverse("reports:export", args=["attribution"])).status_code == 403
    client.logout()
    response = client.get(reverse("reports:attribution"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_every_new_figure_is_defined_on_the_page(marketer_client, april):
    from reports.glossary import TERMS

    page = marketer_client.get(reverse("reports:attribution"), APRIL).content.decode()
    for key in ("reference_model", "change", "change_ratio", "roi_change", "cac_change"):
        assert TERMS[key].definition in page.replace("&#x27;", "'"), key
    # Each column's header carries its definition as a tooltip (hover and focus).
    assert 'aria-describedby="comparison-tip-roi_change"' in page
    assert 'id="comparison-tip-roi_change">' in page


def test_query_count_is_pinned_and_the_page_is_cached(
    marketer_client, april, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    url = reverse("reports:attribution")
    # Cold: every day of April computed (seven rule-based models) and cached, and April rolled
    # up, and the two data-driven models' journeys read (two statements each, whatever the
    # data): 109 queries on SQLite, 135 on PostgreSQL (each statement's SET LOCALs and
    # savepoints).
    with django_assert_max_num_queries(140) as cold:
        marketer_client.get(url, {**APRIL, "attribution": "linear"})
    # Ten more buyers, each from FB ads then IG reels on 20 April (that day's caches voided
    # once they commit): recomputed in no more queries, but the one that finds the cached
    # figures void.
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(10):
            buyer = contact_create(
                email=f"buyer{i}@example.com",
                source_campaign=april["fb"],
                entered_at=at(20) - dt.timedelta(hours=2),
                via=Via.API,
            )
            touchpoint_record(
                contact=buyer, campaign=april["ig"], occurred_at=at(20) - dt.timedelta(hours=1)
            )
            purchase_record(contact=buyer, amount="10.00", occurred_at=at(20), via=Via.API)
    with django_assert_max_num_queries(len(cold.captured_queries) + 1):
        response = marketer_client.get(url, {**APRIL, "attribution": "linear"})
    assert response.context["comparison_totals"]["revenue"] == "400.00"  # 300 + 10 x 10
    # Cached: another model or reference reads the same cached figures.
    with django_assert_max_num_queries(8):
        marketer_client.get(url, {**APRIL, "attribution": "time_decay", "reference": "linear"})
    with django_assert_max_num_queries(8):
        marketer_client.get(reverse("reports:export", args=["attribution"]), APRIL)


@pytest.mark.parametrize(
    "value,kind,text",
    [
        ("30.00", "money", "+30.00 USD"),
        ("-42.857", "money", "-42.86 USD"),
        ("0.00", "money", "0.00 USD"),  # nothing moved: no sign
        ("-0.001", "money", "0.00 USD"),  # rounds to nothing: no sign either
        ("0.17", "decimal", "+0.17"),
        ("0.3333", "percent", "+33.3%"),
        ("-0.1429", "percent", "-14.3%"),
        ("0.1000", "points", "+10.0 pp"),
        ("1234.5", "money", "+1,234.50 USD"),
        (None, "percent", "—"),
        ("", "money", "—"),
    ],
)
def test_a_change_reads_signed(value, kind, text):
    from reports.templatetags.report_format import change

    assert change(value, kind) == text
