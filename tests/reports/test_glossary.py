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
