"""Purchases: customers at their first purchase, walk-ins, coupons, idempotency."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.errors import CouponRefused, IdempotencyConflict, InvalidInput
from campaigns.models import Coupon
from leads.models import Contact, Purchase, Stage, StageChange, Touchpoint, Via
from leads.services import contact_create, purchase_record
from tests.factories import CampaignFactory, CouponFactory, channel

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def pins():
    campaign = CampaignFactory(name="Spring pins", channel=channel("pinterest"))
    return CouponFactory(code="PIN10", campaign=campaign)


def test_first_purchase_makes_a_customer_at_its_time():
    contact = contact_create(email="a@example.com", entered_at=T0, source="facebook", via=Via.API)
    at = T0 + dt.timedelta(days=5)
    purchase, created = purchase_record(
        contact=contact, amount="40.00", occurred_at=at, via=Via.API
    )
    assert created and purchase.amount == Decimal("40.00")
    contact.refresh_from_db()
    assert contact.stage == Stage.CUSTOMER
    assert contact.became_lead_at == contact.became_qualified_at == contact.became_customer_at == at
    move = StageChange.objects.filter(contact=contact).last()
    assert (move.from_stage, move.to_stage, move.via) == ("follower", "customer", "api")


def test_the_earliest_purchase_wins_even_when_recorded_later():
    contact = contact_create(email="a@example.com", entered_at=T0, source="facebook", via=Via.API)
    purchase_record(
        contact=contact, amount="40.00", occurred_at=T0 + dt.timedelta(days=10), via=Via.API
    )
    earlier = T0 + dt.timedelta(days=2)
    purchase_record(contact=contact, amount="15.00", occurred_at=earlier, via=Via.IMPORT)
    contact.refresh_from_db()
    assert contact.became_customer_at == earlier
    assert contact.became_lead_at == earlier  # pulled back with it: the funnel stays monotone
    # Only one move to customer in the history.
    assert StageChange.objects.filter(contact=contact, to_stage="customer").count() == 1


def test_unknown_email_makes_a_walk_in_sourced_from_the_coupon(pins):
    purchase, _ = purchase_record(
        email="New@Example.com", amount="30.00", coupon="pin10", occurred_at=T0, via=Via.API
    )
    contact = purchase.contact
    assert contact.email == "New@Example.com"
    assert (
        contact.stage == Stage.CUSTOMER and contact.entered_at == T0 == contact.became_customer_at
    )
    assert contact.source_channel.slug == "pinterest"
    assert contact.source_campaign == pins.campaign
    assert contact.coupon == pins
    # The coupon touch is its first (and only) touch.
    touches = list(
        Touchpoint.objects.filter(contact=contact).values_list("kind", "campaign", "occurred_at")
    )
    assert touches == [("coupon", pins.campaign_id, T0)]
    assert list(
        StageChange.objects.filter(contact=contact).values_list("from_stage", "to_stage")
    ) == [("", "customer")]


def test_walk_in_without_coupon_has_an_unknown_source_and_no_touch():
    purchase, _ = purchase_record(
        email="cash@example.com", amount="12.00", occurred_at=T0, via=Via.API
    )
    assert purchase.contact.source_channel is None
    assert not Touchpoint.objects.filter(contact=purchase.contact).exists()


def test_a_known_email_in_another_case_finds_the_contact():
    contact = contact_create(email="Ada@Example.com", entered_at=T0, via=Via.API)
    purchase, _ = purchase_record(
        email="ada@EXAMPLE.com", amount="10.00", occurred_at=T0, via=Via.API
    )
    assert purchase.contact_id == contact.pk
    assert Contact.objects.count() == 1


def test_coupon_code_is_case_insensitive_and_records_a_coupon_touch(pins):
    contact = contact_create(email="a@example.com", entered_at=T0, source="x", via=Via.API)
    at = T0 + dt.timedelta(hours=3)
    purchase, _ = purchase_record(
        contact=contact,
        amount="27.00",
        discount="3.00",
        coupon="pIn10",
        occurred_at=at,
        via=Via.API,
    )
    assert purchase.coupon == pins and purchase.discount == Decimal("3.00")
    touch = Touchpoint.objects.get(contact=contact, kind="coupon")
    assert (touch.campaign, touch.channel.slug, touch.occurred_at) == (
        pins.campaign,
        "pinterest",
        at,
    )
    assert touch.metadata == {"purchase_id": purchase.pk}
    pins.refresh_from_db()
    assert pins.redemptions == 1
    contact.refresh_from_db()
    assert contact.coupon == pins  # the untagged contact is tagged with it


@pytest.mark.parametrize(
    "change,message",
    [
        ({"active": False}, "not active"),
        ({"valid_from": T0 + dt.timedelta(days=1)}, "valid only from"),
        ({"valid_until": T0 - dt.timedelta(days=1)}, "expired"),
        ({"max_redemptions": 1, "redemptions": 1}, "maximum number"),
    ],
)
def test_refused_coupons_write_nothing(pins, change, message):
    Coupon.objects.filter(pk=pins.pk).update(**change)
    before = Coupon.objects.get(pk=pins.pk).redemptions
    with pytest.raises(CouponRefused, match=message):
        purchase_record(
            email="new@example.com", amount="30.00", coupon="PIN10", occurred_at=T0, via=Via.API
        )
    assert not Contact.objects.exists()
    assert not Purchase.objects.exists()
    assert not Touchpoint.objects.exists()
    assert Coupon.objects.get(pk=pins.pk).redemptions == before


def test_unknown_coupon_is_invalid_input():
    with pytest.raises(InvalidInput) as error:
        purchase_record(
            email="a@example.com", amount="1.00", coupon="NOPE", occurred_at=T0, via=Via.API
        )
    assert error.value.field == "coupon"


def test_replaying_an_external_id_changes_nothing(pins):
    first, created = purchase_record(
        email="a@example.com",
        amount="30.00",
        coupon="PIN10",
        occurred_at=T0,
        external_id="order-1",
        via=Via.API,
    )
    again, created_again = purchase_record(
        email="A@example.com",
        amount="30.00",
        coupon="pin10",
        occurred_at=T0,
        external_id="order-1",
        via=Via.API,
    )
    assert created and not created_again and again.pk == first.pk
    assert Purchase.objects.count() == 1
    assert Touchpoint.objects.count() == 1
    assert Coupon.objects.get(pk=pins.pk).redemptions == 1


def test_an_external_id_with_other_content_is_a_conflict():
    purchase_record(
        email="a@example.com", amount="30.00", occurred_at=T0, external_id="order-1", via=Via.API
    )
    with pytest.raises(IdempotencyConflict, match="amount"):
        purchase_record(
            email="a@example.com",
            amount="31.00",
            occurred_at=T0,
            external_id="order-1",
            via=Via.API,
        )
    assert Purchase.objects.count() == 1


@pytest.mark.parametrize(
    "amount,discount,field",
    [
        ("0", "0", "amount"),
        ("-5.00", "0", "amount"),
        ("1.005", "0", "amount"),
        ("abc", "0", "amount"),
        ("NaN", "0", "amount"),
        ("10.00", "-1.00", "discount"),
        ("1e20", "0", "amount"),
    ],
)
def test_bad_amounts_are_invalid_input(amount, discount, field):
    with pytest.raises(InvalidInput) as error:
        purchase_record(
            email="a@example.com", amount=amount, discount=discount, occurred_at=T0, via=Via.API
        )
    assert error.value.field == field
    assert not Contact.objects.exists()


def test_a_purchase_needs_a_contact_or_an_email():
    with pytest.raises(InvalidInput) as error:
        purchase_record(amount="1.00", occurred_at=T0, via=Via.API)
    assert error.value.field == "contact"


def test_a_retry_without_a_time_keeps_the_stored_time(monkeypatch):
    # Sent without occurred_at, the order is dated when recorded; its retry an hour later,
    # again without a time, is the same order (the default "now" is not compared).
    from django.utils import timezone

    first, _ = purchase_record(
        email="a@example.com", amount="30.00", external_id="order-1", via=Via.API
    )
    later = first.occurred_at + dt.timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    again, created = purchase_record(
        email="a@example.com", amount="30.00", external_id="order-1", via=Via.API
    )
    assert not created and again.pk == first.pk
    with pytest.raises(IdempotencyConflict, match="occurred_at"):
        purchase_record(
            email="a@example.com",
            amount="30.00",
            occurred_at=later,
            external_id="order-1",
            via=Via.API,
        )
