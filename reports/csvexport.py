"""The CSV of every report export: the pages' tables and the emailed reports.

Values are written as the API gives them (no reformatting), each cell formula-safe
(`campaigns.csvcells`: a text a spreadsheet would run as a formula gets an apostrophe; numbers,
negative ones included, stay numbers).
"""

from __future__ import annotations

from typing import IO

from campaigns.csvcells import FORMULA_STARTS, cell, write_rows  # noqa: F401 (the reports' names)

# The API's order of the figures (ROI, then the funnel's own): a saved report's data comes back
# from PostgreSQL's jsonb with its keys in another order.
COLUMNS = (
    "cost",
    "revenue",
    "revenue_low",  # the data-driven models only
    "revenue_high",
    "roi",
    "roi_low",
    "roi_high",
    "roas",
    "followers",
    "self_reported",  # the dashboard's channel table only
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
    "followers_gained",
    "discounts",
    "target_leads",
    "target_cost_per_lead",
    "cohort_size",
    "reached_lead_share",
    "reached_customer_share",
    "median_days_to_lead",
    "median_days_to_customer",
)


def write_report(out: IO[str], report: dict) -> None:
    """A report's rows then a totals row (ROI or funnel): key, label, channel and every figure
    of the totals, in the API's order and with the API's values."""
    names = [k for k in report["totals"] if k not in ("key", "label", "channel")]
    known = [k for k in COLUMNS if k in names]
    keys = ["key", "label", "channel", *known, *(k for k in names if k not in COLUMNS)]
    totals = {"key": "totals", "label": "Totals", "channel": None, **report["totals"]}
    rows = [*report["rows"], totals]
    write_rows(out, keys, ([row.get(k) for k in keys] for row in rows))


# The attribution page's comparison of two models (`reports.dashboard.model_comparison`).
COMPARISON_COLUMNS = (
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
)


def write_comparison(out: IO[str], comparison: dict) -> None:
    """The comparison's rows then its totals: key, label, channel, the two models, every
    compared figure (as the page holds them: ratios as ratios, like the API), then the revenue
    under each of the five models."""
    models = list(comparison["totals_by_model"])
    header = [
        "key",
        "label",
        "channel",
        "attribution",
        "reference",
        *COMPARISON_COLUMNS,
        *(f"revenue_{m}" for m in models),
    ]
    pair = [comparison["model"], comparison["reference"]]
    rows = [
        [
            row["key"],
            row["label"],
            row["channel"],
            *pair,
            *(row[k] for k in COMPARISON_COLUMNS),
            *(row["revenue_by_model"][m] for m in models),
        ]
        for row in [*comparison["comparison"], comparison["comparison_totals"]]
    ]
    write_rows(out, header, rows)
