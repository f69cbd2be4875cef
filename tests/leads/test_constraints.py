"""The rules the database itself enforces, whatever code writes the row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from campaigns.models import Campaign, Cost, Coupon, EngagementStat
from leads.models import Contact, Purchase, Touchpoint
from tests.factories import CampaignFactory, ContactFactory, CouponFactory, channel

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, tzinfo=UTC)


def refused(make) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_email_is_unique_whatever_its_case():
    ContactFactory(email="Ada@Example.com")
    refused(lambda: ContactFactory(email="ada@example.COM"))
    # Contacts without an email do not collide.
    ContactFactory(email="")
    ContactFactory(email="")


def test_coupon_code_is_unique_whatever_its_case():
    CouponFactory(code="LINK10")
    refused(lambda: CouponFactory(code="link10"))


def test_amounts_cannot_be_negative():
    campaign = CampaignFactory()
    refused(
        lambda: Cost.objects.create(
            campaign=campaign, incurred_on=T0.date(), amount=Decimal("-1.00")
        )
    )
    refused(
        lambda: Purchase.objects.create(
            contact=ContactFactory(), amount=Decimal("0.00"), occurred_at=T0
        )
    )
    refused(
        lambda: Purchase.objects.create(
            contact=ContactFactory(), amount=Decimal("5.00"), discount=Decimal("-1"), occurred_at=T0
        )
    )
    refused(
        lambda: Campaign.objects.create(
            name="x", channel=channel("x"), starts_on=T0.date(), budget=Decimal("-1")
        )
    )


def test_one_engagement_row_per_campaign_and_day():
    campaign = CampaignFactory()
    EngagementStat.objects.create(campaign=campaign, date=T0.date())
    refused(lambda: EngagementStat.objects.create(campaign=campaign, date=T0.date()))


def test_one_campaign_per_tracking_phone():
    CampaignFactory(tracking_phone="+15550100")
    refused(lambda: CampaignFactory(tracking_phone="+1 555 0100"))
    # Campaigns without one do not collide (stored as NULL, never "").
    CampaignFactory(tracking_phone="")
    CampaignFactory(tracking_phone=None)


def test_external_ids_are_unique():
    contact = ContactFactory()
    Purchase.objects.create(
        contact=contact, amount=Decimal("1.00"), occurred_at=T0, external_id="o-1"
    )
    refused(
        lambda: Purchase.objects.create(
            contact=contact, amount=Decimal("1.00"), occurred_at=T0, external_id="o-1"
        )
    )
    Touchpoint.objects.create(
        contact=contact, channel=channel("x"), occurred_at=T0, external_id="t-1"
    )
    refused(
        lambda: Touchpoint.objects.create(
            contact=contact, channel=channel("x"), occurred_at=T0, external_id="t-1"
        )
    )


def test_stage_and_stamps_must_agree():
    refused(lambda: ContactFactory(stage="lead"))  # no became_lead_at
    refused(lambda: ContactFactory(stage="follower", became_lead_at=T0))  # stamp beyond the stage
    refused(
        lambda: ContactFactory(stage="customer", became_lead_at=T0, became_qualified_at=T0)
    )  # no customer stamp
    ContactFactory(stage="lead", entered_at=T0, became_lead_at=T0)


def test_stamps_must_be_in_funnel_order():
    refused(
        lambda: ContactFactory(
            stage="lead", entered_at=T0, became_lead_at=T0 - dt.timedelta(days=1)
        )
    )
    refused(
        lambda: ContactFactory(
            stage="qualified",
            entered_at=T0,
            became_lead_at=T0 + dt.timedelta(days=2),
            became_qualified_at=T0 + dt.timedelta(days=1),
        )
    )


def test_coupon_redemptions_stay_within_the_cap():
    coupon = CouponFactory(max_redemptions=1)
    refused(lambda: Coupon.objects.filter(pk=coupon.pk).update(redemptions=2))


def test_unknown_stage_is_refused():
    refused(lambda: Contact.objects.create(source_channel=channel("x"), stage="vip"))
