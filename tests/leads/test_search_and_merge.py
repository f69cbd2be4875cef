"""Issue 11, findings 2 and 3: search that finds people, merges that keep every email and phone,
and the possible duplicates with a merge preview.

Runs on SQLite and, with DATABASE_URL, on PostgreSQL: the same terms find the same contacts
(LIKE on SQLite, the trigram index on PostgreSQL; its plan is pinned in test_search_plan.py).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse

from campaigns.errors import IdempotencyConflict
from leads.models import Contact, ContactEmail, ContactMerge, ContactPhone, Purchase, Via
from leads.rules import contact_by_email, phone_e164
from leads.selectors import contacts_search, duplicate_groups, merge_preview
from leads.services import (
    contact_create,
    contact_erase,
    contact_merge,
    contact_update,
    purchase_record,
    touchpoint_record,
)
from tests.api.conftest import token_client
from tests.factories import channel

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def api(superuser):
    return token_client(superuser)


def found(term: str) -> set[str]:
    """Who a term finds, by first name (each person below has a distinct one)."""
    return set(contacts_search(Contact.objects.all(), term).values_list("first_name", flat=True))


@pytest.fixture
def people(db):
    def make(**fields):
        return contact_create(entered_at=T0, via=Via.API, **fields)

    return {
        "ivan": make(
            first_name="Ivan", last_name="Fischer", email="ivan.f@shop.example.com", phone=""
        ),
        "omar": make(
            first_name="Omar",
            last_name="Lopez",
            email="omar.lopez@example.net",
            phone="(555) 000-0010",
            company="Lopez Bakery",
        ),
        "walkin": make(first_name="Wanda", email="walkin-42@example.org", handle="@wandawalks"),
        "ivana": make(first_name="Ivana", last_name="Fisher", phone="+44 20 7946 0958"),
    }


# --- phones ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("555-000-0010", "+15550000010"),
        ("(555) 000 0010", "+15550000010"),
        ("+1 555 000 0010", "+15550000010"),
        ("5550000010", "+15550000010"),
        ("+44 20 7946 0958", "+442079460958"),
        ("call me", ""),
        ("12", ""),
        ("", ""),
    ],
)
def test_a_phone_is_normalised_to_e164_in_the_default_region(raw, e164):
    assert phone_e164(raw) == e164


@override_settings(PHONE_REGION="GB")
def test_the_default_region_is_a_setting(people):
    assert phone_e164("020 7946 0958") == "+442079460958"
    assert found("020 7946 0958") == {"Ivana"}


def test_every_door_stores_the_e164_phone_beside_the_raw_one(people, api, sales_user):
    omar = people["omar"]
    assert (omar.phone, omar.phone_e164) == ("(555) 000-0010", "+15550000010")
    contact_update(contact=omar, phone="555.000.0011")
    omar.refresh_from_db()
    assert omar.phone_e164 == "+15550000011"
    # The API's single door and its batch door.
    response = api.post("/api/v1/contacts/", {"first_name": "Api", "phone": "555 000 0012"})
    assert response.status_code == 201, response.json()
    assert response.json()["phone_e164"] == "+15550000012"
    batch = api.post(
        "/api/v1/events/",
        {
            "events": [
                {
                    "type": "contact",
                    "external_id": "b-1",
                    "first_name": "Batch",
                    "phone": "555-000-0013",
                }
            ]
        },
        format="json",
    )
    assert batch.json()["results"][0]["status"] == "created", batch.json()
    assert Contact.objects.get(first_name="Batch").phone_e164 == "+15550000013"
    # A walk-in's phone given with its purchase.
    purchase_record(
        email="walk@example.com",
        amount="5.00",
        contact_fields={"first_name": "Walk", "phone": "555 000 0014"},
        occurred_at=T0,
        via=Via.API,
    )
    assert Contact.objects.get(first_name="Walk").phone_e164 == "+15550000014"


def test_the_admin_stores_the_e164_phone(client, superuser):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:leads_contact_add"),
        {
            "first_name": "Adam",
            "phone": "555 000 0015",
            "stage": "follower",
            "entered_at_0": "2026-03-01",
            "entered_at_1": "09:00:00",
            "touch_kind": "follow",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Contact.objects.get(first_name="Adam").phone_e164 == "+15550000015"


# --- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "who"),
    [
        # A full name, in either order and any case; a first name alone finds both Ivans.
        ("Ivan Fischer", {"Ivan"}),
        ("fischer ivan", {"Ivan"}),
        ("ivan", {"Ivan", "Ivana"}),
        # Any part of an email.
        ("omar.lopez", {"Omar"}),
        ("example.net", {"Omar"}),
        ("walkin", {"Wanda"}),
        ("OMAR.LOPEZ@example.net", {"Omar"}),
        # A phone in any format, or a piece of it.
        ("555-000-0010", {"Omar"}),
        ("5550000010", {"Omar"}),
        ("+1 (555) 000-0010", {"Omar"}),
        ("000-0010", {"Omar"}),
        ("20 7946 0958", {"Ivana"}),
        ("+442079460958", {"Ivana"}),
        # Company and handle.
        ("bakery", {"Omar"}),
        ("Lopez Bakery", {"Omar"}),
        ("@wandawalks", {"Wanda"}),
        ("wandawalks", {"Wanda"}),
        # Nothing, and everything.
        ("zebra", set()),
        ("", {"Ivan", "Omar", "Wanda", "Ivana"}),
    ],
)
def test_search_finds_people_the_way_they_are_typed(people, term, who):
    assert found(term) == who


def test_the_api_and_the_admin_search_alike(people, api, client, superuser):
    client.force_login(superuser)
    for term, who in [("Ivan Fischer", "ivan"), ("555-000-0010", "omar"), ("walkin", "walkin")]:
        response = api.get("/api/v1/contacts/", {"search": term})
        assert [c["id"] for c in response.json()["results"]] == [people[who].pk], term
        page = client.get(reverse("admin:leads_contact_changelist"), {"q": term})
        assert page.status_code == 200
        assert list(page.context["cl"].result_list) == [people[who]], term


# --- merge keeps every email and phone -----------------------------------------------------------


@pytest.fixture
def pair(db):
    keep = contact_create(
        email="leo@example.com",
        first_name="Leo",
        last_name="Haddad",
        phone="555-000-0020",
        entered_at=T0,
        via=Via.API,
    )
    other = contact_create(
        email="leo.h@work.example.com",
        first_name="Leo",
        last_name="Haddad",
        phone="+1 555 000 0021",
        company="Haddad & Co",
        entered_at=T0 - dt.timedelta(days=1),
        via=Via.API,
    )
    return keep, other


def test_a_merge_keeps_the_others_email_and_phone_as_secondary(pair):
    keep, other = pair
    kept = contact_merge(survivor=keep, other=other, by=None, via=Via.ADMIN)
    assert kept.email == "leo@example.com"
    assert kept.company == "Haddad & Co"  # a blank field filled, as before
    assert list(ContactEmail.objects.filter(contact=kept).values_list("email", flat=True)) == [
        "leo.h@work.example.com"
    ]
    assert list(ContactPhone.objects.filter(contact=kept).values_list("phone", "phone_e164")) == [
        ("+1 555 000 0021", "+15550000021")
    ]
    merge = ContactMerge.objects.get(survivor=kept)
    assert merge.merged_fields["email"] == "leo.h@work.example.com"
    # Found by its secondary email, phone and email parts.
    assert contact_by_email("LEO.H@work.example.com") == kept
    assert found("work.example") == {"Leo"}
    assert found("555 000 0021") == {"Leo"}


def test_secondary_emails_move_along_a_chain_of_merges(pair):
    keep, other = pair
    third = contact_create(email="leo3@example.com", handle="@leo3", entered_at=T0, via=Via.API)
    contact_merge(survivor=other, other=third, by=None, via=Via.ADMIN)
    contact_merge(survivor=keep, other=other, by=None, via=Via.ADMIN)
    assert set(keep.other_emails.values_list("email", flat=True)) == {
        "leo.h@work.example.com",
        "leo3@example.com",
    }
    assert contact_by_email("leo3@example.com") == keep


def test_purchases_and_touches_by_a_secondary_email_reach_the_survivor(pair, api):
    keep, other = pair
    contact_merge(survivor=keep, other=other, by=None, via=Via.ADMIN)
    purchase, created = purchase_record(
        email="Leo.H@work.example.com",
        amount="12.00",
        occurred_at=T0,
        external_id="o-1",
        via=Via.API,
    )
    assert created and purchase.contact_id == keep.pk
    # The same order again by the same secondary email is a replay, not a conflict.
    again, created = purchase_record(
        email="leo.h@work.example.com",
        amount="12.00",
        occurred_at=T0,
        external_id="o-1",
        via=Via.API,
    )
    assert (again.pk, created) == (purchase.pk, False)
    response = api.post(
        "/api/v1/touchpoints/",
        {"email": "leo.h@work.example.com", "channel": "facebook", "kind": "click"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["contact"] == keep.pk
    # Contact and a secondary email of it, together: they match.
    response = api.post(
        "/api/v1/touchpoints/",
        {"contact": keep.pk, "email": "leo.h@work.example.com", "channel": "facebook"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    batch = api.post(
        "/api/v1/events/",
        {
            "events": [
                {
                    "type": "purchase",
                    "email": "LEO.H@work.example.com",
                    "amount": "3.00",
                    "external_id": "o-2",
                }
            ]
        },
        format="json",
    )
    assert batch.json()["results"][0]["status"] == "created", batch.json()
    assert Purchase.objects.get(external_id="o-2").contact_id == keep.pk
    assert not Contact.objects.filter(email__iexact="leo.h@work.example.com").exists()
    output = api.get(f"/api/v1/contacts/{keep.pk}/").json()
    assert output["other_emails"] == ["leo.h@work.example.com"]
    assert output["other_phones"] == ["+1 555 000 0021"]


def test_a_secondary_email_cannot_be_another_contacts(pair):
    keep, other = pair
    contact_merge(survivor=keep, other=other, by=None, via=Via.ADMIN)
    with pytest.raises(IdempotencyConflict):
        contact_create(email="LEO.H@work.example.com", via=Via.API)
    someone = contact_create(email="someone@example.com", via=Via.API)
    with pytest.raises(IdempotencyConflict):
        contact_update(contact=someone, email="leo.h@work.example.com")
    # Its own secondary email may become its primary one: then it is listed once.
    contact_update(contact=keep, email="leo.h@work.example.com")
    assert not keep.other_emails.exists()
    assert contact_by_email("leo.h@work.example.com") == keep


def test_erasing_a_contact_erases_its_secondary_emails_and_phones(pair):
    keep, other = pair
    contact_merge(survivor=keep, other=other, by=None, via=Via.ADMIN)
    contact_erase(contact=keep, by=None, via=Via.ADMIN)
    keep.refresh_from_db()
    assert not ContactEmail.objects.exists() and not ContactPhone.objects.exists()
    assert (keep.phone_e164, keep.other_contact_points) == ("", "")
    assert found("haddad") == set()


# --- possible duplicates and the merge preview --------------------------------------------------


@pytest.fixture
def lookalikes(db):
    def make(**fields):
        return contact_create(entered_at=T0, via=Via.API, **fields)

    return {
        "leo1": make(first_name="Leo", last_name="Haddad", email="leo@example.com"),
        "leo2": make(first_name="leo", last_name="HADDAD"),
        "leo3": make(first_name="Leo", last_name="Haddad", phone="555 000 0030"),
        "leo4": make(first_name="Leo", last_name="Haddad", company="Acme"),
        "tag": make(first_name="Tagged", email="Leo+shop@Example.com"),
        "p1": make(handle="@p1", phone="(555) 000-0030"),
        "alone": make(first_name="Alone", phone="555 000 0031"),
    }


def test_possible_duplicates_by_email_phone_and_name(lookalikes):
    ids = {name: c.pk for name, c in lookalikes.items()}
    assert duplicate_groups(kind="name") == [
        {"key": "leo / haddad", "ids": [ids["leo1"], ids["leo2"], ids["leo3"]]}
    ]
    assert duplicate_groups(kind="phone") == [
        {"key": "+15550000030", "ids": [ids["leo3"], ids["p1"]]}
    ]
    assert duplicate_groups(kind="email") == [
        {"key": "leo@example.com", "ids": [ids["leo1"], ids["tag"]]}
    ]


def test_possible_duplicates_cost_two_queries(lookalikes, django_assert_num_queries):
    for kind in ("email", "phone", "name"):
        with django_assert_num_queries(2):
            duplicate_groups(kind=kind)


def test_the_merge_preview_shows_each_fields_winner(pair):
    keep, other = pair
    preview = merge_preview(survivor=keep, other=other)
    rows = {row["label"]: row for row in preview["rows"]}
    assert rows["Email"]["result"] == "leo@example.com" and rows["Email"]["winner"] == "survivor"
    assert rows["Company"]["result"] == "Haddad & Co" and rows["Company"]["winner"] == "other"
    # The other entered first: its source and entry time win.
    assert rows["Entered"]["winner"] == "other"
    assert rows["First name"]["winner"] == "both"
    assert preview["other_emails"] == ["leo.h@work.example.com"]
    assert preview["other_phones"] == ["+1 555 000 0021"]
    # The preview is what the merge then does.
    kept = contact_merge(survivor=keep, other=other, by=None, via=Via.ADMIN)
    assert kept.company == rows["Company"]["result"]
    assert f"{kept.entered_at:%Y-%m-%d %H:%M}" == rows["Entered"]["result"]


def test_the_duplicates_page_and_a_one_click_merge(lookalikes, client, sales_user):
    client.force_login(sales_user)
    leo1, leo2 = lookalikes["leo1"], lookalikes["leo2"]
    changelist = client.get(reverse("admin:leads_contact_changelist")).content.decode()
    assert reverse("admin:leads_contact_duplicates") in changelist
    page = client.get(reverse("admin:leads_contact_duplicates"), {"kind": "name"})
    assert page.status_code == 200
    preview_url = reverse("admin:leads_contact_merge_preview", args=[leo1.pk, leo2.pk])
    assert preview_url in page.content.decode()
    preview = client.get(preview_url)
    assert preview.status_code == 200 and "Confirm the merge" in preview.content.decode()
    assert Contact.objects.filter(pk=leo2.pk).exists()  # a preview changes nothing
    response = client.post(preview_url, {"confirm": "yes"})
    assert response.status_code == 302
    assert not Contact.objects.filter(pk=leo2.pk).exists()
    assert ContactMerge.objects.get(survivor=leo1).merged_by == sales_user


def test_the_contact_page_shows_the_secondary_emails_and_phones(pair, client, sales_user):
    keep, other = pair
    contact_merge(survivor=keep, other=other, by=None, via=Via.ADMIN)
    client.force_login(sales_user)
    page = client.get(reverse("admin:leads_contact_change", args=[keep.pk])).content.decode()
    assert "leo.h@work.example.com" in page and "+15550000021" in page


def test_a_big_group_shows_its_first_contacts_and_counts_the_rest(client, sales_user):
    from leads.admin import SHOWN_PER_GROUP

    for _ in range(SHOWN_PER_GROUP + 3):
        contact_create(first_name="Mia", last_name="Tanaka", entered_at=T0, via=Via.API)
    client.force_login(sales_user)
    page = client.get(reverse("admin:leads_contact_duplicates"), {"kind": "name"})
    assert len(page.context["groups"][0]["contacts"]) == SHOWN_PER_GROUP
    assert "and 3 more" in page.content.decode()


def test_the_duplicates_page_needs_the_merge_permission(lookalikes, client, marketing_user):
    client.force_login(marketing_user)
    assert client.get(reverse("admin:leads_contact_duplicates")).status_code in (302, 403)


def test_a_merge_keeps_the_touches_and_purchases(pair):
    keep, other = pair
    touchpoint_record(contact=other, channel=channel("facebook"), occurred_at=T0)
    purchase_record(contact=other, amount=Decimal("9.00"), occurred_at=T0, via=Via.API)
    kept = contact_merge(survivor=keep, other=other, by=None, via=Via.ADMIN)
    assert kept.purchases.count() == 1 and kept.touchpoints.count() >= 1


def test_a_bad_phone_region_stops_the_process_naming_the_variable():
    import os
    import subprocess
    import sys

    env = {**os.environ, "PHONE_REGION": "ZZ", "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "PHONE_REGION" in result.stderr
