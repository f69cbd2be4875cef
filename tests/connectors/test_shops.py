"""Shop webhooks: Shopify and WooCommerce orders become purchases with their landing touch,
verified by the shop's HMAC, idempotent on the delivery and on the order."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from campaigns.models import Channel
from connectors.models import Delivery, DiscountCode
from connectors.services import code_map
from leads.models import Contact, Purchase, Stage, StageChange, Touchpoint
from tests.connectors.conftest import fixture, post_shopify, post_woocommerce
from tests.factories import CampaignFactory, ContactFactory, CouponFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def spring(reference_data):
    """Instagram's spring campaign, tagged utm_campaign=spring."""
    return CampaignFactory(
        name="Spring", channel=Channel.objects.get(slug="instagram"), utm_campaign="spring"
    )


def test_shopify_order_becomes_a_purchase_with_its_landing_touch(
    client, shopify, spring, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_shopify(client, shopify, fixture("shopify_orders_create.json"))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "recorded"
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    purchase = Purchase.objects.select_related("contact").get()
    # Net sales: the lines' 100.00 less the 10.00 code = subtotal 90.00; the 7.85 tax and the
    # 7.00 shipping are not revenue.
    assert purchase.amount == Decimal("90.00")
    assert purchase.discount == Decimal("10.00")
    assert purchase.external_id == "shopify:demo-shop.myshopify.com:5512345678901"
    assert purchase.occurred_at == dt.datetime(2026, 3, 10, 19, 5, tzinfo=dt.UTC)
    # SPRING10 names no coupon here: kept on the purchase and listed for mapping.
    assert purchase.coupon is None
    assert purchase.unmatched_code == "SPRING10"
    assert DiscountCode.objects.get().code == "SPRING10"
    buyer = purchase.contact
    assert (buyer.email, buyer.first_name, buyer.last_name) == ("ana@example.com", "Ana", "Lopez")
    assert buyer.stage == Stage.CUSTOMER
    # The landing page's utm_source=ig&utm_campaign=spring: an Instagram visit on Spring at the
    # order's time, the buyer's first touch and source.
    touch = Touchpoint.objects.get()
    assert (touch.channel.slug, touch.campaign, touch.kind) == ("instagram", spring, "visit")
    assert touch.occurred_at == purchase.occurred_at
    assert touch.metadata["fbclid"] == "IwAR2xyz"
    assert (buyer.source_channel.slug, buyer.source_campaign) == ("instagram", spring)
    assert list(StageChange.objects.values_list("from_stage", "to_stage", "via")) == [
        ("", "customer", "connector")
    ]


def test_a_mapped_code_reattributes_its_purchases(
    client, shopify, spring, django_capture_on_commit_callbacks
):
    order = fixture("shopify_orders_create.json")
    order["landing_site"], order["referring_site"] = "/", ""
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify, order)
    purchase = Purchase.objects.select_related("contact").get()
    assert purchase.contact.source_channel is None  # a walk-in: unattributed so far
    coupon = CouponFactory(code="SPRING-IG", campaign=spring)
    code_map(code=DiscountCode.objects.get(code="SPRING10"), coupon=coupon)
    purchase.refresh_from_db()
    assert (purchase.coupon, purchase.unmatched_code) == (coupon, "")
    touch = Touchpoint.objects.get()
    assert (touch.kind, touch.campaign, touch.occurred_at) == (
        "coupon",
        spring,
        purchase.occurred_at,
    )
    buyer = Contact.objects.get()
    assert (buyer.source_campaign, buyer.coupon) == (spring, coupon)
    coupon.refresh_from_db()
    assert coupon.redemptions == 1
    # The next order with the code uses the coupon straight away.
    order["id"], order["email"] = 5512345678902, "bo@example.com"
    order["customer"]["email"] = "bo@example.com"
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify, order, webhook_id="second")
    second = Purchase.objects.get(external_id__endswith="5512345678902")
    assert second.coupon == coupon


@pytest.mark.parametrize(
    "secret", [None, "wrong-secret", ""], ids=["missing", "bad", "empty-secret"]
)
def test_a_bad_or_missing_signature_is_401_and_changes_nothing(client, shopify, secret):
    response = post_shopify(client, shopify, fixture("shopify_orders_create.json"), secret=secret)
    assert response.status_code == 401
    assert not Delivery.objects.exists()
    assert not Purchase.objects.exists()
    assert not Contact.objects.exists()


def test_a_tampered_body_fails_its_signature(client, shopify):
    from connectors import secrets
    from tests.connectors.conftest import SHOPIFY_SECRET, url

    body = b'{"id": 1, "subtotal_price": "10.00"}'
    headers = {
        "X-Shopify-Hmac-Sha256": secrets.hmac_base64(SHOPIFY_SECRET, body),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": "demo-shop.myshopify.com",
        "X-Shopify-Webhook-Id": "x",
    }
    response = client.post(
        url(shopify),
        data=body.replace(b"10.00", b"1000.00"),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 401


def test_another_shops_delivery_is_refused(client, shopify):
    response = post_shopify(
        client, shopify, fixture("shopify_orders_create.json"), shop="other.myshopify.com"
    )
    assert response.status_code == 401


def test_a_replayed_delivery_and_a_second_delivery_of_the_order_record_once(
    client, shopify, spring, django_capture_on_commit_callbacks
):
    order = fixture("shopify_orders_create.json")
    with django_capture_on_commit_callbacks(execute=True):
        first = post_shopify(client, shopify, order)
        again = post_shopify(client, shopify, order)
        other = post_shopify(client, shopify, order, topic="orders/paid", webhook_id="paid-1")
    assert first.json()["status"] == "recorded"
    assert again.json() == {"status": "already recorded", "delivery": first.json()["delivery"]}
    assert other.status_code == 200
    assert Delivery.objects.count() == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {"processed"}
    assert Purchase.objects.count() == 1
    assert Touchpoint.objects.count() == 1


def test_a_known_customer_keeps_its_history(
    client, shopify, spring, django_capture_on_commit_callbacks
):
    ana = ContactFactory(
        email="ANA@example.com",
        entered_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
        stage=Stage.FOLLOWER,
    )
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify, fixture("shopify_orders_create.json"))
    purchase = Purchase.objects.get()
    assert purchase.contact == ana
    ana.refresh_from_db()
    assert ana.stage == Stage.CUSTOMER
    assert ana.source_channel.slug == "facebook"  # where it came from first stays
    assert list(StageChange.objects.values_list("from_stage", "to_stage", "via")) == [
        ("follower", "customer", "connector")
    ]
    assert ana.touchpoints.get().channel.slug == "instagram"


def test_unpaid_test_and_foreign_currency_orders(
    client, shopify, django_capture_on_commit_callbacks
):
    unpaid = {**fixture("shopify_orders_create.json"), "financial_status": "pending"}
    test = {**fixture("shopify_orders_create.json"), "id": 2, "test": True}
    euro = {**fixture("shopify_orders_create.json"), "id": 3, "currency": "EUR"}
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify, unpaid, webhook_id="1")
        post_shopify(client, shopify, test, webhook_id="2")
        post_shopify(client, shopify, euro, webhook_id="3")
    statuses = dict(Delivery.objects.values_list("delivery_id", "status"))
    assert statuses == {"1": "ignored", "2": "ignored", "3": "failed"}
    assert "EUR" in Delivery.objects.get(delivery_id="3").error
    assert not Purchase.objects.exists()
    assert not Contact.objects.exists()


def test_woocommerce_order_with_its_attribution(
    client, woocommerce, django_capture_on_commit_callbacks
):
    connector, secret = woocommerce
    pins = CampaignFactory(
        name="Pins", channel=Channel.objects.get(slug="pinterest"), utm_campaign="pins"
    )
    coupon = CouponFactory(code="PINS5", campaign=pins)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_woocommerce(
            client, connector, fixture("woocommerce_order.json"), secret=secret
        )
    assert response.status_code == 200
    delivery = Delivery.objects.get()
    assert delivery.status == "processed", delivery.error
    purchase = Purchase.objects.select_related("contact").get()
    # 58.60 total less 3.60 tax and 10.00 shipping: the lines' 45.00 after the 5.00 code.
    assert (purchase.amount, purchase.discount, purchase.coupon) == (
        Decimal("45.00"),
        Decimal("5.00"),
        coupon,
    )
    assert purchase.occurred_at == dt.datetime(2026, 3, 12, 15, 15, 4, tzinfo=dt.UTC)
    assert purchase.external_id == "woocommerce:shop.example:727"
    buyer = purchase.contact
    assert (buyer.email, buyer.phone_e164) == ("ben@example.com", "+15555550173")
    kinds = sorted(buyer.touchpoints.values_list("kind", "channel__slug", "campaign__name"))
    assert kinds == [("coupon", "pinterest", "Pins"), ("visit", "pinterest", "Pins")]


def test_woocommerce_ping_and_bad_signature(client, woocommerce):
    connector, _ = woocommerce
    from tests.connectors.conftest import url

    ping = client.post(
        url(connector), data=b"webhook_id=12", content_type="application/x-www-form-urlencoded"
    )
    assert ping.status_code == 200
    assert ping.json() == {"status": "pong"}
    bad = post_woocommerce(client, connector, fixture("woocommerce_order.json"), secret="nope")
    assert bad.status_code == 401
    missing = post_woocommerce(client, connector, fixture("woocommerce_order.json"), secret=None)
    assert missing.status_code == 401
    assert not Delivery.objects.exists()


def test_unknown_connector_key_is_404(client, reference_data):
    response = client.post(
        "/api/v1/hooks/shopify/nope/", data=b"{}", content_type="application/json"
    )
    assert response.status_code == 404


def test_recording_a_delivery_costs_a_handful_of_queries(
    client, shopify, django_assert_max_num_queries
):
    """The answer the shop waits for: look the connector up, insert the delivery, stamp the
    connector (in a savepoint), nothing that grows with the data."""
    body = fixture("shopify_orders_create.json")
    with django_assert_max_num_queries(6):
        response = post_shopify(client, shopify, body)
    assert response.status_code == 200


def test_processing_an_order_is_a_fixed_number_of_queries(
    client, shopify, spring, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    """A new buyer with its landing touch and purchase: a fixed set of statements, whatever the
    size of the tables (no query per row). About a third are savepoints; each of the three
    writes (buyer, touch, purchase) voids its day's caches through the change path."""
    from connectors.services import delivery_process

    post_shopify(client, shopify, fixture("shopify_orders_create.json"))
    delivery = Delivery.objects.get()
    with django_assert_max_num_queries(75):
        delivery_process(delivery_id=delivery.pk)
    assert Delivery.objects.get().status == "processed"
    second = {**fixture("shopify_orders_create.json"), "id": 77, "email": "zoe@example.com"}
    second["customer"] = {**second["customer"], "email": "zoe@example.com"}
    post_shopify(client, shopify, second, webhook_id="second")
    delivery = Delivery.objects.get(delivery_id="second")
    with django_assert_max_num_queries(75):
        delivery_process(delivery_id=delivery.pk)


def test_a_buyer_known_only_by_phone_is_matched_in_e164(
    client, shopify, django_capture_on_commit_callbacks
):
    caller = ContactFactory(
        email="",
        phone="(512) 555-0142",
        phone_e164="+15125550142",  # as every door stores it beside the raw text
        stage=Stage.LEAD,
        became_lead_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        entered_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
    )
    order = fixture("shopify_orders_create.json")
    order.update(landing_site="/", referring_site="", email="new@example.com", phone="+15125550142")
    order["customer"] = {**order["customer"], "email": "new@example.com"}
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify, order)
    assert Purchase.objects.get().contact == caller
    assert Contact.objects.count() == 1


def test_signed_bodies_that_cannot_be_read(client, shopify, django_capture_on_commit_callbacks):
    assert post_shopify(client, shopify, b"not json").status_code == 400
    deep = b"[" * 100_000 + b"]" * 100_000
    assert post_shopify(client, shopify, deep, webhook_id="deep").status_code == 400
    bad = {
        **fixture("shopify_orders_create.json"),
        "subtotal_price": "1e400",
        "processed_at": "2026-02-30T10:00:00Z",
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert post_shopify(client, shopify, bad, webhook_id="bad").status_code == 200
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.error in {
        "subtotal_price: '1e400' is not an amount.",
        "created_at: '2026-02-30T10:00:00Z' is not a time.",
    }
    future = {
        **fixture("shopify_orders_create.json"),
        "id": 9,
        "processed_at": "9999-12-31T00:00:00Z",
    }
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify, future, webhook_id="future")
    assert Delivery.objects.get(delivery_id="future").status == "failed"
    assert not Purchase.objects.exists() and not Contact.objects.exists()


def test_woocommerce_updates_paid_later_and_refunded_twice(
    client, woocommerce, django_capture_on_commit_callbacks
):
    """A bank-transfer order: created on hold, paid a day later, then two refunds, each update
    listing every refund so far at the order's latest change."""
    connector, secret = woocommerce
    order = {**fixture("woocommerce_order.json"), "status": "on-hold", "date_paid_gmt": None}
    paid = {**order, "status": "processing", "date_paid_gmt": "2026-03-13T09:00:00"}
    first = {
        **paid,
        "date_modified_gmt": "2026-03-14T10:00:00",
        "refunds": [{"id": 900, "reason": "One shirt back", "total": "-10.00"}],
    }
    second = {
        **paid,
        "date_modified_gmt": "2026-03-15T10:00:00",
        "refunds": [
            {"id": 901, "reason": "Another", "total": "-5.00"},
            {"id": 900, "reason": "One shirt back", "total": "-10.00"},
        ],
    }
    sends = [
        (order, "order.created", "d1"),
        (paid, "order.updated", "d2"),
        (first, "order.updated", "d3"),
        (second, "order.updated", "d4"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        for body, topic, delivery_id in sends:
            post_woocommerce(
                client, connector, body, secret=secret, topic=topic, delivery_id=delivery_id
            )
    statuses = dict(Delivery.objects.values_list("delivery_id", "status"))
    assert statuses == {"d1": "processed", "d2": "processed", "d3": "processed", "d4": "processed"}
    purchase = Purchase.objects.get()
    # Recorded once, when first seen (on hold counts as placed and paid by transfer).
    assert purchase.occurred_at == dt.datetime(2026, 3, 12, 15, 15, tzinfo=dt.UTC)
    refunds = sorted(purchase.refunds.values_list("external_id", "amount", "occurred_at"))
    assert refunds == [
        (
            "woocommerce:shop.example:refund:900",
            Decimal("10.00"),
            dt.datetime(2026, 3, 14, 10, tzinfo=dt.UTC),
        ),
        (
            "woocommerce:shop.example:refund:901",
            Decimal("5.00"),
            dt.datetime(2026, 3, 15, 10, tzinfo=dt.UTC),
        ),
    ]


def test_another_stores_delivery_is_refused(client, woocommerce):
    connector, secret = woocommerce
    from connectors import secrets as keys
    from tests.connectors.conftest import url

    body = json.dumps(fixture("woocommerce_order.json")).encode()
    response = client.post(
        url(connector),
        data=body,
        content_type="application/json",
        headers={
            "X-WC-Webhook-Signature": keys.hmac_base64(secret, body),
            "X-WC-Webhook-Source": "https://other.example/",
            "X-WC-Webhook-Topic": "order.created",
            "X-WC-Webhook-Delivery-ID": "x",
        },
    )
    assert response.status_code == 401


def test_a_shop_connector_needs_its_address(reference_data):
    from campaigns.errors import InvalidInput
    from connectors.services import connector_create

    with pytest.raises(InvalidInput) as refused:
        connector_create(kind="shopify", name="Shop", secret="x" * 20)
    assert refused.value.field == "account"


def test_an_odd_landing_address_is_no_touch_not_a_crash(
    client, shopify, django_capture_on_commit_callbacks
):
    order = {**fixture("shopify_orders_create.json"), "landing_site": "http://[x/?utm_source=a"}
    order["referring_site"] = ""
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify, order)
    assert Delivery.objects.get().status == "processed"
    assert not Touchpoint.objects.exists()


def test_a_mapped_code_is_not_mapped_again(
    client, shopify, spring, django_capture_on_commit_callbacks
):
    from campaigns.errors import InvalidInput

    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify, fixture("shopify_orders_create.json"))
    code = DiscountCode.objects.get()
    code_map(code=code, coupon=CouponFactory(code="A1", campaign=spring))
    with pytest.raises(InvalidInput):
        code_map(code=code, coupon=CouponFactory(code="B1", campaign=spring))
    with pytest.raises(InvalidInput):
        code_map(code=code, coupon=None)


def test_a_refund_before_its_order_waits_then_counts(
    client, shopify, spring, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(
            client,
            shopify,
            fixture("shopify_refunds_create.json"),
            topic="refunds/create",
            webhook_id="refund-1",
        )
    waiting = Delivery.objects.get()
    assert (waiting.status, waiting.waiting_for) == (
        "waiting",
        "shopify:demo-shop.myshopify.com:5512345678901",
    )
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify, fixture("shopify_orders_create.json"), webhook_id="o-1")
    assert set(Delivery.objects.values_list("status", flat=True)) == {"processed"}
    purchase = Purchase.objects.get()
    # The refunded line's subtotal, 45.00 of the 90.00 (its 3.93 tax was never revenue).
    refund = purchase.refunds.get()
    assert (refund.amount, refund.external_id) == (
        Decimal("45.00"),
        "shopify:demo-shop.myshopify.com:refund:929361462",
    )
    assert refund.occurred_at == dt.datetime(2026, 3, 20, 14, 30, tzinfo=dt.UTC)
