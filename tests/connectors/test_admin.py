"""Connectors in the admin: the connector permission, secrets shown once, the delivery log with
its error count, the test button and replay; Marketing maps unknown discount codes."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group

from connectors import secrets
from connectors.models import Connector, Delivery, DiscountCode
from tests.connectors.conftest import fixture, post_shopify
from tests.factories import CampaignFactory, CouponFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def connector_admin(client, reference_data):
    user = UserFactory(username="conny", groups=["Connectors"])
    client.force_login(user)
    return client


def test_only_the_connector_permission_opens_connectors(
    client, reference_data, sales_user, marketing_user
):
    for user in (sales_user, marketing_user):
        client.force_login(user)
        assert client.get("/admin/connectors/connector/").status_code == 403
        assert client.get("/admin/connectors/delivery/").status_code == 403
    assert Group.objects.filter(name="Connectors").exists()


def test_a_made_secret_is_shown_once_and_stored_encrypted(connector_admin):
    response = connector_admin.post(
        "/admin/connectors/connector/add/",
        {
            "kind": "woocommerce",
            "name": "Woo",
            "account": "https://shop.example/",
            "signing_secret": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    secret = re.search(r"secret of Woo is (\S+) \.", shown[0]).group(1)
    connector = Connector.objects.get()
    assert secret not in connector.secret  # encrypted at rest
    assert secrets.decrypt(connector.secret) == secret
    page = connector_admin.get(f"/admin/connectors/connector/{connector.pk}/change/")
    assert secret not in page.content.decode()  # never shown again
    assert f"ends in …{secret[-4:]}" in page.content.decode()
    assert f"/api/v1/hooks/woocommerce/{connector.key}/" in page.content.decode()


def test_a_pasted_secret_is_never_shown_back(connector_admin):
    connector_admin.post(
        "/admin/connectors/connector/add/",
        {
            "kind": "shopify",
            "name": "Shop",
            "account": "demo-shop.myshopify.com",
            "signing_secret": "shpss_pasted_secret_value_1234",
        },
    )
    connector = Connector.objects.get()
    page = connector_admin.get(
        f"/admin/connectors/connector/{connector.pk}/change/"
    ).content.decode()
    assert "shpss_pasted_secret_value_1234" not in page
    assert secrets.decrypt(connector.secret) == "shpss_pasted_secret_value_1234"
    # Saving the form with the secret left blank keeps it.
    connector_admin.post(
        f"/admin/connectors/connector/{connector.pk}/change/",
        {
            "name": "Shop renamed",
            "account": "demo-shop.myshopify.com",
            "active": "on",
            "signing_secret": "",
        },
    )
    connector.refresh_from_db()
    assert connector.name == "Shop renamed"
    assert secrets.decrypt(connector.secret) == "shpss_pasted_secret_value_1234"


def test_test_event_is_verified_processed_and_records_nothing(
    connector_admin, shopify, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = connector_admin.post(
            f"/admin/connectors/connector/{shopify.pk}/test/", follow=True
        )
    assert "signed and verified" in str(next(iter(response.context["messages"])))
    delivery = Delivery.objects.get()
    assert (delivery.test, delivery.status) == (True, "processed")
    assert delivery.result["test"] is True
    from leads.models import Contact, Purchase

    assert not Purchase.objects.exists() and not Contact.objects.exists()
    page = connector_admin.get(f"/admin/connectors/connector/{shopify.pk}/change/")
    assert page.context["original"].last_delivery_at == delivery.received_at


def test_errors_are_counted_and_a_failed_delivery_replays(
    connector_admin, client, shopify, django_capture_on_commit_callbacks
):
    euro = {**fixture("shopify_orders_create.json"), "currency": "EUR"}
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify, euro)
    listing = connector_admin.get("/admin/connectors/connector/").content.decode()
    assert '<td class="field-errors">1</td>' in listing
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    # The shop's currency fixed on our side is not possible; replay just runs it again.
    with django_capture_on_commit_callbacks(execute=True):
        connector_admin.post(
            "/admin/connectors/delivery/",
            {"action": "replay", "_selected_action": [delivery.pk]},
        )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 2)


def test_marketing_maps_a_kept_code(
    client, marketing_user, shopify, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_shopify(client, shopify, fixture("shopify_orders_create.json"))
    code = DiscountCode.objects.get()
    client.force_login(marketing_user)
    listing = client.get("/admin/connectors/discountcode/").content.decode()
    assert "SPRING10" in listing and '<td class="field-waiting">1</td>' in listing
    coupon = CouponFactory(code="SPRING-IG", campaign=CampaignFactory(name="Spring"))
    response = client.post(
        f"/admin/connectors/discountcode/{code.pk}/change/", {"coupon": coupon.pk}
    )
    assert response.status_code == 302
    from leads.models import Purchase

    assert Purchase.objects.get().coupon == coupon
    listing = client.get("/admin/connectors/discountcode/").content.decode()
    assert '<td class="field-waiting">0</td>' in listing
