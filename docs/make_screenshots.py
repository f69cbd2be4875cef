"""Screenshots of the marketers' pages for the README (docs/img/), from the demo data.

bin/demo 8000 &          # in another terminal, or already running
.venv/bin/python docs/make_screenshots.py --base http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--user", default="marketing")
    args = parser.parse_args()
    login = (ROOT / "data" / "demo-login.txt").read_text()
    password = re.search(r"password:\s*(\S+)", login).group(1)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=ARGS
        )
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{args.base}/login/?next=/reports/")
        page.fill("#id_username", args.user)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.goto(f"{args.base}/reports/?preset=last_quarter")
        page.wait_for_selector("canvas[data-rendered='true']")
        page.screenshot(path=str(ROOT / "docs/img/dashboard.png"), full_page=False)
        link = page.locator("#table-campaigns tbody a").first
        link.click()
        page.wait_for_load_state("networkidle")
        page.wait_for_selector("canvas[data-rendered='true']")
        page.screenshot(path=str(ROOT / "docs/img/campaign.png"), full_page=False)
        # The attribution page: linear against last touch, by campaign.
        attribution = "/reports/attribution/?preset=last_quarter&attribution=linear"
        page.goto(f"{args.base}{attribution}&group_by=campaign")
        page.wait_for_selector("canvas[data-rendered='true']")
        page.screenshot(path=str(ROOT / "docs/img/attribution.png"), full_page=False)
        # A phone: the headline figures, then (further down the same page) the tables.
        phone = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        ).new_page()
        phone.context.add_cookies(page.context.cookies())
        phone.goto(f"{args.base}/reports/?preset=last_quarter")
        phone.wait_for_selector("canvas[data-rendered='true']")
        phone.evaluate("() => document.getElementById('by-channel').scrollIntoView()")
        phone.screenshot(path=str(ROOT / "docs/img/dashboard-phone.png"), full_page=False)
        phone.goto(f"{args.base}{attribution}")
        phone.wait_for_selector("canvas[data-rendered='true']")
        phone.evaluate("() => document.getElementById('comparison').scrollIntoView()")
        phone.screenshot(path=str(ROOT / "docs/img/attribution-phone.png"), full_page=False)
        # The conversion paths of the quarter, on a desktop and a phone.
        page.goto(f"{args.base}/reports/paths/?preset=last_quarter")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(ROOT / "docs/img/paths.png"), full_page=False)
        phone.goto(f"{args.base}/reports/paths/?preset=last_quarter")
        phone.wait_for_load_state("networkidle")
        phone.evaluate("() => document.querySelector('table').scrollIntoView()")
        phone.screenshot(path=str(ROOT / "docs/img/paths-phone.png"), full_page=False)
        # A customer's timeline in the admin, as sales see it.
        sales = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        sales.goto(f"{args.base}/admin/login/?next=/admin/leads/contact/?stage__exact=customer")
        sales.fill("#id_username", "sales")
        sales.fill("#id_password", password)
        sales.click("input[type=submit]")
        sales.wait_for_load_state("networkidle")
        contact = sales.locator("#result_list tbody th a").first.get_attribute("href")
        sales.goto(f"{args.base}{contact}")
        sales.wait_for_load_state("networkidle")
        sales.evaluate("() => document.getElementById('timeline').scrollIntoView()")
        sales.screenshot(path=str(ROOT / "docs/img/timeline.png"), full_page=False)
        small = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        ).new_page()
        small.context.add_cookies(sales.context.cookies())
        small.goto(f"{args.base}{contact}")
        small.wait_for_load_state("networkidle")
        small.evaluate("() => document.getElementById('timeline').scrollIntoView()")
        small.screenshot(path=str(ROOT / "docs/img/timeline-phone.png"), full_page=False)
        browser.close()
    print(
        "docs/img/dashboard.png, docs/img/campaign.png, docs/img/dashboard-phone.png, "
        "docs/img/attribution.png, docs/img/attribution-phone.png, docs/img/paths.png, "
        "docs/img/paths-phone.png, docs/img/timeline.png, docs/img/timeline-phone.png"
    )


if __name__ == "__main__":
    main()
