"""The marketers' pages in a real headless Chromium, against a live server.

The scenario (March 2026, UTC), every figure worked out by hand:
- "Spring pins" on Pinterest costs 400.00 (5 March); coupon PIN10 belongs to it.
- "B2B posts" on LinkedIn costs 200.00 (10 March).
- Ada follows "B2B posts" on 2 March (first touch: LinkedIn), then buys for 100.00 with PIN10 on
  20 March (coupon touch: Pinterest). Last touch credits Pinterest with 100.00; first touch
  credits LinkedIn with 100.00.
- A walk-in buys for 50.00 with PIN10 on 15 March: its only touch is the coupon (Pinterest).
Totals in every model: revenue 150.00, cost 600.00, ROI (150 - 600) / 600 = -0.75.
Last touch: Pinterest 150.00, LinkedIn 0.00. First touch: Pinterest 50.00, LinkedIn 100.00.
"""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from django.urls import reverse

from tests.factories import UserFactory
from tests.reports.browser import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

UTC = dt.UTC
PERIOD = "?preset=custom&start=2026-03-01&end=2026-03-31"


@pytest.fixture
def marketer(reference_data):
    return UserFactory(username="marketer", groups=["Marketing"], is_staff=False)


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()


def card_value(page, key: str) -> str:
    return page.inner_text(f'[data-figure="{key}"] .value')


def table_cell(page, table_id: str, row_label: str, header: str) -> str:
    headers = [h.strip() for h in page.locator(f"#{table_id} thead th").all_inner_texts()]
    column = headers.index(header)
    row = page.locator(f"#{table_id} tbody tr", has=page.locator("th", has_text=row_label))
    return row.locator("th, td").nth(column).inner_text().strip()


def test_dashboard_shows_the_scenario_figures(scenario, marketer, live_server, page):
    login(page, live_server, "marketer", reverse("reports:dashboard") + PERIOD)
    assert page.locator("h1").first.inner_text().startswith("Does social pay?")
    assert card_value(page, "revenue") == "150.00 USD"
    assert card_value(page, "cost") == "600.00 USD"
    assert card_value(page, "roi") == "-75.0%"  # -0.7500 as a percentage (issue 11)
    # Last touch (the default): the coupon's campaign closes both purchases.
    assert table_cell(page, "table-channels", "Pinterest", "Revenue") == "150.00 USD"
    assert table_cell(page, "table-channels", "LinkedIn", "Revenue") == "0.00 USD"


def test_a_figures_definition_shows_on_hover_and_keyboard_focus(
    scenario, marketer, live_server, page
):
    from reports.glossary import TERMS

    login(page, live_server, "marketer", reverse("reports:dashboard") + PERIOD)
    tip = page.locator("#table-channels-tip-roi")
    assert not tip.is_visible()
    page.hover("#table-channels thead button[aria-describedby=table-channels-tip-roi]")
    assert tip.is_visible() and tip.inner_text() == TERMS["roi"].definition
    page.mouse.move(0, 0)
    assert not tip.is_visible()
    # Keyboard: the card's term takes the focus and shows its definition; Escape hides it.
    card_tip = page.locator("#card-tip-cost_per_lead")
    page.focus("[data-figure=cost_per_lead] button.term")
    assert card_tip.is_visible()
    page.keyboard.press("Escape")
    assert not card_tip.is_visible()


def test_switching_model_moves_the_split_not_the_total(scenario, marketer, live_server, page):
    login(page, live_server, "marketer", reverse("reports:dashboard") + PERIOD)
    # The form applies itself on change (no "Show" click).
    page.select_option("#id_attribution", "first_touch")
    page.wait_for_url("**attribution=first_touch**")
    page.wait_for_load_state("networkidle")
    assert table_cell(page, "table-channels", "Pinterest", "Revenue") == "50.00 USD"
    assert table_cell(page, "table-channels", "LinkedIn", "Revenue") == "100.00 USD"
    assert card_value(page, "revenue") == "150.00 USD"


def test_charts_are_drawn(scenario, marketer, live_server, page):
    login(page, live_server, "marketer", reverse("reports:dashboard") + PERIOD)
    page.wait_for_selector('#chart-revenue-cost[data-rendered="true"]')
    # Some pixel of the canvas is not transparent: Chart.js really drew bars.
    drawn = page.evaluate(
        """() => {
            const c = document.getElementById('chart-revenue-cost');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 3; i < d.length; i += 4) { if (d[i] !== 0) return true; }
            return false;
        }"""
    )
    assert drawn
    assert page.locator("canvas[data-rendered='true']").count() == 4


def test_csv_download_matches_the_api(scenario, marketer, live_server, page):
    login(page, live_server, "marketer", reverse("reports:dashboard") + PERIOD)
    with page.expect_download() as download_info:
        page.click("text=CSV: channels")
    with open(download_info.value.path(), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    api = page.request.get(
        f"{live_server.url}/api/v1/reports/roi/?start=2026-03-01&end=2026-03-31&group_by=channel"
    ).json()
    by_key = {row["key"]: row for row in rows}
    for row in api["rows"]:
        assert by_key[row["key"]]["revenue"] == row["revenue"]
        assert by_key[row["key"]]["cost"] == row["cost"]
        assert by_key[row["key"]]["customers"] == row["customers"]
    assert by_key["totals"]["revenue"] == api["totals"]["revenue"] == "150.00"


def test_generate_now_reaches_done(scenario, marketer, live_server, page):
    login(page, live_server, "marketer", reverse("reports:saved"))
    page.select_option("#gen-preset", "custom")
    page.fill("#gen-start", "2026-03-01")
    page.fill("#gen-end", "2026-03-31")
    page.click("#generate-now")
    page.wait_for_selector(".status.done", timeout=30_000)
    assert "150.00 USD" in page.inner_text("#table-report-roi tfoot")


def test_a_sales_user_is_refused(scenario, live_server, page):
    UserFactory(username="seller", groups=["Sales"])
    login(page, live_server, "seller", reverse("reports:dashboard"))
    response = page.goto(f"{live_server.url}{reverse('reports:dashboard')}")
    assert response.status == 403


def test_phone_width_has_no_horizontal_scroll(scenario, marketer, chromium, live_server):
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    phone = context.new_page()
    try:
        for url in (
            reverse("reports:dashboard") + PERIOD,
            reverse("reports:campaign", args=[scenario["pins"].pk]) + PERIOD,
        ):
            login(phone, live_server, "marketer", url)
            overflow = phone.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"{url} scrolls sideways by {overflow}px"
    finally:
        context.close()


def test_user_strings_are_escaped(scenario, marketer, live_server, page):
    scenario["pins"].name = "<script>window.hacked=1</script>Pins"
    scenario["pins"].save()
    login(page, live_server, "marketer", reverse("reports:dashboard") + PERIOD)
    assert page.evaluate("() => window.hacked === undefined")
    assert "<script>window.hacked=1</script>Pins" in page.inner_text("#table-campaigns")
