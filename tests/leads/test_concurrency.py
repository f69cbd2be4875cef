"""Races on PostgreSQL (SQLite serialises writers, so these only mean something there)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from django.db import connection

from campaigns.errors import CouponRefused
from leads.models import Contact, Purchase, Touchpoint, Via
from leads.services import contact_create, purchase_record, touchpoint_record
from tests.factories import CampaignFactory, CouponFactory, channel

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def race(count: int, work: Callable[[int], object]) -> list[object]:
    """Run `work(i)` in `count` threads that start together; each result or exception."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_parallel_purchases_for_one_new_email_make_one_contact():
    results = race(
        5,
        lambda i: purchase_record(
            email="NEW@example.com" if i % 2 else "new@example.com",
            amount="10.00",
            occurred_at=T0 + dt.timedelta(minutes=i),
            external_id=f"order-{i}",
            via=Via.API,
        ),
    )
    assert all(isinstance(r, tuple) for r in results), results
    assert Contact.objects.count() == 1
    assert Purchase.objects.count() == 5
    contact = Contact.objects.get()
    assert contact.stage == "customer" and contact.became_customer_at == T0


def test_only_one_purchase_takes_the_last_redemption():
    coupon = CouponFactory(
        code="LAST1", campaign=CampaignFactory(channel=channel("pinterest")), max_redemptions=1
    )
    results = race(
        4,
        lambda i: purchase_record(
            email=f"buyer{i}@example.com",
            amount="10.00",
            coupon="last1",
            occurred_at=T0,
            via=Via.API,
        ),
    )
    won = [r for r in results if isinstance(r, tuple)]
    lost = [r for r in results if isinstance(r, CouponRefused)]
    assert len(won) == 1 and len(lost) == 3, results
    coupon.refresh_from_db()
    assert coupon.redemptions == 1
    assert Purchase.objects.count() == 1
    assert Contact.objects.count() == 1  # the losers' walk-ins were rolled back with them
    assert Touchpoint.objects.filter(kind="coupon").count() == 1


def test_the_same_order_twice_at_once_is_stored_once():
    results = race(
        2,
        lambda i: purchase_record(
            email="a@example.com",
            amount="10.00",
            occurred_at=T0,
            external_id="order-9",
            via=Via.API,
        ),
    )
    assert all(isinstance(r, tuple) for r in results), results
    assert {r[0].pk for r in results} == {Purchase.objects.get().pk}
    assert sorted(r[1] for r in results) == [False, True]


def test_the_same_touch_twice_at_once_is_stored_once():
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    results = race(
        3,
        lambda i: touchpoint_record(
            contact=contact, source="fb", kind="click", occurred_at=T0, external_id="touch-1"
        ),
    )
    assert all(isinstance(r, tuple) for r in results), results
    assert Touchpoint.objects.filter(external_id="touch-1").count() == 1
    assert sorted(r[1] for r in results) == [False, False, True]


def test_simultaneous_identical_contacts_answer_as_replays(superuser):
    # 20 copies of one form fill at once (an integration retrying on a timeout): one is
    # created, the 19 others are replays (200), none a conflict. Before, the copies that lost
    # the race on the unique email answered 409.
    from rest_framework.test import APIClient

    def post(i: int) -> int:
        client = APIClient()
        client.force_authenticate(superuser)
        body = {"email": "ada@example.com", "first_name": "Ada", "external_id": "form-1"}
        return client.post("/api/v1/contacts/", body, format="json").status_code

    for round_ in range(3):
        Contact.objects.all().delete()
        codes = race(20, post)
        assert sorted(codes) == [200] * 19 + [201], (round_, codes)
        assert Contact.objects.count() == 1
