"""One CSV writer (reports.csvexport) for every export: the pages' tables and the emailed
reports; text that a spreadsheet would run as a formula is neutralised, numbers stay numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.models import Cost
from reports import services
from reports.csvexport import cell
from tests.factories import CampaignFactory, channel
from tests.reports.conftest import coupon_sale

UTC = dt.UTC
MARCH = {"start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 31)}


@pytest.mark.parametrize(
    "value,expected",
    [
        ('=HYPERLINK("http://x.example/","go")', '\'=HYPERLINK("http://x.example/","go")'),
        ("+1+cmd", "'+1+cmd"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),  # a leading digit is no excuse
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-0.3600", "-0.3600"),  # a negative figure stays a number
        ("-12", "-12"),
        (Decimal("-0.36"), "-0.36"),
        (-3, "-3"),
        ("Spring pins", "Spring pins"),
        (None, ""),
    ],
)
def test_csv_cells_that_could_run_as_formulas_are_text(value, expected):
    assert cell(value) == expected


@pytest.fixture
def hostile_names(db, reference_data):
    """March: a campaign named like a formula costs 400.00 and earns 100.00 through its coupon
    (roi (100 - 400) / 400 = -0.7500); another, named with a leading minus, costs 10.00."""
    evil = coupon_sale(name='=HYPERLINK("http://x.example/","go")', code="EVIL")
    minus = CampaignFactory(name="-2+3+cmd", channel=channel("x"))
    Cost.objects.create(campaign=minus, incurred_on=dt.date(2026, 3, 6), amount=Decimal("10.00"))
    return evil


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_emailed_csv_neutralises_formulas_and_keeps_numbers(hostile_names):
    report = services.report_request(
        start=MARCH["start"], end=MARCH["end"], group_by="campaign", enqueue=False
    )
    report = services.report_generate(report_id=report.pk)
    rows = _rows(services.report_csv(report))
    evil = next(r for r in rows if r["key"] == str(hostile_names.pk))
    assert evil["label"] == '\'=HYPERLINK("http://x.example/","go")'
    assert (evil["roi"], evil["revenue"], evil["cost"]) == ("-0.7500", "100.00", "400.00")
    # Totals: (100 - 410) / 410 = -0.75609... -> -0.7561.
    assert rows[-1]["key"] == "totals" and rows[-1]["roi"] == "-0.7561"


def test_every_export_is_written_by_the_same_writer(hostile_names, client, marketing_user):
    # The page's CSV of the campaigns table and the emailed CSV of the same report are the
    # same text, cell for cell.
    report = services.report_request(
        start=MARCH["start"], end=MARCH["end"], group_by="campaign", enqueue=False
    )
    report = services.report_generate(report_id=report.pk)
    client.force_login(marketing_user)
    response = client.get(
        reverse("reports:export", args=["campaigns"]),
        {"preset": "custom", "start": "2026-03-01", "end": "2026-03-31"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert page == services.report_csv(report)
    labels = {r["label"] for r in _rows(page)}
    assert {"'-2+3+cmd", '\'=HYPERLINK("http://x.example/","go")'} <= labels


def test_a_cached_csv_follows_late_data(
    hostile_names, client, marketing_user, django_capture_on_commit_callbacks
):
    # March's campaigns CSV is cached like its page; a cost recorded late for 7 March (through
    # the service, which declares the day) voids it: the next CSV shows 400.00 + 50.00.
    from campaigns.services import cost_create

    client.force_login(marketing_user)
    march = {"preset": "custom", "start": "2026-03-01", "end": "2026-03-31"}
    url = reverse("reports:export", args=["campaigns"])

    def evil_cost() -> str:
        rows = _rows(client.get(url, march).content.decode())
        return next(r for r in rows if r["key"] == str(hostile_names.pk))["cost"]

    assert evil_cost() == "400.00"
    assert evil_cost() == "400.00"  # from the cache
    with django_capture_on_commit_callbacks(execute=True):
        cost_create(campaign=hostile_names, incurred_on=dt.date(2026, 3, 7), amount="50.00")
    assert evil_cost() == "450.00"
