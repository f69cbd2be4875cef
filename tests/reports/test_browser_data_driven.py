"""A data-driven model on the dashboard, in Chromium, on a desktop (1440 px) and a phone
(390 px): with enough conversions the note says what the model is and each revenue has its 95%
interval beside it; with too few, the note says why and the credited cells are em dashes. The
page never scrolls sideways and axe-core finds no violation. Screenshots are left in the temp
directory (`data-driven-<case>-<width>.png`) for a person to look at.

Data: the demo's business (`seed_demo`, 400 contacts, a year ending 31 March 2026).
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from tests.factories import UserFactory
from tests.reports.browser import login
from tests.reports.test_browser_axe import violations
from tests.reports.test_browser_layout import assert_readable

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

YEAR = "?preset=custom&start=2025-04-01&end=2026-03-31&attribution=markov"
SCREENSHOTS = Path(tempfile.gettempdir())


@pytest.fixture
def demo(reference_data):
    call_command("seed_demo", contacts=400, seed=7, end=dt.date(2026, 3, 31), stdout=io.StringIO())
    UserFactory(username="marketer", groups=["Marketing"], is_staff=False)


@pytest.mark.parametrize("minimum", [5, 100000], ids=["enough", "too-few"])
@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_the_model_reads_on_a_desktop_and_a_phone(demo, live_server, chromium, viewport, minimum):
    width, height = viewport
    context = chromium.new_context(
        viewport={"width": width, "height": height},
        is_mobile=width < 600,
        has_touch=width < 600,
        bypass_csp=True,  # axe-core is injected by a script tag
    )
    page = context.new_page()
    case = "enough" if minimum == 5 else "too-few"
    try:
        with override_settings(DATA_DRIVEN_MIN_CONVERSIONS=minimum):
            url = reverse("reports:dashboard") + YEAR
            login(page, live_server, "marketer", url)
            page.goto(f"{live_server.url}{url}")
            page.wait_for_selector("canvas[data-rendered='true']")
            note = page.locator("#data-driven-note").inner_text()
            headers = [
                h.strip()
                for h in page.locator("#table-channels thead th button.sort").all_inner_texts()
            ]
            first = page.locator("#table-channels tbody tr").first
            revenue = first.locator("td").nth(headers.index("Revenue") - 1).inner_text()
            if case == "enough":
                assert note.startswith("A data-driven model.")
                assert headers[headers.index("Revenue") + 1] == "Revenue low (95%)"
                assert revenue.endswith("USD")
            else:
                assert note.startswith("Not enough data for this model.")
                assert "needs at least 100000" in note
                assert "Revenue low (95%)" not in headers
                assert revenue == "—"
            assert_readable(page, f"dashboard {case} at {width}px", lines=4 if width < 600 else 3)
            page.screenshot(
                path=str(SCREENSHOTS / f"data-driven-{case}-{width}.png"), full_page=True
            )
            assert violations(page) == []
    finally:
        context.close()
