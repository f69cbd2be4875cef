"""Importing a file from the admin in Chromium at 1440 px and 390 px: upload, map a column,
import, see the counts and the rejected rows; axe-core finds no violation on either page and
the page never scrolls sideways."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from django.urls import reverse

from leads.models import Contact
from tests.factories import UserFactory
from tests.reports.browser import login
from tests.reports.test_browser_axe import violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SCREENSHOTS = Path(tempfile.gettempdir())
FILE = "E-mail,First name,Source\nada@example.com,Ada,facebook\nnot-an-email,Bob,instagram\n"


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_import_from_the_admin(reference_data, live_server, chromium, viewport, tmp_path):
    width, height = viewport
    UserFactory(username="sally", groups=["Sales"], is_staff=True)
    path = tmp_path / "leads.csv"
    path.write_text(FILE)
    context = chromium.new_context(
        viewport={"width": width, "height": height}, bypass_csp=True, is_mobile=width < 600
    )
    page = context.new_page()
    try:
        login(page, live_server, "sally", reverse("admin:campaigns_importjob_add"))
        assert violations(page) == []
        page.select_option("#id_kind", "contacts")
        page.set_input_files("#id_file", str(path))
        page.click("input[type=submit][value='Upload and map columns']")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        assert violations(page) == []
        page.select_option("select[name='map-0']", "email")
        page.select_option("select[name='map-1']", "first_name")
        page.select_option("select[name='map-2']", "source_channel")
        page.screenshot(path=str(SCREENSHOTS / f"import-map-{width}.png"), full_page=True)
        page.click("input[type=submit][value='Import']")
        page.wait_for_selector("text=Download the rejected rows")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        assert violations(page) == []
        page.screenshot(path=str(SCREENSHOTS / f"import-done-{width}.png"), full_page=True)
        assert Contact.objects.filter(email="ada@example.com").exists()
        Contact.objects.all().delete()  # the next viewport imports anew
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_a_job_being_written_says_so(reference_data, live_server, chromium, viewport):
    # Every row read, the rows being written (a large contacts file on PostgreSQL): the page
    # says so under a full bar, readable at both widths.
    from campaigns.models import ImportJob
    from campaigns.services import import_job_create

    width, height = viewport
    sally = UserFactory(username="sally", groups=["Sales"], is_staff=True)
    job = import_job_create(kind="contacts", file_name="leads.csv", data=FILE.encode(), user=sally)
    ImportJob.objects.filter(pk=job.pk).update(status="running", line=job.lines, rows=2)
    context = chromium.new_context(
        viewport={"width": width, "height": height}, bypass_csp=True, is_mobile=width < 600
    )
    page = context.new_page()
    try:
        login(
            page, live_server, "sally", reverse("admin:campaigns_importjob_change", args=[job.pk])
        )
        page.wait_for_selector("text=Every row is read; they are being written now.")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        assert violations(page) == []
        page.screenshot(path=str(SCREENSHOTS / f"import-writing-{width}.png"), full_page=True)
        # The page reloads itself every two seconds (no <meta> refresh: axe refuses one the
        # reader cannot stop), until the box is unticked.
        origin = page.evaluate("performance.timeOrigin")
        page.wait_for_function(f"performance.timeOrigin > {origin}", timeout=5000)
        page.wait_for_selector("#auto-refresh")
        page.uncheck("#auto-refresh")
        origin = page.evaluate("performance.timeOrigin")
        page.wait_for_timeout(3000)
        assert page.evaluate("performance.timeOrigin") == origin
    finally:
        context.close()
        ImportJob.objects.all().delete()
