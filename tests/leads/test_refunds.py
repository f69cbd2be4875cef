"""Refunds (SPEC §10): the rules of `refund_record` and `refund_delete`, whatever the door."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.changes import data_changed
from campaigns.errors import IdempotencyConflict, InvalidInput
from leads.models import Purchase, Refund, Stage, Via
from leads.selectors import contact_timeline
from leads.services import (
    contact_erase,
    contact_merge,
    purchase_delete,
    purchase_record,
    refund_delete,
    refund_record,
)
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
PAID = dt.datetime(2026, 3, 10, 15, 30, tzinfo=UTC)


@pytest.fixture
def purchase() -> Purchase:
    bought, _ = purchase_record(
        email="ada@example.com", amount="80.00", occurred_at=PAID, external_id="o-1", via=Via.API
    )
    return bought


@contextmanager
def declared() -> Iterator[list]:
    """The moments the writes inside declare changed."""
    seen: list = []

    def capture(sender, *, moments: tuple, catalogue: bool, **kwargs) -> None:
        seen.extend(moments)

    data_changed.connect(capture, dispatch_uid="test-refunds")
    try:
        yield seen
    finally:
        data_changed.disconnect(dispatch_uid="test-refunds")


def test_a_refund_is_recorded_with_who_and_how_and_the_contact_stays_a_customer(
    purchase, sales_user
):
    refund, created = refund_record(
        purchase=purchase,
        amount="30.00",
        occurred_at=PAID + dt.timedelta(days=2),
        external_id="r-1",
        note="one item back",
        by=sales_user,
        via=Via.ADMIN,
    )
    assert created
    refund.refresh_from_db()
    assert (refund.purchase_id, refund.amount) == (purchase.pk, Decimal("30.00"))
    assert (refund.recorded_by, refund.via, refund.note) == (sales_user, "admin", "one item back")
    # The purchase itself is untouched, and the contact stays a customer (no stage change).
    purchase.refresh_from_db()
    assert purchase.amount == Decimal("80.00")
    contact = purchase.contact
    contact.refresh_from_db()
    assert contact.stage == Stage.CUSTOMER and contact.became_customer_at == PAID
    assert contact.stage_changes.count() == 1  # its entry as a customer, nothing since


def test_a_refund_declares_its_purchases_day(purchase):
    with declared() as moments:
        refund, _ = refund_record(
            purchase=purchase, amount="10.00", occurred_at=PAID + dt.timedelta(days=40), via="api"
        )
    # The purchase's moment only: a refund is late data for the day its purchase is credited on.
    assert moments == [PAID]
    with declared() as moments:
        refund_delete(refund=refund)
    assert moments == [PAID]
    assert not Refund.objects.exists()
    with declared() as moments:
        refund_delete(refund=refund)  # already gone: nothing to declare
    assert moments == []


def test_refunds_may_add_up_to_the_amount_and_no_further(purchase):
    refund_record(purchase=purchase, amount="50.00", via=Via.API)
    refund_record(purchase=purchase, amount="29.99", via=Via.API)
    with pytest.raises(InvalidInput) as refused:
        refund_record(purchase=purchase, amount="0.02", via=Via.API)
    assert refused.value.field == "amount"
    assert refused.value.message == (
        f"A refund of 0.02 is too much: at most 0.01 can be refunded on purchase #{purchase.pk}: "
        "80.00 paid, 79.99 already refunded."
    )
    refund_record(purchase=purchase, amount="0.01", via=Via.API)  # exactly the rest: fully refunded
    with pytest.raises(InvalidInput, match="is already fully refunded"):
        refund_record(purchase=purchase, amount="0.01", via=Via.API)
    assert Refund.objects.filter(purchase=purchase).count() == 3


def test_one_refund_larger_than_the_purchase_is_refused(purchase):
    with pytest.raises(InvalidInput, match=r"at most 80\.00 can be refunded"):
        refund_record(purchase=purchase, amount="80.01", via=Via.API)
    assert not Refund.objects.exists()


@pytest.mark.parametrize(
    "amount,message",
    [
        ("0", "Must be greater than zero."),
        ("-5.00", "Must be greater than zero."),
        ("1.005", "Must have at most two decimal places."),
        ("abc", None),
        ("NaN", None),
    ],
)
def test_bad_amounts_are_refused_at_the_amount(purchase, amount, message):
    with pytest.raises(InvalidInput) as refused:
        refund_record(purchase=purchase, amount=amount, via=Via.API)
    assert refused.value.field == "amount"
    if message:
        assert refused.value.message == message
    assert not Refund.objects.exists()


def test_a_refund_before_its_purchase_is_refused(purchase):
    with pytest.raises(InvalidInput) as refused:
        refund_record(
            purchase=purchase, amount="5.00", occurred_at=PAID - dt.timedelta(seconds=1), via="api"
        )
    assert refused.value.field == "occurred_at"
    assert refused.value.message == (
        "A refund cannot come before its purchase (2026-03-10 15:30 UTC)."
    )
    # At the purchase's very instant is fine.
    refund_record(purchase=purchase, amount="5.00", occurred_at=PAID, via=Via.API)


def test_a_refund_in_the_future_or_without_a_time_zone_is_refused(purchase):
    with pytest.raises(InvalidInput, match="Must not be in the future"):
        refund_record(
            purchase=purchase,
            amount="5.00",
            occurred_at=timezone.now() + dt.timedelta(minutes=5),
            via=Via.API,
        )
    with pytest.raises(InvalidInput, match="Must include a time zone"):
        refund_record(
            purchase=purchase, amount="5.00", occurred_at=dt.datetime(2026, 3, 12), via=Via.API
        )
    assert not Refund.objects.exists()


def test_without_a_time_a_refund_is_now(purchase):
    before = timezone.now()
    refund, _ = refund_record(purchase=purchase, amount="5.00", via=Via.API)
    assert before <= refund.occurred_at <= timezone.now()


def test_replaying_an_external_id_changes_nothing_and_other_content_is_a_conflict(purchase):
    when = PAID + dt.timedelta(days=1)
    first, created = refund_record(
        purchase=purchase, amount="20.00", occurred_at=when, external_id="r-9", via=Via.API
    )
    assert created
    with declared() as moments:
        again, created = refund_record(
            purchase=purchase, amount="20.00", occurred_at=when, external_id="r-9", via=Via.API
        )
    assert (again.pk, created, moments) == (first.pk, False, [])
    # A retry without a time keeps the stored time.
    again, created = refund_record(
        purchase=purchase, amount="20.00", external_id="r-9", via=Via.API
    )
    assert (again.pk, created) == (first.pk, False)
    with pytest.raises(IdempotencyConflict) as conflict:
        refund_record(
            purchase=purchase, amount="25.00", occurred_at=when, external_id="r-9", via=Via.API
        )
    assert conflict.value.status_code == 409
    assert conflict.value.message == "external_id 'r-9' was already used with different amount."
    other, _ = purchase_record(
        email="bob@example.com", amount="20.00", occurred_at=PAID, via=Via.API
    )
    with pytest.raises(IdempotencyConflict, match="different occurred_at, purchase"):
        refund_record(
            purchase=other, amount="20.00", occurred_at=PAID, external_id="r-9", via=Via.API
        )
    assert Refund.objects.count() == 1


def test_a_replay_is_answered_even_when_the_purchase_is_now_fully_refunded(purchase):
    # The shop retries a refund of the whole order: the stored one answers, not "too much".
    first, _ = refund_record(purchase=purchase, amount="80.00", external_id="r-all", via="api")
    again, created = refund_record(
        purchase=purchase, amount="80.00", external_id="r-all", via="api"
    )
    assert (again.pk, created) == (first.pk, False)


def test_deleting_a_purchase_deletes_its_refunds_and_declares_its_day(purchase):
    refund_record(purchase=purchase, amount="10.00", via=Via.API)
    refund_record(purchase=purchase, amount="5.00", via=Via.API)
    with declared() as moments:
        purchase_delete(purchase=purchase)
    assert not Purchase.objects.filter(pk=purchase.pk).exists()
    assert not Refund.objects.exists()
    assert PAID in moments


def test_a_merge_keeps_the_refunds_with_their_purchase(purchase):
    other = ContactFactory(email="ada.other@example.com")
    refund, _ = refund_record(purchase=purchase, amount="10.00", via=Via.API)
    kept = contact_merge(survivor=other, other=purchase.contact, by=None, via=Via.ADMIN)
    refund.refresh_from_db()
    assert refund.purchase.contact_id == kept.pk


def test_an_erasure_blanks_the_refunds_notes_and_keeps_their_amounts(purchase):
    refund_record(purchase=purchase, amount="10.00", note="Ada called, 555-0100", via=Via.API)
    contact_erase(contact=purchase.contact, by=None, via=Via.ADMIN)
    refund = Refund.objects.get()
    assert (refund.note, refund.amount) == ("", Decimal("10.00"))


def test_the_database_refuses_a_refund_of_nothing(purchase):
    with pytest.raises(IntegrityError), transaction.atomic():
        Refund.objects.create(purchase=purchase, amount=Decimal("0.00"), occurred_at=PAID)


def test_the_contacts_timeline_shows_the_refund(purchase, sales_user):
    refund_record(
        purchase=purchase,
        amount="30.00",
        occurred_at=PAID + dt.timedelta(days=2),
        external_id="r-1",
        note="one item back",
        by=sales_user,
        via=Via.ADMIN,
    )
    entries = contact_timeline(purchase.contact).entries
    assert (entries[0].kind, entries[0].text, entries[0].detail) == (
        "refund",
        "Refund 30.00 USD of the purchase of 80.00 USD on 2026-03-10",
        "by sally, through the admin; refund r-1; note: one item back",
    )
