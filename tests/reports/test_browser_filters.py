"""The period form applies itself on change and keeps its state in the address (issue 11).

Same scenario as test_browser.py (March 2026): last touch credits Pinterest with 150.00, first
touch credits Pinterest 50.00 and LinkedIn 100.00.
"""

# ruff: noqa: F811  (the fixtures are imported from test_browser, then named as arguments)
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from tests.reports.test_browser import PERIOD, login, marketer, page, table_cell  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def query(browser_page) -> dict[str, list[str]]:
    return parse_qs(urlparse(browser_page.url).query)


def test_filters_apply_on_change_and_the_back_button_restores_them(
    scenario,
    marketer,
    live_server,
    page,
):
    login(page, live_server, "marketer", reverse("reports:dashboard") + PERIOD)
    assert table_cell(page, "table-channels", "Pinterest", "Revenue") == "150.00 USD"

    # A model change reloads the page with the model in the address, no button pressed.
    page.select_option("#id_attribution", "first_touch")
    page.wait_for_url("**attribution=first_touch**")
    assert query(page)["start"] == ["2026-03-01"]
    assert table_cell(page, "table-channels", "LinkedIn", "Revenue") == "100.00 USD"

    # A preset: the hidden custom days are not sent.
    page.select_option("#id_preset", "last_month")
    page.wait_for_url("**preset=last_month**")
    assert "start" not in query(page)
    assert query(page)["attribution"] == ["first_touch"]

    # Back: the March custom range, read back from the address into the form.
    page.go_back()
    page.wait_for_url("**preset=custom**")
    assert page.input_value("#id_preset") == "custom"
    assert page.input_value("#id_start") == "2026-03-01"
    assert page.input_value("#id_attribution") == "first_touch"

    # Custom waits for both days: changing the first day alone does not navigate.
    page.select_option("#id_preset", "custom")
    page.fill("#id_end", "")
    page.fill("#id_start", "2026-03-10")
    page.wait_for_timeout(300)
    assert query(page)["start"] == ["2026-03-01"]
    page.fill("#id_end", "2026-03-20")
    page.wait_for_url("**end=2026-03-20**")
    assert query(page)["start"] == ["2026-03-10"]
