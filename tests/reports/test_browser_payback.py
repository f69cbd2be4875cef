"""The payback page in Chromium at 1440 px and 390 px: its curves drawn under the site's
Content-Security-Policy with no error, no axe-core violation, the page never scrolling
sideways and its table readable (the layout test's measure).

Data: the demo's business (`seed_demo`, 400 contacts) over the year up to yesterday, so every
one of the last 12 cohort months has entrants, costs and purchases, and the newest months are
open ("so far", "not yet").
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory
from tests.reports.browser import login
from tests.reports.test_browser_axe import violations
from tests.reports.test_browser_csp import Problems
from tests.reports.test_browser_layout import assert_readable

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# Left behind for a person to look at.
SCREENSHOTS = Path(tempfile.gettempdir())


@pytest.fixture
def demo(reference_data):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    call_command("seed_demo", contacts=400, seed=7, end=yesterday, stdout=io.StringIO())
    UserFactory(username="marketer", groups=["Marketing"], is_staff=False)


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_the_payback_page_in_the_browser(demo, live_server, chromium, viewport):
    width, height = viewport
    url = reverse("reports:payback") + "?months=12"
    # Under the policy: the chart is drawn and nothing is refused or fails.
    context = chromium.new_context(
        viewport={"width": width, "height": height}, is_mobile=width < 600
    )
    page = context.new_page()
    problems = Problems(page)
    try:
        login(page, live_server, "marketer", url)
        assert page.locator("h1").inner_text() == "Cohort payback"
        page.wait_for_selector("#chart-payback[data-rendered=true]")
        assert page.locator("nav a[aria-current=page]").inner_text() == "Payback"
        assert page.locator("#table-payback tbody tr").count() >= 12
        assert page.locator("#table-payback .so-far").count() > 0
        assert_readable(page, f"payback at {width}px", lines=3 if width > 600 else 4)
        page.screenshot(path=str(SCREENSHOTS / f"payback-{width}.png"), full_page=True)
        page.screenshot(path=str(SCREENSHOTS / f"payback-{width}-top.png"))
        # Another channel's curves, chosen in the form (it applies itself).
        page.select_option("#id_channel", "instagram")
        page.wait_for_url("**channel=instagram**")
        page.wait_for_selector("#chart-payback[data-rendered=true]")
        assert page.locator("#chart-payback-title").inner_text().startswith("Instagram")
        assert problems.take() == []
    finally:
        context.close()
    # axe-core, injected by a script tag: only this context bypasses the policy.
    context = chromium.new_context(
        viewport={"width": width, "height": height}, bypass_csp=True, is_mobile=width < 600
    )
    page = context.new_page()
    try:
        login(page, live_server, "marketer", url)
        page.wait_for_load_state("networkidle")
        assert violations(page) == []
        page.goto(f"{live_server.url}{url}&group_by=campaign")
        page.wait_for_load_state("networkidle")
        assert violations(page) == []
        assert_readable(page, f"payback by campaign at {width}px", lines=3 if width > 600 else 4)
    finally:
        context.close()
