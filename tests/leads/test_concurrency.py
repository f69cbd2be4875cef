"""Races on PostgreSQL (SQLite serialises writers, so these only mean something there)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from unittest import mock

import pytest
from django.db import connection
from django.db.models.functions import Lower

from campaigns.errors import CouponRefused, DomainError
from leads import services
from leads.models import Contact, ContactEmail, Purchase, Refund, Touchpoint, Via
from leads.services import contact_create, contact_merge, purchase_record, touchpoint_record
from tests.factories import CampaignFactory, CouponFactory, channel

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    # The channels and groups back when an earlier transactional test's flush took them.
    pytest.mark.usefixtures("reference_data"),
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


def stored(email: str) -> int:
    """How many times an email is stored, primary and secondary, in any case."""
    key = email.lower()
    return (
        Contact.objects.annotate(e=Lower("email")).filter(e=key).count()
        + ContactEmail.objects.annotate(e=Lower("email")).filter(e=key).count()
    )


def in_thread(work: Callable[[], object], results: dict, name: str) -> threading.Thread:
    def run() -> None:
        try:
            results[name] = work()
        except Exception as exc:
            results[name] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_create_waits_for_a_merge_moving_the_same_email():
    """The merge moves Leo's email to the survivor (here as a secondary email) while a create
    of that email runs: the create waits on the email's lock until the merge commits, then
    finds the email taken. The email ends up stored once."""
    keep = contact_create(email="leo@example.com", first_name="Leo", entered_at=T0, via=Via.API)
    other = contact_create(email="Leo.H@example.com", first_name="Leo", entered_at=T0, via=Via.API)
    moved, release = threading.Event(), threading.Event()
    keep_points = services._keep_contact_points

    def pause_after_the_move(*args, **kwargs):
        keep_points(*args, **kwargs)
        moved.set()  # the email is now the survivor's, uncommitted
        release.wait(timeout=20)

    results: dict[str, object] = {}
    with mock.patch.object(services, "_keep_contact_points", pause_after_the_move):
        merging = in_thread(
            lambda: contact_merge(survivor=keep, other=other, by=None, via=Via.ADMIN),
            results,
            "merge",
        )
        assert moved.wait(timeout=20)
        creating = in_thread(
            lambda: contact_create(email="leo.h@EXAMPLE.com", entered_at=T0, via=Via.API),
            results,
            "create",
        )
        time.sleep(0.5)
        assert "create" not in results  # waiting for the merge's lock on the email
        release.set()
        merging.join(timeout=30)
        creating.join(timeout=30)
    assert isinstance(results["merge"], Contact), results
    assert isinstance(results["create"], DomainError), results
    assert "already" in results["create"].message.lower()
    assert stored("leo.h@example.com") == 1
    assert list(keep.other_emails.values_list("email", flat=True)) == ["Leo.H@example.com"]


def test_a_merge_waits_for_a_create_of_the_same_email():
    """The other way round: a create holds the email's lock (uncommitted) when the merge of a
    contact with that email starts. One of them stores it; never both."""
    keep = contact_create(email="ada@example.com", entered_at=T0, via=Via.API)
    other = contact_create(email="ada.l@example.com", entered_at=T0, via=Via.API)
    checked, release = threading.Event(), threading.Event()
    by_email = services.contact_by_email

    def pause_after_the_check(email, **kwargs):
        found = by_email(email, **kwargs)
        if email.lower() == "ada.l@example.com":
            checked.set()
            release.wait(timeout=20)
        return found

    results: dict[str, object] = {}
    with mock.patch.object(services, "contact_by_email", pause_after_the_check):
        creating = in_thread(
            lambda: contact_create(email="ADA.L@example.com", entered_at=T0, via=Via.API),
            results,
            "create",
        )
        assert checked.wait(timeout=20)
        merging = in_thread(
            lambda: contact_merge(survivor=keep, other=other, by=None, via=Via.ADMIN),
            results,
            "merge",
        )
        time.sleep(0.5)
        assert "merge" not in results  # waiting for the create's lock on the email
        release.set()
        creating.join(timeout=30)
        merging.join(timeout=30)
    assert isinstance(results["create"], DomainError), results  # the other still had it
    assert isinstance(results["merge"], Contact), results
    assert stored("ada.l@example.com") == 1


def test_a_batch_looks_again_at_its_emails_once_it_holds_their_locks(superuser):
    """The batch door looks its emails up when the phase starts, before any lock. Here, after
    that look-up, another contact is given one of the batch's emails and merged into Omar, who
    keeps it as a secondary email: the lookup saw it nowhere, and no unique index spans the two
    tables. Locking the emails and looking again sends the phase to the per-event door: that
    event is refused, the others are created, and the email is stored once."""
    from rest_framework.test import APIClient

    from leads import events
    from leads.services import contact_update

    keep = contact_create(email="omar@example.com", entered_at=T0, via=Via.API)
    other = contact_create(email="omar.other@example.com", entered_at=T0, via=Via.API)
    looked_up, release = threading.Event(), threading.Event()

    class PausedRefs(events.BatchRefs):
        def __init__(self, payloads) -> None:
            super().__init__(payloads)
            looked_up.set()
            release.wait(timeout=20)

    def contact(i: int, email: str) -> dict:
        return {"type": "contact", "external_id": f"c-{i}", "email": email, "source": "fb"}

    def post() -> dict:
        client = APIClient()
        client.force_authenticate(superuser)
        batch = [contact(0, "new0@example.com"), contact(1, "OMAR.L@example.com")]
        batch.append(contact(2, "new2@example.com"))
        return client.post("/api/v1/events/", {"events": batch}, format="json").json()

    results: dict[str, object] = {}
    with mock.patch.object(events, "BatchRefs", PausedRefs):
        posting = in_thread(post, results, "batch")
        assert looked_up.wait(timeout=20)
        contact_update(contact=other, email="omar.l@example.com")
        contact_merge(survivor=keep, other=other, by=None, via=Via.ADMIN)
        release.set()
        posting.join(timeout=30)
    body = results["batch"]
    assert isinstance(body, dict), results
    assert [r["code"] for r in body["results"]] == [201, 409, 201], body
    assert stored("omar.l@example.com") == 1
    assert list(keep.other_emails.values_list("email", flat=True)) == ["omar.l@example.com"]


def test_two_refunds_at_once_cannot_refund_more_than_was_paid():
    purchase, _ = purchase_record(email="a@example.com", amount="100.00", occurred_at=T0, via="api")
    check = services.rules.check_refundable

    def slow_check(*args, **kwargs) -> None:
        # Both would pass the check on what is stored, were they not one at a time: the
        # purchase's row lock makes the second read the first's refund before it checks.
        check(*args, **kwargs)
        time.sleep(0.3)

    with mock.patch.object(services.rules, "check_refundable", side_effect=slow_check):
        results = race(
            2,
            lambda i: services.refund_record(
                purchase=purchase, amount="60.00", occurred_at=T0, via=Via.API
            ),
        )
    won = [r for r in results if isinstance(r, tuple)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0].field == "amount" and "at most 40.00 can be refunded" in lost[0].message
    assert Refund.objects.filter(purchase=purchase).count() == 1


def test_the_same_refund_twice_at_once_is_stored_once():
    purchase, _ = purchase_record(email="a@example.com", amount="100.00", occurred_at=T0, via="api")
    results = race(
        3,
        lambda i: services.refund_record(
            purchase=purchase, amount="60.00", occurred_at=T0, external_id="refund-1", via="api"
        ),
    )
    assert all(isinstance(r, tuple) for r in results), results
    assert {r[0].pk for r in results} == {Refund.objects.get().pk}
    assert sorted(r[1] for r in results) == [False, False, True]
