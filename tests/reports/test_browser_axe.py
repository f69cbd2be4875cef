"""axe-core finds no accessibility violation on the report pages and on the admin pages we
customise (the contacts' changelist with its saved views, a contact's change form with its
timeline, a campaign's change form, a purchase's change form with its refunds inline, the
refunds' list).

axe-core (tests/vendor/axe-core/, MPL-2.0, from the npm registry) runs in the page with its
default rules: WCAG 2.0, 2.1 and 2.2 A and AA, and the best practices. It is injected with a
script tag, which the site's Content-Security-Policy would refuse (script-src 'self'), so this
test's browser context alone bypasses the policy; test_browser_csp.py proves the pages under it.

Scenario: the March 2026 one of test_pages.py (tests/reports/conftest.py), and a saved report of
that month.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.models import SavedView
from campaigns.models import Campaign, CampaignAlias
from campaigns.services import campaign_names_keep
from leads.models import Via
from leads.services import refund_record
from reports import services
from tests.factories import UserFactory
from tests.reports.browser import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe-core" / "axe.min.js"
MARCH = "?preset=custom&start=2026-03-01&end=2026-03-31"


@pytest.fixture
def root(reference_data):
    root = UserFactory(username="root", is_superuser=True)
    # The contacts' list shows its saved views: one's own (with a delete button), one shared.
    SavedView.objects.create(
        user=root, model_label="leads.contact", name="Leads", query="stage__exact=lead"
    )
    SavedView.objects.create(
        user=UserFactory(username="sally", groups=["Sales"]),
        model_label="leads.contact",
        name="Customers",
        query="stage__exact=customer",
        shared=True,
    )
    return root


def pages(scenario) -> list[str]:
    report = services.report_request(
        start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), enqueue=False
    )
    services.report_generate(report_id=report.pk)
    campaign_names_keep(platform="meta", names=["Autumn leaves"])
    alias = CampaignAlias.objects.get()
    purchase = scenario["ada"].purchases.get()
    refund_record(purchase=purchase, amount="10.00", note="one item back", via=Via.API)
    return [
        reverse("reports:dashboard") + MARCH,
        reverse("reports:attribution") + MARCH,
        reverse("reports:attribution") + MARCH + "&group_by=campaign",
        reverse("reports:attribution") + MARCH + "&attribution=linear&reference=first_touch",
        reverse("reports:campaign", args=[scenario["pins"].pk]) + MARCH,
        reverse("reports:paths") + MARCH,
        reverse("reports:saved"),
        reverse("reports:saved-detail", args=[report.pk]),
        reverse("reports:subscriptions"),
        reverse("admin:leads_contact_changelist"),
        reverse("admin:leads_contact_change", args=[scenario["ada"].pk]),
        reverse("admin:campaigns_campaign_change", args=[Campaign.objects.first().pk]),
        reverse("admin:leads_purchase_change", args=[purchase.pk]),
        reverse("admin:leads_refund_changelist"),
        reverse("admin:campaigns_campaignalias_changelist") + "?mapped=no",
        reverse("admin:campaigns_campaignalias_change", args=[alias.pk]),
    ]


def violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document);
            return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}; ` +
                v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', '));
        }"""
    )
    return found


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_no_accessibility_violations(scenario, root, live_server, chromium, viewport):
    width, height = viewport
    context = chromium.new_context(
        viewport={"width": width, "height": height}, bypass_csp=True, is_mobile=width < 600
    )
    page = context.new_page()
    try:
        urls = pages(scenario)
        login(page, live_server, "root", urls[0])
        found = {}
        for url in urls:
            response = page.goto(f"{live_server.url}{url}")
            assert response.status == 200, url
            page.wait_for_load_state("networkidle")
            if problems := violations(page):
                found[url] = problems
        report = "\n".join(f"{url}\n  " + "\n  ".join(items) for url, items in found.items())
        assert found == {}, report
    finally:
        context.close()
