"""The attribution page's model comparison in Chromium, on a desktop and on a phone: readable
tables (no word broken, no sideways page scroll, the name column in view while a table scrolls
in its box), the chart drawn, the choosers applying on change and kept in the address, the
figures' definitions on focus.

Data: the demo's business (`seed_demo`, as in test_browser_layout.py), October 2025, linear
against last touch, by channel and by campaign.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from tests.reports.browser import login
from tests.reports.test_browser_layout import (  # noqa: F401  (demo is a fixture)
    MONTH,
    PHONE,
    SCREENSHOTS,
    assert_readable,
    demo,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("demo"),
]

PAGES = {
    "channel": reverse("reports:attribution") + MONTH + "&attribution=linear",
    "campaign": reverse("reports:attribution") + MONTH + "&attribution=linear&group_by=campaign",
}


def check(page, live_server, where: str, *, lines: int) -> None:
    for group_by, url in PAGES.items():
        page.goto(f"{live_server.url}{url}")
        page.wait_for_selector("canvas[data-rendered='true']")
        for summary in page.locator("details.data summary").all():
            summary.click()
        tables = {t["id"]: t for t in assert_readable(page, f"{group_by} at {where}", lines=lines)}
        assert {"table-comparison", "table-attribution", "chart-attribution-table"} <= set(tables)
        for summary in page.locator("details.data summary").all():
            summary.click()  # closed again for the picture
        page.screenshot(
            path=str(SCREENSHOTS / f"attribution-{group_by}-{where}.png"), full_page=True
        )


def test_the_comparison_reads_on_a_desktop(live_server, chromium):
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        login(page, live_server, "marketer", PAGES["channel"])
        check(page, live_server, "1440", lines=3)
        # Hovering a column's header shows its definition.
        page.goto(f"{live_server.url}{PAGES['channel']}")
        page.hover(
            "#table-comparison thead th button[aria-describedby='comparison-tip-roi_change']"
        )
        assert page.locator("#comparison-tip-roi_change").is_visible()
    finally:
        context.close()


def test_the_comparison_reads_on_a_phone(live_server, chromium):
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        login(page, live_server, "marketer", PAGES["channel"])
        check(page, live_server, "390", lines=4)
        # Too wide for a phone: the comparison scrolls in its box, its name column in view.
        page.goto(f"{live_server.url}{PAGES['campaign']}")
        tables = {t["id"]: t for t in assert_readable(page, "campaign at 390", lines=4)}
        assert tables["table-comparison"]["scrolls"]
    finally:
        context.close()


def test_the_choosers_apply_on_change_and_stay_in_the_address(live_server, chromium):
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        login(page, live_server, "marketer", PAGES["channel"])
        page.select_option("#id_reference", "first_touch")
        page.wait_for_url("**reference=first_touch**")
        query = parse_qs(urlparse(page.url).query)
        assert query["attribution"] == ["linear"] and query["reference"] == ["first_touch"]
        assert query["start"] == ["2025-10-01"]
        assert page.input_value("#id_reference") == "first_touch"
        headers = page.locator("#table-comparison thead th button.sort").all_inner_texts()
        assert headers[2:4] == ["Linear", "First touch"]
        page.select_option("#id_attribution", "time_decay")
        page.wait_for_url("**attribution=time_decay**")
        assert parse_qs(urlparse(page.url).query)["reference"] == ["first_touch"]
        # The CSV link carries the same choices.
        href = page.get_attribute("a[href*='export/attribution.csv']", "href")
        assert "attribution=time_decay" in href and "reference=first_touch" in href
        # A campaign row opens its campaign's page on the same period.
        page.goto(f"{live_server.url}{PAGES['campaign']}")
        link = page.locator("#table-comparison tbody th a").first
        link.click()
        page.wait_for_load_state("networkidle")
        assert "/reports/campaigns/" in page.url
        assert page.input_value("#id_start") == "2025-10-01"
        assert page.input_value("#id_end") == "2025-10-31"
    finally:
        context.close()
