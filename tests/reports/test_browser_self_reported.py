"""The dashboard's channel table with its self-reported column, in Chromium, on a desktop
(1440 px) and on a phone (390 px): the column shows the demo's answers beside Followers, the
page never scrolls sideways (the wide table scrolls in its own box, its name column in view),
and axe-core finds no accessibility violation. Screenshots are left in the temp directory
(`self-reported-<width>.png`) for a person to look at.

Data: the demo's business (`seed_demo`, 400 contacts, a year ending 31 March 2026), whose
contacts answer "how did you hear about us" (`leads.demo.HEARD`); October 2025 shown.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from reports.metrics import roi_report, with_self_reported
from tests.factories import UserFactory
from tests.reports.browser import login
from tests.reports.test_browser_axe import violations
from tests.reports.test_browser_layout import assert_readable

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

MONTH = "?preset=custom&start=2025-10-01&end=2025-10-31"
SCREENSHOTS = Path(tempfile.gettempdir())


@pytest.fixture
def demo(reference_data):
    call_command("seed_demo", contacts=400, seed=7, end=dt.date(2026, 3, 31), stdout=io.StringIO())
    UserFactory(username="marketer", groups=["Marketing"], is_staff=False)
    report = roi_report(start=dt.date(2025, 10, 1), end=dt.date(2025, 10, 31), group_by="channel")
    return with_self_reported(report)


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_the_column_reads_on_a_desktop_and_a_phone(demo, live_server, chromium, viewport):
    width, height = viewport
    context = chromium.new_context(
        viewport={"width": width, "height": height},
        is_mobile=width < 600,
        has_touch=width < 600,
        bypass_csp=True,  # axe-core is injected by a script tag
    )
    page = context.new_page()
    try:
        url = reverse("reports:dashboard") + MONTH
        login(page, live_server, "marketer", url)
        page.goto(f"{live_server.url}{url}")
        page.wait_for_selector("canvas[data-rendered='true']")
        headers = [
            h.strip()
            for h in page.locator("#table-channels thead th button.sort").all_inner_texts()
        ]
        column = headers.index("Self\u2011reported")
        assert headers[column - 1] == "Followers"
        # The page shows what the figures say: each channel's count, "—" for unattributed.
        shown = {
            row["label"]: (str(row["self_reported"]) if row["self_reported"] is not None else "—")
            for row in demo["rows"]
        }
        cells = page.locator("#table-channels tbody tr").evaluate_all(
            f"(rows) => rows.map((r) => [r.cells[0].innerText.trim(), r.cells[{column}].innerText])"
        )
        assert dict(cells) == shown
        assert sum(row["self_reported"] or 0 for row in demo["rows"]) > 0  # the demo answered
        tables = assert_readable(page, f"dashboard at {width}px", lines=4 if width < 600 else 3)
        if width < 600:
            assert next(t for t in tables if t["id"] == "table-channels")["scrolls"]
        page.screenshot(path=str(SCREENSHOTS / f"self-reported-{width}.png"), full_page=True)
        # The table's box scrolled to the column (a phone shows the name column and a few).
        box = page.locator("#table-channels").locator("xpath=..")
        box.evaluate(
            "(wrap, column) => { const th = wrap.querySelectorAll('thead th')[column];"
            " wrap.scrollLeft = th.offsetLeft - wrap.clientWidth / 2; }",
            column,
        )
        box.screenshot(path=str(SCREENSHOTS / f"self-reported-table-{width}.png"))
        assert violations(page) == []
    finally:
        context.close()
