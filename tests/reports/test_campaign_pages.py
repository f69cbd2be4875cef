"""The campaign list and a campaign's default period (issue 11), through the test client.

The scenario of tests/reports/conftest.py (March 2026, UTC), seen on 15 April 2026:
- "Spring pins" (Pinterest, from 1 Feb 2026, no end) costs 400.00 on 5 March; last touch
  credits it with both purchases, 100.00 + 50.00 = 150.00: ROI (150 - 400) / 400 = -0.6250.
- "B2B posts" (LinkedIn, from 1 Feb 2026) costs 200.00 on 10 March; Ada became a lead from it
  on 3 March: 1 lead against a target of 2 (below), 200.00 per lead against 50.00 (above);
  revenue 0.00 under last touch, ROI (0 - 200) / 200 = -1.0000.
The list's default period is the last 12 full months: 1 Apr 2025 - 31 Mar 2026, holding March.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from campaigns.models import Campaign, Cost
from reports.dashboard import Period, campaign_period, campaign_status
from tests.factories import CampaignFactory

D = dt.date
APRIL_15 = dt.datetime(2026, 4, 15, 12, tzinfo=dt.UTC)


@pytest.fixture
def marketer_client(client, marketing_user):
    client.force_login(marketing_user)
    return client


@pytest.fixture
def april():
    with time_machine.travel(APRIL_15, tick=False):
        yield


@pytest.fixture
def more_campaigns(scenario):
    planned = CampaignFactory(name="Summer reels", starts_on=D(2026, 5, 1))
    ended = CampaignFactory(name="January push", starts_on=D(2026, 1, 1), ends_on=D(2026, 3, 31))
    return {"planned": planned, "ended": ended}


def rows_by_name(response) -> dict[str, dict]:
    return {r["name"]: r for r in response.context["rows"]}


def test_the_list_shows_status_dates_and_figures(marketer_client, scenario, more_campaigns, april):
    response = marketer_client.get(reverse("reports:campaigns"))
    assert response.status_code == 200
    period = response.context["period"]
    assert (period.start, period.end) == (D(2025, 4, 1), D(2026, 3, 31))
    rows = rows_by_name(response)
    assert {name: r["status"] for name, r in rows.items()} == {
        "Spring pins": "running",
        "B2B posts": "running",
        "Summer reels": "planned",  # starts 1 May, after 15 April
        "January push": "ended",  # ended 31 March
    }
    pins, b2b = rows["Spring pins"], rows["B2B posts"]
    assert (pins["cost"], pins["revenue"], pins["roi"]) == ("400.00", "150.00", "-0.6250")
    assert (b2b["cost"], b2b["revenue"], b2b["roi"]) == ("200.00", "0.00", "-1.0000")
    assert (b2b["leads"], b2b["target_leads"], b2b["leads_target_met"]) == (1, 2, False)
    assert (b2b["cost_per_lead"], b2b["cpl_target_met"]) == ("200.00", False)
    assert rows["Summer reels"]["cost"] is None  # no figures: shown as "-"
    html = response.content.decode()
    assert f'href="{reverse("reports:campaign", args=[scenario["pins"].pk])}"' in html
    assert "1 / 2 (below)" in html
    assert "200.00" in html and "(above)" in html
    # Linked from every page's navigation.
    assert f'href="{reverse("reports:campaigns")}"' in html


def test_the_list_sorts_by_any_column_through_the_address(
    marketer_client, scenario, more_campaigns, april
):
    names = lambda r: [row["name"] for row in r.context["rows"]]  # noqa: E731
    by_revenue = marketer_client.get(reverse("reports:campaigns"), {"sort": "-revenue"})
    # Campaigns without figures in the period come last, whatever the order.
    assert names(by_revenue) == ["Spring pins", "B2B posts", "January push", "Summer reels"]
    by_cost = marketer_client.get(reverse("reports:campaigns"), {"sort": "cost"})
    assert names(by_cost)[:2] == ["B2B posts", "Spring pins"]
    by_name = marketer_client.get(reverse("reports:campaigns"), {"sort": "name"})
    assert names(by_name) == ["B2B posts", "January push", "Spring pins", "Summer reels"]
    # The sorted header links to the reverse order and keeps the period in the address.
    response = marketer_client.get(
        reverse("reports:campaigns"), {"sort": "name", "preset": "last_month"}
    )
    header = next(h for h in response.context["headers"] if h["key"] == "name")
    assert header["aria_sort"] == "ascending"
    assert "sort=-name" in header["href"] and "preset=last_month" in header["href"]
    assert '<input type="hidden" name="sort" value="name">' in response.content.decode()
    # An unknown order is the default one (newest first), and says so.
    bogus = marketer_client.get(reverse("reports:campaigns"), {"sort": "-password"})
    assert bogus.context["sort"] == "-starts_on"
    assert names(bogus)[0] == "Summer reels"  # starts 1 May
    # last month (March): the same figures.
    assert rows_by_name(response)["Spring pins"]["revenue"] == "150.00"


def test_the_list_costs_the_same_queries_for_many_campaigns(
    marketer_client, scenario, april, django_assert_max_num_queries
):
    marketer_client.get(reverse("reports:campaigns"))  # warm the closed days' caches
    # The warm-up (a year of days) overflows the connection's bounded query log, which would
    # make the counts below read 0: start it afresh.
    connection.queries_log.clear()
    with django_assert_max_num_queries(50) as few:
        marketer_client.get(reverse("reports:campaigns"))
    budget = len(few)
    for i in range(20):
        campaign = CampaignFactory(name=f"Extra {i}", target_leads=5)
        Cost.objects.create(campaign=campaign, incurred_on=D(2026, 3, 7), amount="10.00")
    marketer_client.get(reverse("reports:campaigns"))
    connection.queries_log.clear()
    with django_assert_max_num_queries(budget):
        response = marketer_client.get(reverse("reports:campaigns"))
    assert len(response.context["rows"]) == 22


def test_a_campaign_page_opens_on_the_campaigns_own_days(
    marketer_client, scenario, more_campaigns, april
):
    pins = scenario["pins"]
    response = marketer_client.get(reverse("reports:campaign", args=[pins.pk]))
    assert response.status_code == 200
    period = response.context["period"]
    # From its start (1 Feb) to yesterday (14 April): it has no end.
    assert (period.start, period.end) == (D(2026, 2, 1), D(2026, 4, 14))
    assert response.context["cost_total"] == 400
    assert response.context["row"]["revenue"] == "150.00"
    # Its ROI over time is by month within its days: Feb, Mar, 1-14 Apr.
    assert [p["label"] for p in response.context["over_time"]] == [
        "Feb 2026",
        "Mar 2026",
        "Apr 2026",
    ]
    # The form says what is shown: a custom range of those days.
    html = response.content.decode()
    assert 'value="2026-02-01"' in html and 'value="2026-04-14"' in html
    # An ended campaign: its own start and end.
    ended = marketer_client.get(reverse("reports:campaign", args=[more_campaigns["ended"].pk]))
    assert (ended.context["period"].start, ended.context["period"].end) == (
        D(2026, 1, 1),
        D(2026, 3, 31),
    )
    # A period in the address still wins.
    march = marketer_client.get(
        reverse("reports:campaign", args=[pins.pk]), {"preset": "last_month"}
    )
    assert (march.context["period"].start, march.context["period"].end) == (
        D(2026, 3, 1),
        D(2026, 3, 31),
    )


def test_campaign_period_and_status_by_hand():
    on = D(2026, 4, 15)
    running = Campaign(starts_on=D(2026, 2, 1), ends_on=None)
    ended = Campaign(starts_on=D(2026, 1, 10), ends_on=D(2026, 1, 31))
    ends_today = Campaign(starts_on=D(2026, 4, 1), ends_on=D(2026, 4, 15))
    planned = Campaign(starts_on=D(2026, 5, 1), ends_on=D(2026, 5, 31))
    old = Campaign(starts_on=D(2020, 1, 1), ends_on=None)
    assert campaign_period(running, on=on) == Period(D(2026, 2, 1), D(2026, 4, 14), "campaign")
    assert campaign_period(ended, on=on) == Period(D(2026, 1, 10), D(2026, 1, 31), "campaign")
    # Today is not closed: up to yesterday.
    assert campaign_period(ends_today, on=on) == Period(D(2026, 4, 1), D(2026, 4, 14), "campaign")
    # Not started: its planned days (no figures yet).
    assert campaign_period(planned, on=on) == Period(D(2026, 5, 1), D(2026, 5, 31), "campaign")
    # Six years: the last 3 x 366 = 1098 days the pages allow. 14 Apr 2023 to 14 Apr 2026 is
    # 1097 days inclusive (365 + 366 with 29 Feb 2024 + 365, plus the first day): one more.
    assert campaign_period(old, on=on) == Period(D(2023, 4, 13), D(2026, 4, 14), "campaign")
    assert [campaign_status(c, on=on) for c in (running, ended, ends_today, planned)] == [
        "running",
        "ended",
        "running",
        "planned",
    ]
