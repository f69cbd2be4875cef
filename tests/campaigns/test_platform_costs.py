"""Ad platforms' own cost exports (`import_costs --format`): each platform's daily campaign
report becomes ad spend per campaign and day, matched by utm_campaign or name (or a name mapped
once in the admin), replaced on re-import, refused in another currency without a rate.

Campaigns: Spring pins (pinterest, utm_campaign "spring") and B2B (linkedin).
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from campaigns.csvimport import FileRefused, Operator, import_file
from campaigns.imports import PlatformCostKind, parse_amount, parse_day
from campaigns.models import CampaignAlias, Cost
from campaigns.services import campaign_name_save
from reports.metrics import roi_report
from tests.factories import CampaignFactory, channel

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "costs"
MARCH = {"start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 31)}


@pytest.fixture
def campaigns(reference_data):
    return {
        "pins": CampaignFactory(
            name="Spring pins", channel=channel("pinterest"), utm_campaign="spring"
        ),
        "b2b": CampaignFactory(name="B2B", channel=channel("linkedin"), utm_campaign="b2b-q1"),
    }


def spend(campaign) -> dict[dt.date, Decimal]:
    return dict(
        Cost.objects.filter(campaign=campaign, category="ad_spend").values_list(
            "incurred_on", "amount"
        )
    )


def run(platform: str, name: str | None = None, **rates: str):
    kind = PlatformCostKind(platform, rates={k: Decimal(v) for k, v in rates.items()})
    return import_file(FIXTURES / (name or f"{platform}.csv"), kind, user=Operator())


def test_meta(campaigns):
    outcome = run("meta")
    # 12.50 and 1,010.25 for Spring pins; "Autumn leaves" matches no campaign; -3.00 refused.
    assert spend(campaigns["pins"]) == {
        dt.date(2026, 3, 5): Decimal("12.50"),
        dt.date(2026, 3, 6): Decimal("1010.25"),
    }
    assert [(r.line, r.column) for r in outcome.rejected] == [
        (4, "Campaign name"),
        (5, "Amount spent (USD)"),
    ]
    assert "Ad platform campaign names" in outcome.rejected[0].reason
    assert outcome.rejected[1].reason == "A negative amount."
    # The unmatched name is kept, unmapped, for the admin.
    kept = CampaignAlias.objects.get()
    assert (kept.platform, kept.name, kept.campaign) == ("meta", "Autumn leaves", None)


def test_google_sums_a_day_skips_the_total_and_reads_its_dates(campaigns):
    outcome = run("google")
    # Two rows of spring on 5 March: 20.00 + 5.00; B2B's "--" on "Mar 6, 2026" is no spend.
    assert spend(campaigns["pins"]) == {dt.date(2026, 3, 5): Decimal("25.00")}
    assert spend(campaigns["b2b"]) == {dt.date(2026, 3, 6): Decimal("0.00")}
    assert (outcome.created, outcome.skipped, outcome.rejected) == (3, 1, [])


def test_linkedin_in_another_currency_needs_a_rate(campaigns, settings):
    settings.DEFAULT_CURRENCY = "USD"
    refused = run("linkedin")
    assert [r.line for r in refused.rejected] == [5, 6]
    assert refused.rejected[0].reason.startswith("In EUR, not USD: give its rate")
    assert not Cost.objects.exists()
    # 1 EUR = 1.1 USD: 100.00 EUR is 110.00, 50.00 is 55.00 (dates read month first).
    run("linkedin", EUR="1.1")
    assert spend(campaigns["b2b"]) == {
        dt.date(2026, 3, 5): Decimal("110.00"),
        dt.date(2026, 3, 6): Decimal("55.00"),
    }


def test_tiktok_and_ga4(campaigns):
    tiktok = run("tiktok")
    assert spend(campaigns["pins"]) == {dt.date(2026, 3, 5): Decimal("7.50")}
    assert [(r.line, r.column) for r in tiktok.rejected] == [(3, "By Day")]
    # GA4's cost-data layout: utm_campaign, dates as 20260305, "3,50" with a decimal comma.
    # Each platform keeps its own spend: GA4's 4.00 on 5 March is a cost of its own.
    run("ga4")
    assert sorted(
        Cost.objects.filter(campaign=campaigns["pins"]).values_list("incurred_on", "amount")
    ) == [
        (dt.date(2026, 3, 5), Decimal("4.00")),
        (dt.date(2026, 3, 5), Decimal("7.50")),
        (dt.date(2026, 3, 6), Decimal("3.50")),
    ]


def test_reimporting_an_overlapping_range_replaces_those_days(campaigns, tmp_path):
    run("meta")
    later = tmp_path / "meta-again.csv"
    later.write_text(
        "Campaign name,Day,Amount spent (USD)\n"
        "Spring pins,2026-03-06,1000.00\n"
        "Spring pins,2026-03-08,30.00\n"
    )
    outcome = import_file(later, PlatformCostKind("meta"), user=Operator())
    assert (outcome.created, outcome.unchanged) == (2, 0)
    # 6 March replaced (1,010.25 -> 1,000.00), 8 March added, 5 March untouched.
    assert spend(campaigns["pins"]) == {
        dt.date(2026, 3, 5): Decimal("12.50"),
        dt.date(2026, 3, 6): Decimal("1000.00"),
        dt.date(2026, 3, 8): Decimal("30.00"),
    }
    assert import_file(later, PlatformCostKind("meta"), user=Operator()).unchanged == 2
    # The reports follow: March's cost is the replaced spend.
    assert roi_report(**MARCH)["totals"]["cost"] == "1042.50"


def test_a_name_mapped_once_matches_from_then_on(campaigns):
    run("meta")
    alias = CampaignAlias.objects.get(name="Autumn leaves")
    campaign_name_save(alias=alias, campaign=campaigns["b2b"])
    outcome = run("meta")
    assert spend(campaigns["b2b"]) == {dt.date(2026, 3, 6): Decimal("4.00")}
    assert [r.line for r in outcome.rejected] == [5]  # only the negative amount


def test_a_file_of_another_platform_is_refused(campaigns):
    with pytest.raises(FileRefused, match="Not a LinkedIn cost export: no column for day"):
        run("linkedin", "tiktok.csv")


def test_the_admin_lists_the_names_to_map_and_maps_one(campaigns, client, marketing_user):
    run("meta")
    client.force_login(marketing_user)
    url = reverse("admin:campaigns_campaignalias_changelist")
    listed = client.get(url, {"mapped": "no"})
    assert [a.name for a in listed.context["cl"].result_list] == ["Autumn leaves"]
    alias = CampaignAlias.objects.get()
    response = client.post(
        reverse("admin:campaigns_campaignalias_change", args=[alias.pk]),
        {"platform": "meta", "name": "Autumn leaves", "campaign": campaigns["pins"].pk},
    )
    assert response.status_code == 302
    alias.refresh_from_db()
    assert alias.campaign == campaigns["pins"] and alias.name_key == "autumn leaves"
    assert client.get(url, {"mapped": "no"}).context["cl"].result_count == 0


def test_the_command(campaigns, tmp_path):
    path = tmp_path / "linkedin.csv"
    shutil.copy(FIXTURES / "linkedin.csv", path)
    out = io.StringIO()
    call_command("import_costs", str(path), "--format", "linkedin", "--rate", "EUR=1.1", stdout=out)
    assert "2 rows: 2 created" in out.getvalue()
    with pytest.raises(CommandError, match="--rate takes CODE=RATE"):
        call_command("import_costs", str(path), "--format", "linkedin", "--rate", "EUR", stdout=out)
    with pytest.raises(CommandError, match="applies to an ad platform"):
        call_command("import_costs", str(path), "--rate", "EUR=1.1", stdout=out)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234.56", Decimal("1234.56")),
        ("1234,56", Decimal("1234.56")),
        ("$12.00", Decimal("12.00")),
        ("1,234", Decimal("1234")),
        ("--", Decimal("0")),
        ("12.5.1", None),
        ("abc", None),
    ],
)
def test_amounts(text, expected):
    assert parse_amount(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-05", dt.date(2026, 3, 5)),
        ("20260305", dt.date(2026, 3, 5)),
        ("3/5/2026", dt.date(2026, 3, 5)),
        ("Mar 5, 2026", dt.date(2026, 3, 5)),
        ("2026-13-40", None),
        ("", None),
    ],
)
def test_days(text, expected):
    assert parse_day(text) == expected
