"""The March walk-through of docs/connectors.md, through the connectors only, on the dashboard.

Set-up (March 2026, UTC): "Spring" on Instagram (utm_campaign=spring) cost 300.00, "Call us" on
Facebook (tracking phone 512-555-0100) cost 200.00, "Pins" on Pinterest (coupon PIN20) cost
100.00, all on 1 March.

1. 5 March 10:00, the website: Ana arrives from an Instagram link (?utm_source=ig&
   utm_campaign=spring) and fills the contact form, saying she heard of us on Instagram: a new
   lead, entered on Instagram / Spring, with a form touch then.
2. 8 March 15:00, Twilio: Ben calls the Facebook line from +1 512-555-0142 for two minutes (the
   callback at 15:02 says 120 s): a new lead, entered on Facebook / Call us, a call touch at 15:00.
3. 10 March 19:05, Shopify: Ana orders with PIN20, lines 100.00 less 10.00: a purchase of 90.00
   (tax and shipping are not revenue) with a coupon touch on Pinterest / Pins.
4. 12 March 12:00, Shopify: an order from ben@example.com, phone +15125550142, no code, 60.00:
   Ben, found by his phone, buys for 60.00; his only touch is the call.
5. 20 March 09:30, Shopify: 20.00 of Ben's order is refunded: his purchase counts 40.00.

The dashboard for March, last touch:
- revenue: Pinterest 90.00 (Ana's last touch is the coupon), Facebook 40.00 (60.00 - 20.00),
  Instagram 0.00; total 130.00.
- cost 300.00 / 200.00 / 100.00, total 600.00; ROI Instagram (0 - 300) / 300 = -1.0000,
  Facebook (40 - 200) / 200 = -0.8000, Pinterest (90 - 100) / 100 = -0.1000, total
  (130 - 600) / 600 = -0.78333... = -0.7833.
- leads: Instagram 1 (Ana), Facebook 1 (Ben); customers: Pinterest 1.00, Facebook 1.00 (each
  purchase's whole weight to its last touch).
- cost per lead: Instagram 300.00, Facebook 200.00; CAC: Facebook 200.00, Pinterest 100.00.
- self-reported: Instagram 1 (Ana said so), Facebook 0 (Ben said nothing).
- assisted: Instagram had a touch on Ana's purchase but not the last: 1 conversion, 90.00.
Linear: Ana's 90.00 splits over her form and coupon touches, 45.00 each; Ben's 40.00 is all the
call's: Instagram 45.00, Pinterest 45.00, Facebook 40.00, total 130.00.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import time_machine
from django.urls import reverse

from campaigns.models import Channel, Cost
from connectors.calls import twilio_signature
from connectors.models import Connector, Delivery
from connectors.services import connector_create
from leads.models import Contact
from tests.connectors.conftest import SHOPIFY_SECRET, fixture, post_shopify
from tests.factories import CampaignFactory, CouponFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
SITE = "https://www.example.com"
AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
MARCH = {"preset": "custom", "start": "2026-03-01", "end": "2026-03-31"}


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def march(reference_data, django_capture_on_commit_callbacks, client):
    channel = Channel.objects.get
    spring = CampaignFactory(
        name="Spring", channel=channel(slug="instagram"), utm_campaign="spring"
    )
    call_us = CampaignFactory(
        name="Call us", channel=channel(slug="facebook"), tracking_phone="(512) 555-0100"
    )
    pins = CampaignFactory(name="Pins", channel=channel(slug="pinterest"))
    CouponFactory(code="PIN20", campaign=pins)
    for campaign, amount in ((spring, "300.00"), (call_us, "200.00"), (pins, "100.00")):
        Cost.objects.create(campaign=campaign, incurred_on=dt.date(2026, 3, 1), amount=amount)
    site, _ = connector_create(kind=Connector.Kind.SITE, name="Site", allowed_origins=SITE)
    twilio, _ = connector_create(kind=Connector.Kind.TWILIO, name="Twilio", secret=AUTH_TOKEN)
    shop, _ = connector_create(
        kind=Connector.Kind.SHOPIFY,
        name="Shop",
        account="demo-shop.myshopify.com",
        secret=SHOPIFY_SECRET,
    )

    def run(moment: dt.datetime, send) -> None:
        with (
            time_machine.travel(moment, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            response = send()
        assert response.status_code == 200, response.content

    # 1. Ana's form fill from an Instagram link.
    ana_fill = {
        "key": site.key,
        "submission_id": "0b8e7a4c-1d2f-4e3a-9b5c-6d7e8f9a0b1c",
        "email": "ana@example.com",
        "first_name": "Ana",
        "last_name": "Lopez",
        "heard_about": "Instagram",
        "consent": True,
        "first": {"utm_source": "ig", "utm_campaign": "spring", "landing_page": "/spring"},
        "latest": {"utm_source": "ig", "utm_campaign": "spring", "landing_page": "/spring"},
        "age_seconds": 0,
    }
    run(
        at(5, 10),
        lambda: client.post(
            "/api/v1/capture/",
            data=json.dumps(ana_fill),
            content_type="text/plain;charset=UTF-8",
            headers={"Origin": SITE},
        ),
    )
    # 2. Ben's call to the Facebook line, reported when it ends.
    call = {
        **fixture("twilio_status_completed.json"),
        "AccountSid": "AC3f8b2c1d4e5a69788796a5b4c3d2e1f0",
        "CallSid": "CA0000000000000000000000000000march",
        "CallerName": "",
        "CallDuration": "120",
        "Timestamp": "Sun, 08 Mar 2026 15:02:00 +0000",
    }
    address = f"http://testserver/api/v1/hooks/twilio/{twilio.key}/"
    signed = twilio_signature(AUTH_TOKEN, address, list(call.items()))
    run(
        at(8, 15, 2),
        lambda: client.post(
            f"/api/v1/hooks/twilio/{twilio.key}/",
            data=urlencode(call),
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": signed},
        ),
    )
    # 3. Ana's Shopify order with PIN20.
    order = fixture("shopify_orders_create.json")
    order.update(
        landing_site="/",
        referring_site="",
        discount_codes=[{"code": "PIN20", "amount": "10.00", "type": "fixed_amount"}],
        processed_at="2026-03-10T19:05:00Z",
    )
    run(at(10, 19, 6), lambda: post_shopify(client, shop, order, webhook_id="ana"))
    # 4. Ben's order, by email and phone, no code.
    ben_order = fixture("shopify_orders_create.json")
    ben_order.update(
        id=5512345678999,
        email="ben@example.com",
        contact_email="ben@example.com",
        phone="+15125550142",
        landing_site="/",
        referring_site="",
        discount_codes=[],
        subtotal_price="60.00",
        total_discounts="0.00",
        processed_at="2026-03-12T12:00:00Z",
        customer={"email": "ben@example.com", "first_name": "Ben", "last_name": "Ortiz"},
        billing_address={},
    )
    run(at(12, 12, 1), lambda: post_shopify(client, shop, ben_order, webhook_id="ben"))
    # 5. 20.00 of Ben's order refunded.
    refund = fixture("shopify_refunds_create.json")
    refund.update(
        order_id=5512345678999,
        processed_at="2026-03-20T09:30:00Z",
        created_at="2026-03-20T09:30:00Z",
    )
    refund["refund_line_items"][0].update(subtotal=20.0, total_tax=1.65)
    run(
        at(20, 9, 31),
        lambda: post_shopify(client, shop, refund, topic="refunds/create", webhook_id="refund"),
    )
    assert set(Delivery.objects.values_list("status", flat=True)) == {"processed"}


def test_the_march_walk_through_on_the_dashboard(march, client, marketing_user):
    ana, ben = (
        Contact.objects.get(email="ana@example.com"),
        Contact.objects.get(phone_e164="+15125550142"),
    )
    assert (ana.stage, ben.stage) == ("customer", "customer")
    assert ben.email == ""  # known by his call; his order matched him by phone
    client.force_login(marketing_user)
    with time_machine.travel(at(31, 23), tick=False):
        page = client.get(reverse("reports:dashboard"), MARCH)
        linear = client.get(reverse("reports:dashboard"), {**MARCH, "attribution": "linear"})
    assert page.status_code == 200
    rows = {r["key"]: r for r in page.context["channels"]["rows"]}
    totals = page.context["channels"]["totals"]
    figures = {
        key: {
            name: rows[key][name]
            for name in (
                "revenue",
                "cost",
                "roi",
                "leads",
                "customers",
                "cost_per_lead",
                "cost_per_customer",
                "self_reported",
                "assisted_conversions",
                "assisted_revenue",
            )
        }
        for key in ("instagram", "facebook", "pinterest")
    }
    assert figures == {
        "instagram": {
            "revenue": "0.00",
            "cost": "300.00",
            "roi": "-1.0000",
            "leads": 1,
            "customers": "0.00",
            "cost_per_lead": "300.00",
            "cost_per_customer": None,
            "self_reported": 1,
            "assisted_conversions": 1,
            "assisted_revenue": "90.00",
        },
        "facebook": {
            "revenue": "40.00",
            "cost": "200.00",
            "roi": "-0.8000",
            "leads": 1,
            "customers": "1.00",
            "cost_per_lead": "200.00",
            "cost_per_customer": "200.00",
            "self_reported": 0,
            "assisted_conversions": 0,
            "assisted_revenue": "0.00",
        },
        "pinterest": {
            "revenue": "90.00",
            "cost": "100.00",
            "roi": "-0.1000",
            "leads": 0,
            "customers": "1.00",
            "cost_per_lead": None,
            "cost_per_customer": "100.00",
            "self_reported": 0,
            "assisted_conversions": 0,
            "assisted_revenue": "0.00",
        },
    }
    assert (totals["revenue"], totals["cost"], totals["roi"]) == ("130.00", "600.00", "-0.7833")
    cards = {c["key"]: c["value"] for c in page.context["headlines"]}
    assert (cards["revenue"], cards["cost"], cards["leads"]) == ("130.00", "600.00", 2)
    revenue = {r["key"]: r["revenue"] for r in linear.context["channels"]["rows"]}
    assert (revenue["instagram"], revenue["pinterest"], revenue["facebook"]) == (
        "45.00",
        "45.00",
        "40.00",
    )
    assert linear.context["channels"]["totals"]["revenue"] == "130.00"
    assert Decimal(totals["revenue"]) == Decimal("130.00")
