"""GET /api/v1/reports/paths/: the conversion paths page's figures, live (the scenario and its
hand-worked figures are those of tests/reports/test_paths.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.reports.test_paths import paths  # noqa: F401  (fixture)

URL = "/api/v1/reports/paths/"
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def marketer_api(client, marketing_user):
    client.force_login(marketing_user)
    return client


def test_the_url_is_named():
    assert reverse("report-paths") == URL


def test_paths_as_on_the_page(marketer_api, paths):  # noqa: F811
    data = marketer_api.get(URL, MARCH).json()
    assert [(r["label"], r["conversions"], r["revenue"]) for r in data["rows"]] == [
        ("Facebook", 2, "100.00"),
        ("Facebook ×3 → Email", 1, "100.00"),
        ("Email → Pinterest", 1, "80.00"),
        ("(no touches)", 1, "30.00"),
    ]
    assert data["rows"][1]["steps"] == [
        {"slug": "facebook", "name": "Facebook", "count": 3},
        {"slug": "email", "name": "Email", "count": 1},
    ]
    totals = data["totals"]
    assert (totals["conversions"], totals["revenue"], totals["touches_per_conversion"]) == (
        5,
        "310.00",
        "1.60",
    )
    assert (totals["average_days_to_convert"], totals["median_days_to_convert"]) == ("42.9", "4.0")
    assert data["other"] is None


def test_channel_and_top(marketer_api, paths):  # noqa: F811
    data = marketer_api.get(URL, {**MARCH, "channel": "email", "top": 1}).json()
    assert data["channel"] == "email"
    assert [r["label"] for r in data["rows"]] == ["Facebook ×3 → Email"]
    assert (data["other"]["label"], data["other"]["revenue"]) == ("(other paths)", "80.00")
    assert data["totals"]["revenue"] == "180.00"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {**MARCH, "channel": "myspace"},
        {**MARCH, "top": 0},
        {**MARCH, "top": "all"},
        {"start": "2026-03-31", "end": "2026-03-01"},
        {"start": "0001-01-01", "end": "0001-01-31"},
        {"start": "9999-12-01", "end": "9999-12-31"},
        {**MARCH, "lookback_days": 0},
    ],
)
def test_bad_input_is_a_400(marketer_api, paths, params):  # noqa: F811
    assert marketer_api.get(URL, params).status_code == 400


def test_only_marketers(client, sales_user):
    assert client.get(URL, MARCH).status_code in (401, 403)
    client.force_login(sales_user)
    assert client.get(URL, MARCH).status_code == 403
