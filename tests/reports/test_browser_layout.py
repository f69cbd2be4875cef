"""The report tables read at a glance in Chromium, on a desktop and on a phone, and a month prints
on at most three A4 pages.

Data: the demo's deterministic business (`seed_demo`, 400 contacts, a year ending 31 March 2026;
October 2025 shown), so the tables have their real width: every channel, a dozen campaigns, every
figure. One campaign gets a long name, the kind that must wrap between its words and never inside
one.

What "readable" means here, measured in the browser on every report table:
- no word is broken across lines or sticks out of its cell (the name column once shrank to
  31 px and "LinkedIn" stacked one letter a line);
- the page itself never scrolls sideways: a wide table scrolls inside its own box, and its
  first (name) column stays in view while it does;
- no row is taller than three lines of text (four on a phone).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import tempfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from campaigns.models import Campaign
from reports import services
from tests.factories import UserFactory
from tests.reports.browser import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# October 2025: six of the demo's eight campaigns run, beside the unattributed rows.
MONTH = "?preset=custom&start=2025-10-01&end=2025-10-31"
DESKTOP_WIDTHS = (900, 1440, 2560)
PHONE = {"width": 390, "height": 844}
LONG_NAME = "Spring launch retargeting with customer testimonials"
# Left behind for a person to look at (and to compare with docs/img/).
SCREENSHOTS = Path(tempfile.gettempdir())

# Every visible cell of every table.figures on the page: words broken or overflowing, the
# tallest row, and whether the first column stays put when its box scrolls.
MEASURE = """() => {
  const found = {pageOverflow: document.documentElement.scrollWidth - window.innerWidth, tables: []};
  for (const table of document.querySelectorAll('table.figures')) {
    if (!table.getClientRects().length) continue;  // a closed "Data table"
    const broken = [];
    let tallest = 0;
    for (const row of table.rows) {
      if (row.parentElement.tagName !== 'THEAD') tallest = Math.max(tallest, row.getBoundingClientRect().height);
      for (const cell of row.cells) {
        const box = cell.getBoundingClientRect();
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          for (const match of node.data.matchAll(/\\S+/g)) {
            const range = document.createRange();
            range.setStart(node, match.index);
            range.setEnd(node, match.index + match[0].length);
            const rects = Array.from(range.getClientRects()).filter((r) => r.width > 0);
            const outside = rects.some((r) => r.left < box.left - 0.5 || r.right > box.right + 0.5);
            if (rects.length > 1 || outside) broken.push(`${match[0]} (${Math.round(box.width)}px)`);
          }
        }
      }
    }
    const wrap = table.closest('.table-wrap');
    let sticky = null;
    if (wrap && wrap.scrollWidth > wrap.clientWidth + 1) {
      // The first row's name (not a "No figures" line across the whole table).
      const row = Array.from(table.tBodies[0].rows).find((r) => r.cells.length > 1);
      sticky = true;
      if (row) {
        wrap.scrollLeft = wrap.scrollWidth;
        const left = wrap.getBoundingClientRect().left + wrap.clientLeft;
        sticky = Math.abs(row.cells[0].getBoundingClientRect().left - left) <= 2;
        wrap.scrollLeft = 0;
      }
    }
    const lineHeight = parseFloat(getComputedStyle(table).lineHeight);
    found.tables.push({id: table.id, broken, tallest, lineHeight, sticky,
                       scrolls: sticky !== null, focusable: wrap ? wrap.tabIndex === 0 : null});
  }
  return found;
}"""


@pytest.fixture
def demo(reference_data):
    call_command("seed_demo", contacts=400, seed=7, end=dt.date(2026, 3, 31), stdout=io.StringIO())
    campaign = Campaign.objects.get(name="Webinar series")
    campaign.name = LONG_NAME
    campaign.save(update_fields=["name"])
    report = services.report_request(
        start=dt.date(2025, 10, 1), end=dt.date(2025, 10, 31), group_by="campaign", enqueue=False
    )
    services.report_generate(report_id=report.pk)
    UserFactory(username="marketer", groups=["Marketing"], is_staff=False)
    return {"campaign": campaign, "report": report}


def report_pages(demo) -> dict[str, str]:
    return {
        "dashboard": reverse("reports:dashboard") + MONTH,
        "attribution by channel": reverse("reports:attribution") + MONTH,
        "attribution by campaign": reverse("reports:attribution")
        + MONTH
        + "&group_by=campaign&attribution=linear",
        "campaign": reverse("reports:campaign", args=[demo["campaign"].pk]) + MONTH,
        "saved reports": reverse("reports:saved"),
        "saved report": reverse("reports:saved-detail", args=[demo["report"].pk]),
        "campaign list": reverse("reports:campaigns") + MONTH,
        "conversion paths": reverse("reports:paths") + MONTH,
        "email delivery": reverse("reports:subscriptions"),
    }


def assert_readable(page, where: str, *, lines: int = 3) -> list[dict]:
    found = page.evaluate(MEASURE)
    assert found["pageOverflow"] <= 0, (
        f"{where}: the page scrolls sideways by {found['pageOverflow']}px"
    )
    assert found["tables"], f"{where}: no table measured"
    for table in found["tables"]:
        name = f"{where}, #{table['id']}"
        assert table["broken"] == [], f"{name}: words broken or cut: {table['broken'][:5]}"
        # A few lines of text and the cell's padding.
        assert table["tallest"] <= lines * table["lineHeight"] + 16, (
            f"{name}: a row is {table['tallest']}px tall"
        )
        if table["scrolls"]:
            assert table["sticky"], f"{name}: the name column scrolls away"
            assert table["focusable"], f"{name}: a keyboard cannot reach the scrolling box"
    return found["tables"]


def test_tables_are_readable_at_every_width(demo, live_server, chromium):
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        pages = report_pages(demo)
        login(page, live_server, "marketer", pages["dashboard"])
        for width in DESKTOP_WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for label, url in pages.items():
                page.goto(f"{live_server.url}{url}")
                page.wait_for_load_state("networkidle")
                # The charts' data tables are tables too.
                for summary in page.locator("details.data summary").all():
                    summary.click()
                tables = assert_readable(page, f"{label} at {width}px")
                if label == "dashboard":
                    measured = {t["id"] for t in tables}
                    assert {"table-channels", "table-campaigns", "table-funnel"} <= measured
            if width == 1440:
                page.goto(f"{live_server.url}{pages['dashboard']}")
                page.wait_for_selector("canvas[data-rendered='true']")
                page.screenshot(path=str(SCREENSHOTS / "layout-dashboard-1440.png"), full_page=True)
        # The long name wraps between its words, in its own column.
        page.goto(f"{live_server.url}{pages['dashboard']}")
        assert LONG_NAME in page.inner_text("#table-campaigns tbody").replace("\n", " ")
    finally:
        context.close()


def test_tables_are_readable_on_a_phone(demo, live_server, chromium):
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        pages = report_pages(demo)
        login(page, live_server, "marketer", pages["dashboard"])
        for label, url in pages.items():
            page.goto(f"{live_server.url}{url}")
            page.wait_for_load_state("networkidle")
            for summary in page.locator("details.data summary").all():
                summary.click()
            # The name column is half the phone's width: the long name takes four lines.
            tables = assert_readable(page, f"{label} at 390px", lines=4)
            if label == "dashboard":
                # Too wide for a phone: each scrolls in its box, the name column in view.
                wide = {t["id"] for t in tables if t["scrolls"]}
                assert {"table-channels", "table-campaigns", "table-funnel"} <= wide
        page.goto(f"{live_server.url}{pages['dashboard']}")
        page.wait_for_selector("canvas[data-rendered='true']")
        page.screenshot(path=str(SCREENSHOTS / "layout-dashboard-390.png"), full_page=True)
    finally:
        context.close()


def column_values(page, table: str, header: str) -> list[float]:
    # The sort buttons' own text: a header also holds its figure's definition (a tooltip).
    headers = [h.strip() for h in page.locator(f"#{table} thead th button.sort").all_inner_texts()]
    column = headers.index(header)
    values = page.locator(f"#{table} tbody tr").evaluate_all(
        f"(rows) => rows.map((r) => r.children[{column}].getAttribute('data-value'))"
    )
    return [float(v) for v in values if v not in ("", None)]


def test_sort_buttons_work_on_a_phone(demo, live_server, chromium):
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        login(page, live_server, "marketer", reverse("reports:dashboard") + MONTH)
        for table, header in (("table-channels", "Revenue"), ("table-campaigns", "Leads")):
            button = page.locator(f"#{table} thead th button.sort").filter(
                has_text=re.compile(f"^{header}$")
            )
            # Playwright taps only what a finger could: visible, on screen after scrolling
            # the table's box, and not covered (by the sticky name column, say).
            button.tap()
            th = page.locator(f"#{table} thead th").filter(
                has=page.locator("button.sort", has_text=re.compile(f"^{header}$"))
            )
            assert th.get_attribute("aria-sort") == "descending"
            values = column_values(page, table, header)
            assert len(values) >= 2
            assert values == sorted(values, reverse=True), f"{table} by {header}"
            button.tap()
            assert th.get_attribute("aria-sort") == "ascending"
            assert column_values(page, table, header) == sorted(values)
        # The name column sorts too.
        page.locator("#table-channels thead th button.sort").first.tap()
        names = page.locator("#table-channels tbody th").all_inner_texts()
        assert names == sorted(names, key=str.lower, reverse=True)
    finally:
        context.close()


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """The (width, height) in points of each page of a PDF from Chromium (no object streams)."""
    sizes = []
    for match in re.finditer(rb"/Type\s*/Page\b(?!s).*?/MediaBox\s*\[([^\]]*)\]", pdf, re.S):
        x0, y0, x1, y1 = (float(n) for n in match.group(1).split())
        sizes.append((x1 - x0, y1 - y0))
    return sizes


def test_a_month_prints_on_at_most_three_a4_pages(demo, live_server, chromium):
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        login(page, live_server, "marketer", reverse("reports:dashboard") + MONTH)
        page.wait_for_selector("canvas[data-rendered='true']")
        # The page's own @page rule (A4 landscape) decides the paper, as a browser's print does.
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        (SCREENSHOTS / "layout-dashboard-print.pdf").write_bytes(pdf)
        sizes = pdf_pages(pdf)
        assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == len(sizes)
        assert 1 <= len(sizes) <= 3, f"{len(sizes)} pages"
        for width, height in sizes:  # A4 landscape: 297 x 210 mm
            assert abs(width - 842) < 2 and abs(height - 595) < 2, (width, height)
        # Everything a marketer reads is on paper, each table with all its columns: laid out
        # for print at the paper's printable width (297 mm less two 8 mm margins, at 96 dpi).
        page.set_viewport_size({"width": 1062, "height": 750})
        page.emulate_media(media="print")
        for table in ("table-channels", "table-campaigns", "table-funnel"):
            box = page.locator(f"#{table}")
            assert box.is_visible()
            overflow = box.evaluate(
                "(t) => t.getBoundingClientRect().right - t.closest('main').getBoundingClientRect().right"
            )
            assert overflow <= 1, f"#{table} runs {overflow}px past the paper's edge"
        assert page.locator(".card").count() == 7
        assert page.locator("header.top").is_hidden()
        assert page.locator("form.period").is_hidden()
    finally:
        context.close()
