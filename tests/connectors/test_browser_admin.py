"""A connector's admin page in Chromium at 1440 px and 390 px: its address, its secret's last
characters, its deliveries with their errors, the test button; the page never scrolls sideways
and axe-core finds no violation."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from django.urls import reverse

from connectors.models import Connector, Delivery
from connectors.providers import Incoming
from connectors.services import connector_create, delivery_receive
from tests.factories import UserFactory
from tests.reports.browser import login
from tests.reports.test_browser_axe import violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SCREENSHOTS = Path(tempfile.gettempdir())


@pytest.fixture
def shop(reference_data):
    UserFactory(username="conny", groups=["Connectors"], is_staff=True)
    connector, _ = connector_create(
        kind=Connector.Kind.SHOPIFY,
        name="Demo shop",
        account="demo-shop.myshopify.com",
        secret="shpss_0123456789abcdef0123456789abcdef",
    )
    for n, (status, error) in enumerate(
        [
            ("processed", ""),
            ("failed", "currency: The order is in EUR; this installation counts in USD."),
            ("waiting", "Its order has not arrived yet: recorded when it does."),
        ]
    ):
        delivery, _ = delivery_receive(
            connector=connector,
            incoming=Incoming(topic="orders/create", delivery_id=f"d-{n}"),
            body=b"{}",
            content_type="application/json",
        )
        Delivery.objects.filter(pk=delivery.pk).update(status=status, error=error)
    return connector


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_a_connectors_page(shop, live_server, chromium, viewport):
    width, height = viewport
    context = chromium.new_context(
        viewport={"width": width, "height": height}, bypass_csp=True, is_mobile=width < 600
    )
    page = context.new_page()
    try:
        login(
            page, live_server, "conny", reverse("admin:connectors_connector_change", args=[shop.pk])
        )
        text = page.inner_text("body")
        assert f"/api/v1/hooks/shopify/{shop.key}/" in text
        assert "ends in …cdef" in text
        assert "The order is in EUR" in text
        assert "send a test event" in text.lower()
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        assert violations(page) == []
        page.screenshot(path=str(SCREENSHOTS / f"connector-{width}.png"), full_page=True)
        page.goto(f"{live_server.url}{reverse('admin:connectors_connector_changelist')}")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        assert violations(page) == []
        page.screenshot(path=str(SCREENSHOTS / f"connectors-{width}.png"), full_page=True)
    finally:
        context.close()
