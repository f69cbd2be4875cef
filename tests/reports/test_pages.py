"""The marketers' pages, through the test client: access, figures, exports, query budgets.

Scenario (March 2026, UTC; hand-worked):
- "Spring pins" (Pinterest) costs 400.00 on 5 March and owns coupon PIN10; "B2B posts"
  (LinkedIn) costs 200.00 on 10 March, targets 2 leads at 50.00 per lead.
- Ada enters from "B2B posts" on 2 March and becomes a lead on 3 March; she buys for 100.00
  with PIN10 on 20 March. A walk-in buys for 50.00 with PIN10 on 15 March.
Totals: revenue 150.00, cost 600.00, roi (150 - 600) / 600 = -0.7500.
Last touch: Pinterest 150.00 (both purchases end on the coupon), LinkedIn 0.00.
First touch: LinkedIn 100.00 (Ada's follow), Pinterest 50.00 (the walk-in's only touch).
"B2B posts": 1 lead against a target of 2 (below); cost per lead 200.00 / 1 = 200.00 against
50.00 (above).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from leads.models import Via
from leads.services import purchase_record
from reports.dashboard import Period, preset_period
from reports.metrics import roi_report
from reports.models import Attribution, ReportSubscription
from tests.factories import (
    ContactFactory,
    PurchaseFactory,
    UserFactory,
)

UTC = dt.UTC
MARCH = {"preset": "custom", "start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def marketer_client(client, marketing_user):
    client.force_login(marketing_user)
    return client


def test_anonymous_is_sent_to_log_in(client, db):
    response = client.get(reverse("reports:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    "name,args",
    [
        ("reports:dashboard", []),
        ("reports:attribution", []),
        ("reports:saved", []),
        ("reports:subscriptions", []),
        ("reports:campaigns", []),
        ("reports:export", ["channels"]),
        ("reports:paths", []),
        ("reports:paths-csv", []),
    ],
)
def test_sales_users_are_refused_every_page(client, sales_user, name, args):
    client.force_login(sales_user)
    assert client.get(reverse(name, args=args)).status_code == 403


def test_dashboard_figures_under_two_models(marketer_client, scenario):
    response = marketer_client.get(reverse("reports:dashboard"), MARCH)
    assert response.status_code == 200
    cards = {c["key"]: c for c in response.context["headlines"]}
    assert cards["revenue"]["value"] == "150.00"
    assert cards["cost"]["value"] == "600.00"
    assert cards["roi"]["value"] == "-0.7500"
    revenue = {r["key"]: r["revenue"] for r in response.context["channels"]["rows"]}
    assert revenue["pinterest"] == "150.00"
    assert revenue.get("linkedin", "0.00") == "0.00"

    response = marketer_client.get(
        reverse("reports:dashboard"), {**MARCH, "attribution": "first_touch"}
    )
    revenue = {r["key"]: r["revenue"] for r in response.context["channels"]["rows"]}
    assert revenue == {**revenue, "pinterest": "50.00", "linkedin": "100.00"}
    assert response.context["channels"]["totals"]["revenue"] == "150.00"


def test_campaign_targets_are_shown_against_actuals(marketer_client, scenario):
    response = marketer_client.get(reverse("reports:dashboard"), MARCH)
    b2b = next(
        r for r in response.context["campaigns"]["rows"] if r["key"] == str(scenario["b2b"].pk)
    )
    assert b2b["leads"] == 1 and b2b["leads_target_met"] is False
    assert b2b["cost_per_lead"] == "200.00" and b2b["cpl_target_met"] is False
    assert "1 / 2 (below)" in response.content.decode()


def test_headline_change_against_the_previous_period(marketer_client, scenario):
    # February: one purchase of 60.00 and no cost, so revenue went from 60.00 to 150.00: +150%.
    PurchaseFactory(
        contact=ContactFactory(),
        amount=Decimal("60.00"),
        occurred_at=dt.datetime(2026, 2, 10, tzinfo=UTC),
    )
    response = marketer_client.get(reverse("reports:dashboard"), MARCH)
    cards = {c["key"]: c for c in response.context["headlines"]}
    assert cards["revenue"]["previous"] == "60.00"
    assert cards["revenue"]["change"] == Decimal("1.5")
    assert cards["revenue"]["good"] is True
    assert cards["cost"]["change"] is None  # no cost before: no percentage


def test_bad_period_is_a_400_with_a_message(marketer_client, db):
    response = marketer_client.get(
        reverse("reports:dashboard"),
        {"preset": "custom", "start": "2026-03-31", "end": "2026-03-01"},
    )
    assert response.status_code == 400
    assert "must end on or after" in response.content.decode()
    response = marketer_client.get(
        reverse("reports:dashboard"), {"preset": "custom", "start": "2026-02-30"}
    )
    assert response.status_code == 400


def test_csv_export_equals_the_metrics(marketer_client, scenario):
    response = marketer_client.get(
        reverse("reports:export", args=["campaigns"]), {**MARCH, "attribution": "linear"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    expected = roi_report(
        start=dt.date(2026, 3, 1),
        end=dt.date(2026, 3, 31),
        group_by="campaign",
        attribution="linear",
    )
    assert [r["key"] for r in rows] == [r["key"] for r in expected["rows"]] + ["totals"]
    for row, want in zip(rows, expected["rows"], strict=False):
        assert row["revenue"] == want["revenue"]
        assert row["cost"] == want["cost"]
    assert rows[-1]["revenue"] == "150.00"


def test_unknown_export_table_is_404(marketer_client, db):
    assert marketer_client.get(reverse("reports:export", args=["nope"])).status_code == 404


def test_attribution_page_shows_every_model(marketer_client, scenario):
    response = marketer_client.get(reverse("reports:attribution"), MARCH)
    assert response.status_code == 200
    rows = {r["key"]: r for r in response.context["rows"]}
    assert rows["linkedin"]["revenue"]["first_touch"] == "100.00"
    assert rows["linkedin"]["revenue"]["last_touch"] == "0.00"
    assert rows["linkedin"]["spread"] == Decimal("100.00")
    assert response.context["totals"] == ["150.00"] * len(Attribution.values)


def test_campaign_page(marketer_client, scenario):
    response = marketer_client.get(reverse("reports:campaign", args=[scenario["pins"].pk]), MARCH)
    assert response.status_code == 200
    data = response.context
    assert data["cost_total"] == Decimal("400.00")
    coupon = data["coupons"][0]
    assert (coupon.code, coupon.used, coupon.revenue) == ("PIN10", 2, Decimal("150.00"))
    assert len(data["over_time"]) == 12


def test_dashboard_query_count_does_not_grow_with_data(
    marketer_client, scenario, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    # Cold: every day of the page's span computed and cached, in a fixed number of queries.
    with django_assert_max_num_queries(90) as small:
        marketer_client.get(reverse("reports:dashboard"), MARCH)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(30):
            purchase_record(
                email=f"buyer{i}@example.com",
                amount="10.00",
                coupon="PIN10",
                occurred_at=dt.datetime(2026, 3, 16, 9, tzinfo=UTC),
                via=Via.API,
            )
    # The late purchases voided 16 March and the page: recomputed, in no more queries.
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = marketer_client.get(reverse("reports:dashboard"), MARCH)
    assert response.context["channels"]["totals"]["revenue"] == "450.00"  # 150 + 30 x 10
    # Unchanged since: the page's figures come from the cache.
    with django_assert_max_num_queries(12):
        marketer_client.get(reverse("reports:dashboard"), MARCH)


def test_subscriptions_are_saved_per_address_and_granularity(marketer_client, marketing_user):
    response = marketer_client.post(
        reverse("reports:subscriptions"),
        {"email": marketing_user.email, "kinds": ["weekly", "monthly"]},
    )
    assert response.status_code == 302
    assert set(
        ReportSubscription.objects.filter(email=marketing_user.email).values_list(
            "granularity", flat=True
        )
    ) == {"weekly", "monthly"}
    marketer_client.post(
        reverse("reports:subscriptions"), {"email": marketing_user.email, "kinds": ["monthly"]}
    )
    assert list(
        ReportSubscription.objects.filter(email=marketing_user.email).values_list(
            "granularity", flat=True
        )
    ) == ["monthly"]


def test_presets_are_the_last_full_periods():
    on = dt.date(2026, 5, 14)  # a Thursday
    assert preset_period("last_week", on=on) == Period(
        dt.date(2026, 5, 4), dt.date(2026, 5, 10), "last_week"
    )
    assert preset_period("last_month", on=on) == Period(
        dt.date(2026, 4, 1), dt.date(2026, 4, 30), "last_month"
    )
    assert preset_period("last_quarter", on=on) == Period(
        dt.date(2026, 1, 1), dt.date(2026, 3, 31), "last_quarter"
    )
    assert preset_period("last_year", on=on) == Period(
        dt.date(2025, 1, 1), dt.date(2025, 12, 31), "last_year"
    )
    march = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31), "last_month")
    assert march.previous() == Period(dt.date(2026, 2, 1), dt.date(2026, 2, 28), "last_month")
    assert [p.start for p in march.trail(3)] == [
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 1),
    ]
    custom = Period(dt.date(2026, 3, 10), dt.date(2026, 3, 16), "custom")
    assert custom.previous() == Period(dt.date(2026, 3, 3), dt.date(2026, 3, 9), "custom")


def test_the_dashboard_escapes_user_strings(marketer_client, scenario):
    scenario["pins"].name = "<img src=x onerror=alert(1)>"
    scenario["pins"].save()
    body = marketer_client.get(reverse("reports:dashboard"), MARCH).content.decode()
    assert "<img src=x onerror=alert(1)>" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


def test_home_sends_marketers_to_the_dashboard(client, marketing_user, sales_user):
    client.force_login(marketing_user)
    assert client.get("/")["Location"] == reverse("reports:dashboard")
    client.force_login(sales_user)
    assert client.get("/")["Location"] == reverse("admin:index")


def test_a_marketer_without_staff_can_log_in_on_the_login_page(client, db):
    UserFactory(username="maria", groups=["Marketing"], is_staff=False)
    response = client.post(
        reverse("login"), {"username": "maria", "password": "pw-for-tests-1", "next": "/reports/"}
    )
    assert response.status_code == 302 and response["Location"] == "/reports/"


@pytest.mark.parametrize("model", ["last_touch", "time_decay"])
def test_campaign_trend_equals_the_campaigns_row_of_each_periods_report(
    scenario, model, django_assert_max_num_queries
):
    from reports.dashboard import campaign_trend

    # B2B posts: 200.00 of cost in March; Ada, from B2B, bought 100.00 with the pins coupon.
    campaign = scenario["b2b"]
    periods = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31), "last_month").trail(12)
    # Whatever the number of periods: the months' roll-ups and stamps, one day cache read (its
    # stamps, rows, statement and writes), the roll-ups' writes, one cost query.
    with django_assert_max_num_queries(15):
        trend = campaign_trend(campaign=campaign, periods=periods, attribution=model)
    for period, point in zip(periods, trend, strict=True):
        report = roi_report(
            start=period.start, end=period.end, group_by="campaign", attribution=model
        )
        row = next((r for r in report["rows"] if r["key"] == str(campaign.pk)), None)
        expected = (row["cost"], row["revenue"], row["roi"]) if row else ("0.00", "0.00", None)
        assert (point["cost"], point["revenue"], point["roi"]) == expected
    assert trend[-1]["cost"] == "200.00"
