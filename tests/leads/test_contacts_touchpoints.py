"""Contact creation (sources, first touch) and touchpoints (aliases, tracking phones, replays)."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.errors import IdempotencyConflict, InvalidInput
from campaigns.models import EngagementStat
from campaigns.services import engagement_upsert
from leads.models import Touchpoint, Via
from leads.rules import REFS, channel_for_source
from leads.services import contact_create, touchpoint_record
from tests.factories import CampaignFactory, CouponFactory, channel

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "source,slug",
    [
        ("fb", "facebook"),
        ("l.facebook.com", "facebook"),
        ("https://m.facebook.com/some/post", "facebook"),
        ("t.co", "x"),
        ("Twitter", "x"),
        ("lnkd.in", "linkedin"),
        ("pin.it", "pinterest"),
        ("tiktok", "tiktok"),
        ("unknown-blog.example", "referral"),
        ("", "direct"),
        (None, "direct"),
    ],
)
def test_sources_resolve_through_aliases(source, slug):
    assert channel_for_source(source, REFS).slug == slug


def test_first_touch_is_recorded_at_entry_with_kind_follow():
    contact = contact_create(
        email="a@example.com", source="l.facebook.com", entered_at=T0, via=Via.API
    )
    (touch,) = Touchpoint.objects.filter(contact=contact)
    assert (touch.channel.slug, touch.kind, touch.occurred_at, touch.source) == (
        "facebook",
        "follow",
        T0,
        "l.facebook.com",
    )
    assert contact.source_channel.slug == "facebook"


def test_an_unknown_source_is_kept_verbatim_under_referral():
    contact = contact_create(
        email="a@example.com", source="Some-Blog.example", entered_at=T0, via=Via.API
    )
    touch = Touchpoint.objects.get(contact=contact)
    assert touch.channel.slug == "referral" and touch.source == "Some-Blog.example"


def test_no_source_means_an_unknown_source_without_a_touch():
    # Not "direct": the contact's revenue is unattributed, so its funnel counts are too.
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    assert contact.source_channel is None and contact.source_campaign is None
    assert not Touchpoint.objects.filter(contact=contact).exists()


def test_source_priority_coupon_then_campaign_then_channel():
    pins = CampaignFactory(channel=channel("pinterest"))
    coupon = CouponFactory(code="PIN5", campaign=pins)
    contact = contact_create(
        email="a@example.com",
        coupon=coupon,
        source="x",
        entered_at=T0,
        touch_kind="form",
        via=Via.API,
    )
    assert (contact.source_channel.slug, contact.source_campaign, contact.coupon) == (
        "pinterest",
        pins,
        coupon,
    )
    touch = Touchpoint.objects.get(contact=contact)
    assert (touch.campaign, touch.kind) == (pins, "form")


def test_a_campaign_on_another_channel_is_refused():
    pins = CampaignFactory(channel=channel("pinterest"))
    with pytest.raises(InvalidInput) as error:
        contact_create(
            email="a@example.com", source_campaign=pins, source_channel=channel("x"), via=Via.API
        )
    assert error.value.field == "source_channel"


def test_an_email_in_use_in_another_case_is_refused():
    contact_create(email="Ada@Example.com", via=Via.API)
    with pytest.raises(IdempotencyConflict) as error:
        contact_create(email="ada@example.COM", via=Via.API)
    assert error.value.field == "email"


def test_tracking_phone_resolves_the_campaign_whatever_its_format():
    webinar = CampaignFactory(channel=channel("linkedin"), tracking_phone="+1 (555) 010-0100")
    assert webinar.tracking_phone == "+15550100100"
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    touch, created = touchpoint_record(
        contact=contact, tracking_phone="+1 555 010 0100", occurred_at=T0
    )
    assert created and (touch.kind, touch.campaign, touch.channel.slug) == (
        "call",
        webinar,
        "linkedin",
    )


def test_unknown_tracking_phone_is_invalid_input():
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    with pytest.raises(InvalidInput) as error:
        touchpoint_record(contact=contact, tracking_phone="+1 555 999", occurred_at=T0)
    assert error.value.field == "tracking_phone"


def test_utm_source_and_campaign_resolve():
    spring = CampaignFactory(channel=channel("instagram"), utm_campaign="spring-launch")
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    touch, _ = touchpoint_record(
        contact=contact, source="ig", utm_campaign="Spring-Launch", kind="click", occurred_at=T0
    )
    assert (touch.channel.slug, touch.campaign, touch.source) == ("instagram", spring, "ig")


def test_touchpoint_replay_is_idempotent_and_conflicts_on_other_content():
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    first, created = touchpoint_record(
        contact=contact, source="fb", kind="click", occurred_at=T0, external_id="t-1"
    )
    again, created_again = touchpoint_record(
        contact=contact, source="fb", kind="click", occurred_at=T0, external_id="t-1"
    )
    assert created and not created_again and again.pk == first.pk
    with pytest.raises(IdempotencyConflict, match="kind"):
        touchpoint_record(
            contact=contact, source="fb", kind="like", occurred_at=T0, external_id="t-1"
        )
    assert Touchpoint.objects.filter(external_id="t-1").count() == 1


def test_unknown_touch_kind_is_invalid_input():
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    with pytest.raises(InvalidInput) as error:
        touchpoint_record(contact=contact, kind="teleport", occurred_at=T0)
    assert error.value.field == "kind"


def test_engagement_upsert_replaces_the_day():
    campaign = CampaignFactory()
    engagement_upsert(campaign=campaign, date=dt.date(2026, 3, 1), impressions=100, clicks=5)
    engagement_upsert(campaign=campaign, date=dt.date(2026, 3, 1), impressions=120, reactions=7)
    (row,) = EngagementStat.objects.filter(campaign=campaign)
    assert (row.impressions, row.clicks, row.reactions) == (120, 0, 7)


def test_engagement_figures_must_not_be_negative():
    with pytest.raises(InvalidInput) as error:
        engagement_upsert(campaign=CampaignFactory(), date=dt.date(2026, 3, 1), impressions=-1)
    assert error.value.field == "impressions"


def test_contact_update_changes_plain_fields_only():
    from leads.services import contact_update

    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    contact_create(email="taken@example.com", via=Via.API)
    contact_update(contact=contact, first_name="Ada", email=" ADA@example.com ")
    contact.refresh_from_db()
    assert (contact.first_name, contact.email) == ("Ada", "ADA@example.com")
    with pytest.raises(IdempotencyConflict):
        contact_update(contact=contact, email="Taken@Example.com")
    with pytest.raises(InvalidInput):
        contact_update(contact=contact, stage="customer")
    with pytest.raises(InvalidInput):
        contact_update(contact=contact, referred_by=contact)
    contact.refresh_from_db()
    assert contact.stage == "follower"


def test_a_touch_retried_without_a_time_keeps_the_stored_time(monkeypatch):
    from django.utils import timezone

    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    first, _ = touchpoint_record(contact=contact, source="fb", external_id="t-1")
    later = first.occurred_at + dt.timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    again, created = touchpoint_record(contact=contact, source="fb", external_id="t-1")
    assert not created and again.pk == first.pk
    with pytest.raises(IdempotencyConflict, match="occurred_at"):
        touchpoint_record(contact=contact, source="fb", occurred_at=later, external_id="t-1")
