"""Headless Chromium (Debian's package) driven by Playwright, for the browser tests."""

from __future__ import annotations

import os
import shutil
from urllib.parse import quote

import pytest
from django.urls import reverse

from tests.conftest import IN_CI

# The password of the users the browser tests log in as (a factory sets it).
PASSWORD = "pw-for-tests-1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        message = "needs Chromium: apt-get install chromium (or set CHROMIUM_PATH)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    # Playwright's sync API keeps an event loop in this thread; Django would then refuse the
    # test thread's database calls (fixtures, teardown) as "async". They are not.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def login(page, live_server, username: str, next_url: str) -> None:
    """Log in through the login form as `username` (password PASSWORD), landing on `next_url`."""
    page.goto(f"{live_server.url}{reverse('login')}?next={quote(next_url)}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
