"""The weekly timesheet in Chromium at 1440 px and 390 px: hours typed into the grid become
staff-time costs; the page never scrolls sideways (the grid scrolls in its own box, the
campaign column stays in view); axe-core finds no violation."""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from campaigns.models import Cost
from campaigns.services import hourly_rate_save, staff_save, time_entry_save
from tests.factories import CampaignFactory, UserFactory, channel
from tests.reports.browser import login
from tests.reports.test_browser_axe import violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SCREENSHOTS = Path(tempfile.gettempdir())
WEEK = "2026-03-16"


@pytest.fixture
def sheet(reference_data):
    UserFactory(username="mark", groups=["Marketing"], is_staff=True)
    mia = staff_save(name="Mia")
    hourly_rate_save(staff=mia, effective_from=dt.date(2026, 1, 1), rate=Decimal("40.00"))
    pins = CampaignFactory(
        name="Spring launch retargeting with customer testimonials",
        channel=channel("pinterest"),
        starts_on=dt.date(2026, 3, 1),
    )
    b2b = CampaignFactory(name="B2B", channel=channel("linkedin"), starts_on=dt.date(2026, 2, 1))
    time_entry_save(staff=mia, campaign=b2b, date=dt.date(2026, 3, 17), hours="1.5")
    return {"mia": mia, "pins": pins, "b2b": b2b}


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_typing_a_week(sheet, live_server, chromium, viewport):
    width, height = viewport
    context = chromium.new_context(
        viewport={"width": width, "height": height}, bypass_csp=True, is_mobile=width < 600
    )
    page = context.new_page()
    try:
        url = reverse("admin:campaigns_staffmember_timesheet", args=[sheet["mia"].pk])
        login(page, live_server, "mark", f"{url}?week={WEEK}")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        assert violations(page) == []
        name = f"h-{sheet['pins'].pk}-2026-03-16"
        page.fill(f"input[name='{name}']", "2.25")
        page.click("input[type=submit][value='Save week']")
        page.wait_for_load_state("networkidle")
        assert "Saved the week of 16 March 2026" in page.content()
        assert page.input_value(f"input[name='{name}']") == "2.25"
        page.screenshot(path=str(SCREENSHOTS / f"timesheet-{width}.png"), full_page=True)
        # 2.25 h at 40.00 on 16 March, beside the 1.5 h of B2B on 17 March.
        assert sorted(Cost.objects.values_list("incurred_on", "amount")) == [
            (dt.date(2026, 3, 16), Decimal("90.00")),
            (dt.date(2026, 3, 17), Decimal("60.00")),
        ]
        Cost.objects.filter(incurred_on=dt.date(2026, 3, 16)).delete()  # next viewport: anew
        # The campaign column stays in view when the grid scrolls (on a phone it must scroll).
        before, after, scrolls = page.evaluate(
            """() => {
                const box = document.querySelector('.timesheet-scroll');
                const cell = document.querySelector('tbody th.timesheet-campaign');
                const before = cell.getBoundingClientRect().left;
                box.scrollLeft = box.scrollWidth;
                return [before, cell.getBoundingClientRect().left, box.scrollLeft > 0];
            }"""
        )
        assert abs(after - before) < 1
        assert scrolls == (width < 600)  # the whole week fits on a desktop
    finally:
        context.close()
