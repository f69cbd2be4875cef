"""Every kind of page works in Chromium under the Content-Security-Policy, with no violation.

A superuser logs in and opens the dashboard, a campaign's report page, the contact changelist
(filters), a contact's change form (autocomplete) and the API docs (Swagger UI). Violations are
caught twice: a `securitypolicyviolation` listener installed before any page script runs, and
Chromium's own console messages; JavaScript errors and failed requests are caught too. Each page
must also do its job (charts drawn, autocomplete answering, the API listed), since a page whose
script was blocked before it could fail loudly would otherwise pass.

Scenario: the March 2026 one of test_pages.py (tests/reports/conftest.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import UserFactory
from tests.reports.browser import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PERIOD = "?preset=custom&start=2026-03-01&end=2026-03-31"
# Left behind for a person to look at: the charts must still draw under the policy.
SCREENSHOTS = Path(tempfile.gettempdir())

# Runs before the page's own scripts on every document (injected by the DevTools protocol, so
# the policy under test does not apply to it) and reports each violation on the console.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile}:${event.lineNumber}`);
});
"""


class Problems:
    """What went wrong in the browser while a page was open, in the order it happened."""

    def __init__(self, page) -> None:
        self.found: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.found.append(f"JS error: {error}"))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def _console(self, message) -> None:
        text = message.text
        # Chromium asks for /favicon.ico on its own; the site has none, and that is no error
        # of the page's.
        if message.location.get("url", "").endswith("/favicon.ico"):
            return
        if message.type == "error" or "Content Security Policy" in text:
            self.found.append(f"console {message.type}: {text}")

    def _request_failed(self, request) -> None:
        self.found.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.found.append(f"HTTP {response.status}: {response.url}")

    def take(self) -> list[str]:
        found, self.found = self.found, []
        return found


@pytest.fixture
def root(reference_data):
    return UserFactory(username="root", is_superuser=True)


def open_browser(chromium, width: int, height: int):
    context = chromium.new_context(viewport={"width": width, "height": height})
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    return context, page, Problems(page)


def visit(page, live_server, url: str) -> None:
    response = page.goto(f"{live_server.url}{url}")
    assert response.status == 200, url
    assert "default-src 'self'" in response.headers["content-security-policy"], url
    page.wait_for_load_state("networkidle")


def canvases_drawn(page) -> int:
    """How many charts Chart.js drew: canvases with at least one non-transparent pixel."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('canvas[data-rendered="true"]'))
            .filter((c) => {
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                for (let i = 3; i < d.length; i += 4) { if (d[i] !== 0) return true; }
                return false;
            }).length"""
    )


def test_pages_work_under_the_policy(scenario, root, live_server, chromium):
    context, page, problems = open_browser(chromium, 1440, 900)
    try:
        dashboard = reverse("reports:dashboard") + PERIOD
        login(page, live_server, "root", dashboard)
        assert page.url.endswith(dashboard)
        page.wait_for_selector('#chart-revenue-cost[data-rendered="true"]')
        assert canvases_drawn(page) == 4
        # The print button is wired by reports.js now that onclick attributes are refused.
        page.evaluate("() => { window.print = () => { window.printed = true; }; }")
        page.click("button[data-action=print]")
        assert page.evaluate("() => window.printed === true")
        page.screenshot(path=str(SCREENSHOTS / "csp-dashboard-1440.png"), full_page=True)
        assert problems.take() == [], "dashboard"

        visit(page, live_server, reverse("reports:campaign", args=[scenario["pins"].pk]) + PERIOD)
        page.wait_for_selector('#chart-campaign-roi[data-rendered="true"]')
        assert canvases_drawn(page) >= 1
        assert problems.take() == [], "campaign page"

        # The attribution page's chart, its box sized by the script (a style object, which the
        # policy allows, not a style attribute, which it refuses).
        visit(page, live_server, reverse("reports:attribution") + PERIOD + "&attribution=linear")
        page.wait_for_selector('#chart-attribution[data-rendered="true"]')
        assert canvases_drawn(page) == 1
        assert problems.take() == [], "attribution page"

        # The campaign list and the address subscriptions page (issue 11).
        visit(page, live_server, reverse("reports:campaigns") + PERIOD)
        assert page.locator("#table-campaign-list tbody tr").count() == 2
        visit(page, live_server, reverse("reports:subscriptions"))
        assert problems.take() == [], "campaign list, subscriptions"

        # The changelist's filter sidebar is built by the admin's scripts (filters.js).
        visit(page, live_server, reverse("admin:leads_contact_changelist"))
        assert page.locator("#changelist-filter details").count() >= 5
        page.click("#changelist-filter >> text=Customer")
        page.wait_for_load_state("networkidle")
        assert "stage__exact=customer" in page.url
        assert page.locator("#result_list tbody tr").count() == 2  # Ada and the walk-in
        assert problems.take() == [], "contact changelist"

        # Autocomplete (select2 and its JSON endpoint) on a contact's change form.
        visit(page, live_server, reverse("admin:leads_contact_change", args=[scenario["ada"].pk]))
        page.click("#id_source_channel + .select2 .select2-selection")
        page.wait_for_selector(".select2-results__option >> text=Pinterest")
        assert page.locator(".select2-results__option").count() >= 10  # the default channels
        page.keyboard.press("Escape")
        assert problems.take() == [], "contact change form"

        # Swagger UI: its bundle, its start-up script (a second request) and the schema.
        visit(page, live_server, reverse("api-docs"))
        page.wait_for_selector(".opblock-tag", timeout=30_000)
        assert page.locator(".opblock").count() > 10
        assert problems.take() == [], "API docs"
    finally:
        context.close()


def test_dashboard_on_a_phone_under_the_policy(scenario, root, live_server, chromium):
    context, page, problems = open_browser(chromium, 390, 844)
    try:
        login(page, live_server, "root", reverse("reports:dashboard") + PERIOD)
        page.wait_for_selector('#chart-revenue-cost[data-rendered="true"]')
        assert canvases_drawn(page) == 4
        page.screenshot(path=str(SCREENSHOTS / "csp-dashboard-390.png"), full_page=True)
        assert problems.take() == []
    finally:
        context.close()
