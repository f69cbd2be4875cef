"""The look-ups the lead rules lean on (aliases, coupon codes, phones, utm) and engagement."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.errors import InvalidInput
from campaigns.models import EngagementStat
from campaigns.services import campaign_by_tracking_phone, engagement_upsert
from leads.rules import REFS, channel_for_source, touch_target
from tests.factories import CampaignFactory, CouponFactory, channel

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 2)


@pytest.mark.parametrize(
    "source,slug",
    [
        ("l.facebook.com", "facebook"),
        ("t.co", "x"),
        ("lnkd.in", "linkedin"),
        ("FACEBOOK", "facebook"),
        ("blog.example.org", "referral"),
        ("", "direct"),
        (None, "direct"),
        ("   ", "direct"),
    ],
)
def test_channel_resolve(source, slug):
    assert channel_for_source(source, REFS).slug == slug


def test_coupon_code_is_found_in_any_case():
    coupon = CouponFactory(code="LINK10")
    assert REFS.coupon(" link10 ") == coupon
    assert REFS.coupon("NOPE") is None


def test_tracking_phone_lookup_ignores_formatting():
    campaign = CampaignFactory(tracking_phone="+15550100100")
    assert campaign_by_tracking_phone("+1 (555) 010-0100") == campaign
    assert campaign_by_tracking_phone("+1.555.010.0100") == campaign
    with pytest.raises(InvalidInput) as refused:
        campaign_by_tracking_phone("+1 555 999 9999")
    assert refused.value.field == "tracking_phone"
    with pytest.raises(InvalidInput):
        campaign_by_tracking_phone("")


def test_tracking_phone_is_stored_in_e164_and_found_however_written():
    """A number typed without its country code is read in PHONE_REGION (US): the call a
    provider reports as +15125550100 finds it, as does any way of writing it."""
    campaign = CampaignFactory(tracking_phone="(512) 555-0100")
    assert campaign.tracking_phone == "+15125550100"
    for written in ("+15125550100", "512.555.0100", "1 512 555 0100", "+1 (512) 555-0100"):
        assert campaign_by_tracking_phone(written) == campaign
    # One line however it is written: a second campaign cannot take it.
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignFactory(tracking_phone="512-555-0100")
    # Text too short for a number keeps its digits (and a leading +): still one line.
    short = CampaignFactory(tracking_phone="+1 999")
    assert short.tracking_phone == "+1999"
    assert campaign_by_tracking_phone("+1-999") == short


def test_migration_stores_tracking_phones_in_e164():
    """Numbers stored by the old rule (digits only) move to E.164; of two that were one line
    written two ways, the one stored in E.164 already keeps it, the other is left as it was."""
    import importlib

    from django.apps import apps

    from campaigns.models import Campaign

    migration = importlib.import_module("campaigns.migrations.0012_tracking_phone_e164")
    first, second, third, fourth = (CampaignFactory() for _ in range(4))
    for campaign, stored in (
        (first, "5125550100"),
        (second, "+15125550100"),  # the same line as the first, written with its country code
        (third, "15125550177"),
        (fourth, "+442079460958"),
    ):
        Campaign.objects.filter(pk=campaign.pk).update(tracking_phone=stored)
    migration.tracking_phones_e164(apps, None)
    stored = dict(Campaign.objects.values_list("pk", "tracking_phone"))
    assert stored == {
        first.pk: "5125550100",  # its line is the second's already: left for someone to fix
        second.pk: "+15125550100",
        third.pk: "+15125550177",
        fourth.pk: "+442079460958",
    }


def test_utm_campaign_prefers_the_campaign_on_the_touch_channel():
    on_facebook = CampaignFactory(utm_campaign="spring", channel=channel("facebook"))
    on_linkedin = CampaignFactory(utm_campaign="spring", channel=channel("linkedin"))

    def target(utm_campaign: str, on: str | None, source: str = ""):
        return touch_target(
            channel=channel(on) if on else None,
            campaign=None,
            utm_campaign=utm_campaign,
            source=source,
            refs=REFS,
        )[1]

    assert target("SPRING", "linkedin") == on_linkedin
    assert target("spring", "facebook") == on_facebook
    assert target("spring", None, source="lnkd.in") == on_linkedin
    assert target("", None) is None
    assert target("autumn", None) is None


def test_engagement_upsert_keeps_one_row_per_campaign_and_day_and_replaces_it():
    campaign = CampaignFactory()
    engagement_upsert(campaign=campaign, date=DAY, impressions=1000, clicks=40)
    row = engagement_upsert(campaign=campaign, date=DAY, impressions=1200)

    assert EngagementStat.objects.filter(campaign=campaign, date=DAY).count() == 1
    # The second write replaces the day: clicks not sent again are 0, not the old 40.
    assert (row.impressions, row.clicks) == (1200, 0)
    engagement_upsert(campaign=campaign, date=DAY + dt.timedelta(days=1), impressions=5)
    assert EngagementStat.objects.filter(campaign=campaign).count() == 2


@pytest.mark.parametrize("figures,field", [({"clicks": -1}, "clicks"), ({"impresions": 3}, None)])
def test_engagement_upsert_refuses_bad_figures(figures, field):
    campaign = CampaignFactory()
    with pytest.raises(InvalidInput) as refused:
        engagement_upsert(campaign=campaign, date=DAY, **figures)
    assert refused.value.field == field
    assert not EngagementStat.objects.exists()
