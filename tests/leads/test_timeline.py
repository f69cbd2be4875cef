"""One timeline per contact (`leads.selectors.contact_timeline`): every stage move, touch,
purchase and merge in time order, in words with names, capped, at a fixed number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from leads.models import Touchpoint, Via
from leads.selectors import contact_timeline
from leads.services import contact_create, contact_merge, contact_move_stage, purchase_record
from tests.factories import CampaignFactory, CouponFactory, UserFactory, channel

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def spring():
    campaign = CampaignFactory(name="Spring sale", channel=channel("instagram"))
    return CouponFactory(code="SPRING10", campaign=campaign)


def test_every_kind_in_words_newest_first(spring, superuser):
    ivan = contact_create(
        email="ivan@example.com",
        first_name="Ivan",
        source="fb",
        entered_at=T0,
        via=Via.API,
    )
    contact_move_stage(contact=ivan, stage="lead", at=T0 + dt.timedelta(hours=1), via=Via.API)
    purchase_record(
        contact=ivan,
        amount="49.90",
        discount="5.00",
        coupon="spring10",
        external_id="A-1001",
        occurred_at=T0 + dt.timedelta(days=1),
        by=superuser,
        via=Via.ADMIN,
    )
    other = contact_create(
        email="ivan.f@example.net",
        first_name="Ivan",
        last_name="Fischer",
        entered_at=T0 - dt.timedelta(days=1),
        via=Via.API,
    )
    contact_merge(survivor=ivan, other=other, by=superuser, via=Via.ADMIN)

    timeline = contact_timeline(ivan)
    lines = [(e.label, e.text) for e in timeline.entries]
    assert lines[:4] == [
        ("Merge", "Merged in another record of this person (Ivan Fischer, ivan.f@example.net)"),
        (
            "Stage",
            "Became a customer (purchase 49.90 USD, coupon SPRING10, Spring sale on Instagram)",
        ),
        ("Touch", "Coupon on Instagram, Spring sale campaign"),
        ("Purchase", "Purchase 49.90 USD, coupon SPRING10, Spring sale on Instagram"),
    ]
    assert lines[4:] == [
        ("Stage", "Became a lead"),
        # At one moment: the entry, then the first touch it recorded (read bottom up).
        ("Stage", "Entered the funnel as a follower"),
        ("Touch", "Follow on Facebook"),
        # The merged record's history moved here with it.
        ("Stage", "Entered the funnel as a follower"),
    ]
    purchase = timeline.entries[3]
    assert purchase.detail == "discount 5.00 USD; order A-1001"
    assert timeline.entries[1].detail == "by root, through the admin"
    assert timeline.total == len(timeline.entries) == 8


def test_forced_moves_notes_and_erasure(superuser):
    ada = contact_create(email="ada@example.com", stage="lead", entered_at=T0, via=Via.API)
    contact_move_stage(
        contact=ada,
        stage="follower",
        at=T0 + dt.timedelta(hours=1),
        force=True,
        note="typo",
        by=superuser,
        via=Via.ADMIN,
    )
    texts = [(e.text, e.detail) for e in contact_timeline(ada).entries]
    assert texts[0] == ("Moved back to follower (forced)", "by root, through the admin; note: typo")
    assert texts[-1] == ("Entered the funnel as a lead", "through the API")


def test_capped_with_the_count_and_a_fixed_number_of_queries(django_assert_max_num_queries):
    pins = CampaignFactory(name="Spring pins", channel=channel("pinterest"))
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)

    def touches(count: int) -> None:
        Touchpoint.objects.bulk_create(
            Touchpoint(
                contact=contact,
                channel=pins.channel,
                campaign=pins,
                kind="click",
                occurred_at=T0 + dt.timedelta(minutes=n + 1),
            )
            for n in range(count)
        )

    touches(3)
    with django_assert_max_num_queries(8) as few:
        small = contact_timeline(contact, limit=5)
    assert small.total == 4 and small.hidden == 0
    touches(300)
    with django_assert_max_num_queries(8):
        big = contact_timeline(contact, limit=5)
    assert len(big.entries) == 5 and big.total == 304 and big.hidden == 299
    # The newest first, and only the newest.
    assert [e.at for e in big.entries] == sorted((e.at for e in big.entries), reverse=True)
    assert big.entries[0].at == T0 + dt.timedelta(minutes=300)
    assert len(few.captured_queries) <= 8


def test_the_page_says_how_many_are_shown_and_uses_the_site_time_zone(client, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    client.force_login(UserFactory(username="sally", groups=["Sales"]))
    pins = CampaignFactory(name="Spring pins", channel=channel("pinterest"))
    contact = contact_create(email="a@example.com", entered_at=T0, via=Via.API)
    Touchpoint.objects.bulk_create(
        Touchpoint(
            contact=contact,
            channel=pins.channel,
            campaign=pins,
            kind="click",
            occurred_at=T0 + dt.timedelta(minutes=n + 1),
        )
        for n in range(205)
    )
    body = client.get(reverse("admin:leads_contact_change", args=[contact.pk])).content.decode()
    assert "Showing the latest 200 of 206 entries." in body
    assert "times in Europe/Berlin" in body
    # 09:00 UTC + 205 minutes is 12:25 UTC, 13:25 in Berlin on 1 March.
    assert "2026-03-01 13:25" in body
    assert body.count('class="timeline-touch"') == 200


def test_a_move_made_by_a_merge_names_no_record_id(superuser):
    keep = contact_create(email="leo@example.com", entered_at=T0, via=Via.API)
    other = contact_create(
        email="leo.h@example.net",
        first_name="Leo",
        last_name="Haddad",
        stage="lead",
        entered_at=T0,
        via=Via.API,
    )
    contact_merge(survivor=keep, other=other, by=superuser, via=Via.ADMIN)
    entries = contact_timeline(keep).entries
    moves = [e for e in entries if e.text.startswith("Became a lead")]
    assert [(e.text, e.detail) for e in moves] == [
        ("Became a lead (by a merge)", "by root, through the admin")
    ]
    assert not any(f"#{other.pk}" in e.text + e.detail for e in entries)
