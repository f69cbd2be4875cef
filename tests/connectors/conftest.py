"""Connectors set up with known secrets, and deliveries signed as each provider signs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connectors import secrets
from connectors.models import Connector
from connectors.services import connector_create

FIXTURES = Path(__file__).parent / "fixtures"
SHOPIFY_SECRET = "shpss_0123456789abcdef0123456789abcdef"
SHOP = "demo-shop.myshopify.com"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def shopify(reference_data) -> Connector:
    connector, _ = connector_create(
        kind=Connector.Kind.SHOPIFY, name="Demo shop", account=SHOP, secret=SHOPIFY_SECRET
    )
    return connector


@pytest.fixture
def woocommerce(reference_data) -> tuple[Connector, str]:
    connector, secret = connector_create(
        kind=Connector.Kind.WOOCOMMERCE, name="Woo store", account="https://shop.example/"
    )
    return connector, secret


def url(connector: Connector) -> str:
    return f"/api/v1/hooks/{connector.kind}/{connector.key}/"


def post_shopify(
    client,
    connector: Connector,
    payload: dict[str, Any] | bytes,
    *,
    topic: str = "orders/create",
    webhook_id: str = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    secret: str | None = SHOPIFY_SECRET,
    shop: str = SHOP,
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Triggered-At": "2026-03-10T19:05:01.000Z",
        "X-Shopify-API-Version": "2025-10",
    }
    if secret is not None:
        headers["X-Shopify-Hmac-Sha256"] = secrets.hmac_base64(secret, body)
    return client.post(url(connector), data=body, content_type="application/json", headers=headers)


def post_woocommerce(
    client,
    connector: Connector,
    payload: dict[str, Any] | bytes,
    *,
    secret: str | None,
    topic: str = "order.created",
    delivery_id: str = "5f0c9d2a6a1b4",
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[-1],
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": delivery_id,
    }
    if secret is not None:
        headers["X-WC-Webhook-Signature"] = secrets.hmac_base64(secret, body)
    return client.post(url(connector), data=body, content_type="application/json", headers=headers)
