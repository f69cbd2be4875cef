"""Every figure defined once (reports.glossary) and read the same in the API schema and on
the pages."""

from __future__ import annotations

import pytest

from reports.glossary import FUNNEL, TERMS, definition
from reports.serializers import FunnelRow, RoiRow

REQUIRED = [
    "cost",
    "revenue",
    "roi",
    "roas",
    "followers",
    "leads",
    "qualified",
    "customers",
    "cost_per_lead",
    "cost_per_customer",
    "assisted_conversions",
    "assisted_revenue",
    "impressions",
    "interactions",
    "engagement_rate",
    "discounts",
    "unattributed",
    "no_campaign",
]


def test_the_glossary_defines_every_figure_the_issue_names():
    for key in REQUIRED:
        assert TERMS[key].label and len(TERMS[key].definition) > 20, key
    for key in FunnelRow().fields:
        if key not in ("key", "label", "channel"):
            assert FUNNEL.get(key) or TERMS.get(key), key
    # The two things that puzzled readers are said in words.
    assert "by the day each stage was reached" in FUNNEL["leads"].definition
    assert "more qualified than leads" in FUNNEL["qualified"].definition
    assert "credited by the attribution" in FUNNEL["customers"].definition
    assert "0.00 where customers came but no cost was" in TERMS["cost_per_customer"].definition


@pytest.mark.django_db
def test_the_schema_describes_every_report_figure_with_the_glossary():
    from drf_spectacular.generators import SchemaGenerator

    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    for component, serializer, table in (
        ("RoiRow", RoiRow, "roi"),
        ("RoiTotals", RoiRow, "roi"),
        ("FunnelRow", FunnelRow, "funnel"),
        ("FunnelTotals", FunnelRow, "funnel"),
    ):
        props = schemas[component]["properties"]
        figures = [k for k in serializer().fields if k not in ("key", "label", "channel")]
        assert figures
        for key in figures:
            assert props[key]["description"] == definition(key, table), (component, key)
    assert "(no campaign)" in schemas["RoiRow"]["properties"]["label"]["description"]


@pytest.mark.django_db
def test_saved_reports_made_before_the_rename_get_their_channel_in_the_label(reference_data):
    import datetime as dt
    import importlib

    from django.apps import apps

    from reports.models import Report

    migration = importlib.import_module("reports.migrations.0011_no_campaign_labels")
    rows = [
        {"key": "none:facebook", "label": "(no campaign)", "channel": "facebook"},
        {"key": "none:email", "label": "(no campaign)", "channel": "email"},
        {"key": "12", "label": "(no campaign)", "channel": "facebook"},  # a campaign so named
    ]
    old = Report.objects.create(
        start=dt.date(2026, 10, 1),
        end=dt.date(2026, 10, 31),
        group_by="campaign",
        status="done",
        data={"roi": {"rows": [dict(r) for r in rows]}, "funnel": {"rows": [dict(rows[0])]}},
    )
    by_channel = Report.objects.create(
        start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31), group_by="channel", data=None
    )
    migration.forwards(apps, None)
    old.refresh_from_db()
    assert [r["label"] for r in old.data["roi"]["rows"]] == [
        "Facebook (no campaign)",
        "Email (no campaign)",
        "(no campaign)",
    ]
    assert old.data["funnel"]["rows"][0]["label"] == "Facebook (no campaign)"
    by_channel.refresh_from_db()
    assert by_channel.data is None
    migration.backwards(apps, None)
    old.refresh_from_db()
    assert [r["label"] for r in old.data["roi"]["rows"]] == ["(no campaign)"] * 3
