"""A real Celery worker on Redis processes shop deliveries: the webhook answers once the
delivery is recorded, and the worker writes the purchase afterwards.

Runs in the PostgreSQL pass of bin/test (REDIS_URL set); committed rows are needed, since the
worker runs in its own thread with its own database connection.
"""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery_app import app
from connectors.models import Delivery
from leads.models import Purchase
from tests.connectors.conftest import fixture, post_shopify

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def real_worker():
    app.conf.task_always_eager = False
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"
        ):
            yield
    finally:
        app.conf.task_always_eager = True


def _wait(check, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not check():
        time.sleep(0.2)


def test_a_worker_processes_an_order_and_then_its_early_refund(client, shopify, real_worker):
    # The refund first (out of order): it waits for its order.
    refund = post_shopify(
        client,
        shopify,
        fixture("shopify_refunds_create.json"),
        topic="refunds/create",
        webhook_id="refund-1",
    )
    assert refund.status_code == 200
    _wait(lambda: Delivery.objects.filter(status="waiting").exists())
    assert Delivery.objects.get().status == "waiting"
    order = post_shopify(client, shopify, fixture("shopify_orders_create.json"), webhook_id="o-1")
    assert order.status_code == 200
    _wait(lambda: Delivery.objects.filter(status="processed").count() == 2)
    assert sorted(Delivery.objects.values_list("delivery_id", "status")) == [
        ("o-1", "processed"),
        ("refund-1", "processed"),
    ]
    purchase = Purchase.objects.get()
    assert str(purchase.amount) == "90.00"
    assert [str(r.amount) for r in purchase.refunds.all()] == ["45.00"]
