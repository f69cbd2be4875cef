"""The record-purchase page's coupon box is the admin's autocomplete: a sales rep types part of a
code, picks the coupon, saves, and the purchase carries it. axe-core finds no violation on the
page, before and after the pick, at 1440 px and 390 px.

Screenshots are left in the temporary directory for a person to look at.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from django.urls import reverse

from campaigns.models import Coupon
from leads.models import Purchase
from tests.factories import CampaignFactory, CouponFactory, UserFactory, channel
from tests.reports.browser import login
from tests.reports.test_browser_axe import violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SCREENSHOTS = Path(tempfile.gettempdir())


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_pick_a_coupon_by_part_of_its_code(scenario, live_server, chromium, viewport):
    width, height = viewport
    UserFactory(username="sally", groups=["Sales"])
    CouponFactory(code="LINKEDIN5", campaign=CampaignFactory(channel=channel("linkedin")))
    ada = scenario["ada"]
    before = set(Purchase.objects.filter(contact=ada).values_list("pk", flat=True))
    url = reverse("admin:leads_contact_purchase", args=[ada.pk])
    # axe is injected by a script tag, which the site's policy refuses: this context alone
    # bypasses it (test_browser_csp.py proves the admin's autocomplete under the policy).
    context = chromium.new_context(
        viewport={"width": width, "height": height}, bypass_csp=True, is_mobile=width < 600
    )
    page = context.new_page()
    try:
        login(page, live_server, "sally", url)
        page.wait_for_selector("#id_coupon + .select2")
        assert page.get_by_role("combobox", name="Coupon").count() == 1  # named by its label
        found = violations(page)
        assert found == [], "\n".join(found)
        page.screenshot(path=str(SCREENSHOTS / f"purchase-coupon-{width}.png"), full_page=True)

        page.fill("#id_amount", "42.00")
        page.click("#id_coupon + .select2 .select2-selection")
        page.keyboard.type("pin")
        option = page.locator(".select2-results__option", has_text="PIN10")
        option.wait_for()
        # The list first answers the letters typed so far ("p" matches "Campaign ..."): wait
        # for the answer to the whole term, which leaves the other coupon out.
        other = page.locator(".select2-results__option", has_text="LINKEDIN5")
        other.wait_for(state="detached")
        assert other.count() == 0
        found = violations(page)  # the open list too: its search box, options and contrast
        assert found == [], "\n".join(found)
        page.screenshot(path=str(SCREENSHOTS / f"purchase-coupon-{width}-open.png"), full_page=True)
        option.click()
        assert "PIN10" in page.inner_text("#id_coupon + .select2 .select2-selection__rendered")
        page.screenshot(
            path=str(SCREENSHOTS / f"purchase-coupon-{width}-picked.png"), full_page=True
        )
        found = violations(page)
        assert found == [], "\n".join(found)
        page.click("input[type=submit]")
        page.wait_for_load_state("networkidle")
        assert page.url.endswith(reverse("admin:leads_contact_change", args=[ada.pk]))
    finally:
        context.close()
    new = Purchase.objects.filter(contact=ada).exclude(pk__in=before).get()
    assert new.coupon == Coupon.objects.get(code="PIN10")
    assert str(new.amount) == "42.00"
