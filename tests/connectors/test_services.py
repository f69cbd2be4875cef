"""The delivery log's machinery: claimed once, swept when its task was lost, purged after 30
days; secrets encrypted under the secret key and read again after it rolls over."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from connectors import secrets
from connectors.models import Delivery
from connectors.providers import Incoming
from connectors.services import (
    connector_secret,
    deliveries_purge,
    deliveries_sweep,
    delivery_process,
    delivery_receive,
)
from tests.connectors.conftest import SHOPIFY_SECRET, fixture

pytestmark = pytest.mark.django_db


def _receive(connector, delivery_id: str = "d1") -> Delivery:
    import json

    body = json.dumps(fixture("shopify_orders_create.json")).encode()
    delivery, _ = delivery_receive(
        connector=connector,
        incoming=Incoming(topic="orders/create", delivery_id=delivery_id),
        body=body,
        content_type="application/json",
    )
    return delivery


def test_a_delivery_is_processed_once(shopify):
    delivery = _receive(shopify)  # its task is never run: on_commit does not fire here
    assert delivery_process(delivery_id=delivery.pk).status == "processed"
    assert delivery_process(delivery_id=delivery.pk) is None  # claimed and done already
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_sweep_queues_lost_deliveries_again(shopify, django_capture_on_commit_callbacks):
    _receive(shopify, "fresh")
    lost = _receive(shopify, "lost")
    stuck = _receive(shopify, "stuck")
    old = timezone.now() - dt.timedelta(minutes=30)
    Delivery.objects.filter(pk__in=[lost.pk, stuck.pk]).update(received_at=old)
    Delivery.objects.filter(pk=stuck.pk).update(status="processing", claimed_at=old)
    # Taken a moment ago, though it arrived long since (a replay): its worker is on it.
    held = _receive(shopify, "held")
    Delivery.objects.filter(pk=held.pk).update(
        received_at=old, status="processing", claimed_at=timezone.now()
    )
    assert deliveries_sweep() == 2  # the lost one and the stuck one; the fresh one waits
    statuses = dict(Delivery.objects.values_list("delivery_id", "status"))
    # The task ran eagerly (no broker in tests): the first processed the order, the second
    # found it recorded already (the same order id).
    assert statuses["fresh"] == "received"
    assert statuses["held"] == "processing"
    assert {statuses["lost"], statuses["stuck"]} == {"processed"}


def test_purge_keeps_thirty_days(shopify):
    kept = _receive(shopify, "kept")
    gone = _receive(shopify, "gone")
    Delivery.objects.filter(pk=gone.pk).update(received_at=timezone.now() - dt.timedelta(days=31))
    Delivery.objects.filter(pk=kept.pk).update(received_at=timezone.now() - dt.timedelta(days=29))
    assert deliveries_purge() == 1
    assert list(Delivery.objects.values_list("delivery_id", flat=True)) == ["kept"]


def test_secrets_survive_a_secret_key_roll_over(shopify):
    token = shopify.secret
    assert SHOPIFY_SECRET not in token
    with override_settings(SECRET_KEY="a-new-key", SECRET_KEY_FALLBACKS=["old"]):
        assert secrets.decrypt(token) == ""  # the old key is not a fallback: unreadable
    from django.conf import settings

    old = settings.SECRET_KEY
    with override_settings(SECRET_KEY="a-new-key", SECRET_KEY_FALLBACKS=[old]):
        assert secrets.stale(token)
        assert connector_secret(shopify) == SHOPIFY_SECRET  # read with the fallback...
        shopify.refresh_from_db()
        assert not secrets.stale(shopify.secret)  # ...and stored again under the new key
        assert secrets.decrypt(shopify.secret) == SHOPIFY_SECRET


def test_constant_time_comparison_refuses_empty_values():
    assert not secrets.same(None, "x")
    assert not secrets.same("", "")
    assert secrets.same(" abc ", "abc")
