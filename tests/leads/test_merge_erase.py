"""Merge two records of one person; erase a person's data while keeping the figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum

from campaigns.errors import InvalidInput
from leads.models import Contact, ContactMerge, Purchase, StageChange, Touchpoint, Via
from leads.services import (
    contact_create,
    contact_erase,
    contact_merge,
    contact_move_stage,
    purchase_record,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_merge_moves_everything_and_keeps_the_earliest_stamps(sales_user):
    # The handle-only record came first (a follow on 1 March, lead on 3 March); the email record
    # bought on 10 March. Merged: follower entry of the first, customer stamp of the second.
    social = contact_create(
        handle="@ada", first_name="Ada", source="instagram", entered_at=T0, via=Via.API
    )
    contact_move_stage(contact=social, stage="lead", at=T0 + dt.timedelta(days=2), via=Via.API)
    shop = contact_create(
        email="ada@example.com",
        last_name="Lovelace",
        source="pinterest",
        entered_at=T0 + dt.timedelta(days=9),
        via=Via.API,
    )
    purchase_record(
        contact=shop, amount="50.00", occurred_at=T0 + dt.timedelta(days=9), via=Via.API
    )

    kept = contact_merge(survivor=shop, other=social, by=sales_user, via=Via.ADMIN)

    assert not Contact.objects.filter(pk=social.pk).exists()
    assert (kept.email, kept.handle, kept.first_name, kept.last_name) == (
        "ada@example.com",
        "@ada",
        "Ada",
        "Lovelace",
    )
    assert kept.stage == "customer"
    assert kept.entered_at == T0  # earliest wins
    assert kept.became_lead_at == T0 + dt.timedelta(days=2)
    assert kept.became_customer_at == T0 + dt.timedelta(days=9)
    assert kept.source_channel.slug == "instagram"  # whoever entered first
    assert Touchpoint.objects.filter(contact=kept).count() == 2
    assert Purchase.objects.filter(contact=kept).count() == 1
    assert StageChange.objects.filter(contact=kept).count() == 4  # both entries, lead, customer
    merge = ContactMerge.objects.get(survivor=kept)
    assert (merge.merged_contact_id, merge.merged_by, merge.merged_fields["handle"]) == (
        social.pk,
        sales_user,
        "@ada",
    )


def test_merge_keeps_a_known_source_when_the_earlier_record_has_none(sales_user):
    # The record typed in by hand on 1 March has no source; the LinkedIn lead of 5 March has
    # one. The earlier entry wins the entry stamp, but not the source: a blank is not a source.
    typed = contact_create(first_name="Ada", entered_at=T0, via=Via.ADMIN)
    linked = contact_create(
        email="ada@example.com",
        source="linkedin",
        entered_at=T0 + dt.timedelta(days=4),
        via=Via.API,
    )
    assert typed.source_channel_id is None

    kept = contact_merge(survivor=linked, other=typed, by=sales_user, via=Via.ADMIN)

    assert kept.entered_at == T0
    assert kept.source_channel.slug == "linkedin"
    # And the other way round: the sourced record merged into the blank one.
    blank = contact_create(first_name="Bo", entered_at=T0, via=Via.ADMIN)
    sourced = contact_create(
        email="bo@example.com", source="facebook", entered_at=T0 + dt.timedelta(days=1), via=Via.API
    )
    kept = contact_merge(survivor=blank, other=sourced, by=sales_user, via=Via.ADMIN)
    assert kept.source_channel.slug == "facebook"


def test_merge_records_a_stage_move_when_the_survivor_moves_forward(sales_user):
    survivor = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    other = contact_create(
        handle="@a", stage="qualified", entered_at=T0 + dt.timedelta(days=1), via=Via.API
    )
    kept = contact_merge(survivor=survivor, other=other, by=sales_user, via=Via.ADMIN)
    assert kept.stage == "qualified"
    move = StageChange.objects.filter(contact=kept).order_by("-id").first()
    assert (move.from_stage, move.to_stage, move.changed_by, move.via) == (
        "follower",
        "qualified",
        sales_user,
        "admin",
    )


def test_survivor_takes_over_the_email_of_the_merged_contact():
    survivor = contact_create(handle="@b", entered_at=T0, via=Via.API)
    other = contact_create(email="B@example.com", entered_at=T0, via=Via.API)
    kept = contact_merge(survivor=survivor, other=other, by=None, via=Via.API)
    assert kept.email == "B@example.com"


def test_a_contact_cannot_be_merged_into_itself():
    contact = contact_create(email="a@example.com", via=Via.API)
    with pytest.raises(InvalidInput):
        contact_merge(survivor=contact, other=contact, by=None, via=Via.API)


def test_erase_blanks_personal_data_and_keeps_the_figures(sales_user):
    contact = contact_create(
        email="eve@example.com",
        first_name="Eve",
        last_name="Doe",
        phone="+15550001",
        handle="@eve",
        company="Acme",
        notes="Likes blue",
        source="facebook",
        entered_at=T0,
        external_id="crm-7",
        via=Via.API,
    )
    purchase_record(
        contact=contact,
        amount="80.00",
        occurred_at=T0 + dt.timedelta(days=1),
        note="gift for Eve",
        via=Via.API,
    )
    revenue_before = Purchase.objects.aggregate(total=Sum("amount"))["total"]

    erased = contact_erase(contact=contact, by=sales_user, via=Via.ADMIN)

    erased.refresh_from_db()
    for field in ("email", "first_name", "last_name", "phone", "handle", "company", "notes"):
        assert getattr(erased, field) == ""
    assert erased.external_id is None and erased.erased_at is not None
    assert erased.stage == "customer"  # the funnel position is not personal data
    assert (
        Purchase.objects.aggregate(total=Sum("amount"))["total"]
        == revenue_before
        == Decimal("80.00")
    )
    assert Purchase.objects.get(contact=erased).note == ""
    assert Touchpoint.objects.filter(contact=erased).count() == 1
    assert StageChange.objects.filter(
        contact=erased, note="personal data erased", changed_by=sales_user
    ).exists()
