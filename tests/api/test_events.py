"""POST /api/v1/events/: mixed batches, one result per event, bad events alone rolled back."""

from __future__ import annotations

import pytest
from django.db import connection

from campaigns.models import EngagementStat
from leads.models import Contact, Purchase, Touchpoint
from tests.factories import CampaignFactory, ContactFactory, CouponFactory, channel

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    campaign = CampaignFactory(channel=channel("instagram"))
    CouponFactory(code="INSTA10", campaign=campaign)
    return campaign


def batch(campaign) -> list[dict]:
    return [
        {
            "type": "contact",
            "external_id": "ig-1",
            "email": "ada@example.com",
            "utm_source": "ig",
            "entered_at": "2026-03-02T10:00:00Z",
        },
        {
            "type": "touch",
            "external_id": "click-1",
            "email": "ada@example.com",
            "channel": "instagram",
            "kind": "click",
            "occurred_at": "2026-03-03T12:00:00Z",
        },
        {
            "type": "purchase",
            "external_id": "order-1",
            "email": "ada@example.com",
            "amount": "85.00",
            "coupon": "insta10",
            "occurred_at": "2026-03-20T16:45:00Z",
        },
        {
            "type": "engagement",
            "campaign": campaign.pk,
            "date": "2026-03-02",
            "impressions": 12000,
            "clicks": 115,
        },
        {"type": "purchase", "external_id": "order-2", "email": "bob@example.com", "amount": "-5"},
        {"type": "touch", "external_id": "click-2", "email": "nobody@example.com", "channel": "x"},
        {"type": "teleport", "external_id": "t"},
        "not an object",
        {"type": "touch", "email": "ada@example.com", "channel": "x"},
        {"type": "contact", "external_id": "nul", "email": "n@example.com", "first_name": "a\x00b"},
    ]


def test_mixed_batch_results_in_order(api, campaign):
    response = api.post("/api/v1/events/", {"events": batch(campaign)}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["created"] * 4 + ["error"] * 6
    assert [r["index"] for r in body["results"]] == list(range(10))
    errors = [r["errors"] for r in body["results"][4:]]
    assert "amount" in errors[0] and "email" in errors[1] and "type" in errors[2]
    assert (
        "non_field_errors" in errors[3] and "external_id" in errors[4] and "first_name" in errors[5]
    )
    assert (body["created"], body["unchanged"], body["errors"]) == (4, 0, 6)
    assert Contact.objects.count() == 1 and Purchase.objects.count() == 1
    assert Touchpoint.objects.count() == 3  # the follow, the click, the coupon touch
    assert EngagementStat.objects.count() == 1


def test_replaying_a_batch_changes_nothing(api, campaign):
    events = batch(campaign)[:4]
    api.post("/api/v1/events/", {"events": events}, format="json")
    counts = (Contact.objects.count(), Touchpoint.objects.count(), Purchase.objects.count())
    body = api.post("/api/v1/events/", {"events": events}, format="json").json()
    assert [r["status"] for r in body["results"]] == ["unchanged"] * 4
    assert counts == (Contact.objects.count(), Touchpoint.objects.count(), Purchase.objects.count())


def test_same_external_id_with_other_content_is_a_409_result(api, campaign):
    events = batch(campaign)[:3]
    api.post("/api/v1/events/", {"events": events}, format="json")
    changed = {**events[2], "amount": "99.00"}
    (result,) = api.post("/api/v1/events/", {"events": [changed]}, format="json").json()["results"]
    assert (result["status"], result["code"]) == ("error", 409)


def test_a_constraint_caught_late_answers_as_the_single_endpoint(api, campaign, monkeypatch):
    # A race lost at the database (an IntegrityError the service could not foresee): the event
    # gets the 409 and the message the single endpoint gives.
    from django.db import IntegrityError

    import leads.apis
    import leads.events

    def lose_the_race(payload, user, via=None):
        raise IntegrityError("duplicate key")

    monkeypatch.setitem(leads.events.APPLY, "engagement", lose_the_race)
    monkeypatch.setattr(leads.apis, "record_touch", lose_the_race)
    event = batch(campaign)[3]
    (result,) = api.post("/api/v1/events/", {"events": [event]}, format="json").json()["results"]
    single = api.post(
        "/api/v1/touchpoints/", {"email": "a@example.com", "channel": "x"}, format="json"
    )
    assert (
        (result["code"], result["errors"])
        == (single.status_code, single.json())
        == (
            409,
            {"non_field_errors": ["The request conflicts with stored data; nothing was written."]},
        )
    )


def test_too_many_or_no_events_refuse_the_whole_request(api):
    events = [
        {"type": "contact", "external_id": f"c{i}", "email": f"c{i}@example.com"}
        for i in range(1001)
    ]
    response = api.post("/api/v1/events/", {"events": events}, format="json")
    assert response.status_code == 400 and "events" in response.json()
    assert not Contact.objects.exists()
    assert api.post("/api/v1/events/", {"events": []}, format="json").status_code == 400
    assert api.post("/api/v1/events/", {"nothing": 1}, format="json").status_code == 400


def test_anonymous_and_roleless_users_are_refused(clients, db):
    assert (
        clients["anonymous"].post("/api/v1/events/", {"events": [{}]}, format="json").status_code
        == 401
    )


def test_a_batch_of_touches_costs_a_bounded_number_of_queries(
    api, campaign, django_assert_max_num_queries
):
    api.post("/api/v1/events/", {"events": batch(campaign)[:1]}, format="json")
    events = [
        {
            "type": "touch",
            "external_id": f"t{i}",
            "email": "ada@example.com",
            "channel": "instagram",
            "kind": "like",
            "occurred_at": "2026-03-04T10:00:00Z",
        }
        for i in range(50)
    ]
    # Plain touches go through the batch door: a fixed number of look-ups and one insert,
    # whatever the batch size, and what the change declares (a delete per day cache and one
    # for the month roll-ups).
    with django_assert_max_num_queries(21):
        body = api.post("/api/v1/events/", {"events": events}, format="json").json()
    assert body["created"] == 50


def test_bulk_and_careful_paths_agree(api, campaign):
    # A contact with a referral takes the per-event door; plain ones and ones with a coupon the
    # batch door. All record the entry history and the first touch the same way.
    referrer = ContactFactory()
    events = [
        {
            "type": "contact",
            "external_id": "c-plain",
            "email": "plain@example.com",
            "source_channel": "instagram",
            "entered_at": "2026-03-02T10:00:00Z",
        },
        {
            "type": "contact",
            "external_id": "c-coupon",
            "email": "coupon@example.com",
            "coupon": "INSTA10",
            "entered_at": "2026-03-02T10:00:00Z",
        },
        {
            "type": "contact",
            "external_id": "c-referred",
            "email": "referred@example.com",
            "utm_source": "ig",
            "referred_by": referrer.pk,
            "entered_at": "2026-03-02T10:00:00Z",
        },
    ]
    body = api.post("/api/v1/events/", {"events": events}, format="json").json()
    assert [r["status"] for r in body["results"]] == ["created"] * 3
    for email in ("plain@example.com", "coupon@example.com", "referred@example.com"):
        contact = Contact.objects.get(email=email)
        assert contact.source_channel.slug == "instagram"
        assert contact.stage_changes.get().to_stage == "follower"
        touch = Touchpoint.objects.get(contact=contact)
        assert (touch.kind, touch.occurred_at.isoformat()) == (
            "follow",
            "2026-03-02T10:00:00+00:00",
        )
    assert Contact.objects.get(email="coupon@example.com").coupon.code == "INSTA10"
    assert Contact.objects.get(email="referred@example.com").referred_by == referrer


def test_duplicates_inside_one_batch(api, campaign):
    # Answered as the same events sent one at a time would be: a repeat is a replay of the
    # first (200, its id), or a conflict naming what differs.
    contact = {"type": "contact", "external_id": "dup", "email": "dup@example.com"}
    renamed = {**contact, "first_name": "Eve"}
    touch = {
        "type": "touch",
        "external_id": "t-dup",
        "email": "dup@example.com",
        "channel": "x",
        "occurred_at": "2026-03-02T10:00:00Z",
    }
    other_touch = {**touch, "channel": "linkedin"}
    same_email = {"type": "contact", "external_id": "dup-2", "email": "DUP@example.com"}
    body = api.post(
        "/api/v1/events/",
        {"events": [contact, contact, renamed, touch, touch, other_touch, same_email]},
        format="json",
    ).json()
    results = body["results"]
    assert [(r["status"], r["code"]) for r in results] == [
        ("created", 201),
        ("unchanged", 200),
        ("error", 409),
        ("created", 201),
        ("unchanged", 200),
        ("error", 409),
        ("error", 409),
    ]
    assert results[1]["id"] == results[0]["id"] and results[4]["id"] == results[3]["id"]
    assert results[2]["errors"] == {
        "external_id": ["external_id 'dup' was already used with different first_name."]
    }
    assert results[5]["errors"] == {
        "external_id": ["external_id 't-dup' was already used with different channel."]
    }
    assert results[6]["errors"] == {
        "email": ["A contact with the email 'DUP@example.com' already exists."]
    }
    assert (
        Contact.objects.count() == 1 and Touchpoint.objects.filter(external_id="t-dup").count() == 1
    )


def test_unknown_references_in_bulk_events(api):
    # The messages the single endpoints give (leads.rules), field errors first.
    events = [
        {
            "type": "contact",
            "external_id": "a",
            "email": "a@example.com",
            "source_channel": "myspace",
        },
        {
            "type": "contact",
            "external_id": "b",
            "email": "b@example.com",
            "source_campaign": 999999,
        },
        {"type": "touch", "external_id": "c", "contact": 999999, "channel": "x"},
        {
            "type": "touch",
            "external_id": "d",
            "email": "a@example.com",
            "channel": "x",
            "campaign": 999999,
        },
        {"type": "touch", "external_id": "e", "email": "a@example.com", "channel": "x"},
        {"type": "purchase", "external_id": "f", "contact": "abc", "amount": "1.00"},
        {
            "type": "purchase",
            "external_id": "g",
            "email": "g@example.com",
            "amount": "1.00",
            "coupon": "nope",
        },
    ]
    results = api.post("/api/v1/events/", {"events": events}, format="json").json()["results"]
    assert [r["errors"] for r in results] == [
        {"source_channel": ["Unknown channel 'myspace'."]},
        {"source_campaign": ["Unknown campaign 999999."]},
        {"contact": ["Unknown contact 999999."]},
        {"campaign": ["Unknown campaign 999999."]},
        {"email": ["No contact has this email; create it first."]},
        {"contact": ["Incorrect type. Expected pk value, received str."]},
        {"coupon": ["Unknown coupon code 'nope'."]},
    ]
    assert not Contact.objects.exists()
    for event, result in zip(events, results, strict=True):
        path = {"contact": "contacts", "touch": "touchpoints", "purchase": "purchases"}
        payload = {k: v for k, v in event.items() if k != "type"}
        single = api.post(f"/api/v1/{path[event['type']]}/", payload, format="json")
        assert (single.status_code, single.json()) == (400, result["errors"])


def test_retries_without_a_time_are_replays(api, campaign):
    # A retry of an event sent without a time is the same event: the stored time stands
    # ("now" at the retry is not compared).
    api.post("/api/v1/events/", {"events": [_follower("f-1", "ada@example.com")]}, format="json")
    events = [
        {"type": "touch", "external_id": "t-1", "email": "ada@example.com", "channel": "x"},
        {"type": "purchase", "external_id": "o-1", "email": "ada@example.com", "amount": "5.00"},
        {"type": "contact", "external_id": "c-1", "email": "new@example.com"},
    ]
    first = api.post("/api/v1/events/", {"events": events}, format="json").json()["results"]
    again = api.post("/api/v1/events/", {"events": events}, format="json").json()["results"]
    assert [r["status"] for r in first] == ["created"] * 3
    assert [(r["status"], r["id"]) for r in again] == [("unchanged", r["id"]) for r in first]
    for event in events:
        path = {"contact": "contacts", "touch": "touchpoints", "purchase": "purchases"}
        payload = {k: v for k, v in event.items() if k != "type"}
        assert (
            api.post(f"/api/v1/{path[event['type']]}/", payload, format="json").status_code == 200
        )
    # A time given on the retry is compared with the stored one.
    timed = {**events[1], "occurred_at": "2026-03-01T10:00:00Z"}
    (result,) = api.post("/api/v1/events/", {"events": [timed]}, format="json").json()["results"]
    assert result["errors"] == {
        "external_id": ["external_id 'o-1' was already used with different occurred_at."]
    }


def _purchase(external_id: str, email: str, at: str, **extra) -> dict:
    return {
        "type": "purchase",
        "external_id": external_id,
        "email": email,
        "amount": "40.00",
        "occurred_at": at,
        **extra,
    }


def _follower(external_id: str, email: str) -> dict:
    return {
        "type": "contact",
        "external_id": external_id,
        "email": email,
        "source_channel": "instagram",
        "entered_at": "2026-03-01T10:00:00Z",
    }


def test_bulk_purchases_record_what_the_single_endpoint_records(api, campaign):
    # Two orders by one follower in one batch, the later one sent first, the earlier with a
    # coupon: one move to customer (at the first order of the batch, as two calls would make
    # it), the customer stamp at the earliest order, the coupon counted once, its touch
    # recorded and the coupon kept as the contact's.
    events = [
        _follower("f-1", "ada@example.com"),
        _purchase("o-late", "ada@example.com", "2026-03-20T10:00:00Z"),
        _purchase("o-early", "ADA@example.com", "2026-03-10T10:00:00Z", coupon="insta10"),
    ]
    body = api.post("/api/v1/events/", {"events": events}, format="json").json()
    assert [r["status"] for r in body["results"]] == ["created"] * 3
    contact = Contact.objects.get(email="ada@example.com")
    assert contact.stage == "customer" and contact.coupon.code == "INSTA10"
    assert contact.became_customer_at.isoformat() == "2026-03-10T10:00:00+00:00"
    assert contact.became_lead_at.isoformat() == "2026-03-10T10:00:00+00:00"
    moves = list(contact.stage_changes.order_by("id").values_list("from_stage", "to_stage", "at"))
    assert [(f, t, at.isoformat()) for f, t, at in moves] == [
        ("", "follower", "2026-03-01T10:00:00+00:00"),
        ("follower", "customer", "2026-03-20T10:00:00+00:00"),
    ]
    early = Purchase.objects.get(external_id="o-early")
    coupon_touch = Touchpoint.objects.get(contact=contact, kind="coupon")
    assert coupon_touch.campaign == campaign and coupon_touch.metadata == {"purchase_id": early.pk}
    assert coupon_touch.occurred_at == early.occurred_at and coupon_touch.source == "INSTA10"
    assert early.coupon.redemptions == 1

    # The same orders through the single endpoint, for another follower: the same records.
    api.post("/api/v1/events/", {"events": [_follower("f-2", "bob@example.com")]}, format="json")
    for event in (
        _purchase("s-late", "bob@example.com", "2026-03-20T10:00:00Z"),
        _purchase("s-early", "bob@example.com", "2026-03-10T10:00:00Z", coupon="insta10"),
    ):
        payload = {k: v for k, v in event.items() if k != "type"}
        assert api.post("/api/v1/purchases/", payload, format="json").status_code == 201
    bob = Contact.objects.get(email="bob@example.com")
    fields = ("stage", "entered_at", "became_lead_at", "became_qualified_at", "became_customer_at")
    assert [getattr(bob, f) for f in fields] == [getattr(contact, f) for f in fields]
    bob_moves = list(bob.stage_changes.order_by("id").values_list("from_stage", "to_stage", "at"))
    assert bob_moves == moves


def test_bulk_purchases_replays_duplicates_and_bad_references(api, campaign):
    api.post("/api/v1/events/", {"events": [_follower("f-1", "ada@example.com")]}, format="json")
    ada = Contact.objects.get()
    order = _purchase("o-1", "ada@example.com", "2026-03-10T10:00:00Z")
    events = [
        order,
        order,  # the same order twice: the first one's answer
        {**order, "amount": "41.00"},  # same external_id, other content
        {**order, "external_id": "o-2", "contact": ada.pk, "email": "other@example.com"},
        {k: v for k, v in order.items() if k != "email"} | {"external_id": "o-3", "contact": 9999},
        {**order, "external_id": "o-4", "coupon": "NOPE"},
        {**order, "external_id": "o-5", "occurred_at": "2999-01-01T00:00:00Z"},
        {**order, "external_id": "o-6", "email": "walk-in@example.com"},  # a walk-in customer
    ]
    body = api.post("/api/v1/events/", {"events": events}, format="json").json()
    results = body["results"]
    assert [(r["status"], r["code"]) for r in results] == [
        ("created", 201),
        ("unchanged", 200),
        ("error", 409),
        ("error", 400),
        ("error", 400),
        ("error", 400),
        ("error", 400),
        ("created", 201),
    ]
    assert results[1]["id"] == results[0]["id"]
    assert [next(iter(r["errors"])) for r in results[2:7]] == [
        "external_id",
        "email",
        "contact",
        "coupon",
        "occurred_at",
    ]
    walk_in = Contact.objects.get(email="walk-in@example.com")
    assert walk_in.stage == "customer" and walk_in.purchases.get().pk == results[7]["id"]
    # The batch again: nothing new.
    again = api.post("/api/v1/events/", {"events": [order, events[7]]}, format="json").json()
    assert [r["status"] for r in again["results"]] == ["unchanged", "unchanged"]
    assert Purchase.objects.count() == 2


def test_bulk_purchases_respect_the_coupon_cap(api, campaign):
    # INSTA10 may be used 3 times and has been once: of four orders in one batch, two are
    # granted and two refused, and the counter ends at the cap.
    coupon = campaign.coupons.get()
    coupon.max_redemptions, coupon.redemptions = 3, 1
    coupon.save()
    followers = [_follower(f"f-{i}", f"c{i}@example.com") for i in range(4)]
    orders = [
        _purchase(f"o-{i}", f"c{i}@example.com", "2026-03-10T10:00:00Z", coupon="INSTA10")
        for i in range(4)
    ]
    body = api.post("/api/v1/events/", {"events": followers + orders}, format="json").json()
    # The batch's UPDATE cannot take 4, so the orders go one by one: the first two get in.
    results = body["results"][4:]
    assert [r["code"] for r in results] == [201, 201, 400, 400]
    assert "maximum number of times" in results[2]["errors"]["coupon"][0]
    coupon.refresh_from_db()
    assert coupon.redemptions == 3 and Purchase.objects.count() == 2
    assert Touchpoint.objects.filter(kind="coupon").count() == 2


def test_a_batch_of_purchases_costs_a_bounded_number_of_queries(
    api, campaign, django_assert_max_num_queries
):
    followers = [_follower(f"f-{i}", f"c{i}@example.com") for i in range(50)]
    api.post("/api/v1/events/", {"events": followers}, format="json")
    orders = [
        _purchase(f"o-{i}", f"c{i}@example.com", "2026-03-10T10:00:00Z", coupon="INSTA10")
        for i in range(50)
    ]
    # Look-ups, one redemption UPDATE per coupon, the inserts, the lock and the stage writes,
    # whatever the batch size.
    with django_assert_max_num_queries(25):
        body = api.post("/api/v1/events/", {"events": orders}, format="json").json()
    assert body["created"] == 50
    assert Contact.objects.filter(stage="customer").count() == 50


def _mixed(run: str, count: int) -> list[dict]:
    """`count` new followers, each with a click and an order with a coupon."""
    events = []
    for i in range(count):
        email = f"{run}-{i}@example.com"
        events += [
            {**_follower(f"c-{run}-{i}", email), "utm_source": "ig"},
            {
                "type": "touch",
                "external_id": f"t-{run}-{i}",
                "email": email,
                "channel": "instagram",
                "kind": "click",
                "occurred_at": "2026-03-02T10:00:00Z",
            },
            _purchase(f"o-{run}-{i}", email, "2026-03-03T10:00:00Z", coupon="INSTA10"),
        ]
    return events


@pytest.mark.parametrize("count", [5, 50])
def test_a_mixed_batch_costs_a_fixed_number_of_queries(
    api, campaign, count, django_assert_max_num_queries
):
    # Per phase: its look-ups once, its inserts, one redemption UPDATE per coupon, one stage
    # write, and what the changes declare; whatever the batch size (SQLite splits the biggest
    # inserts in two), plus the API key's last use, written once a minute per key. Emails no
    # contact has as its primary one are asked once more per phase, as secondary emails. On
    # PostgreSQL, a phase that inserts contacts with emails locks them and looks once more
    # (`leads.bulk._lock_new_emails`): two queries for the contacts, two for the walk-ins.
    locks = 4 if connection.vendor == "postgresql" else 0
    with django_assert_max_num_queries(65 + locks):
        body = api.post("/api/v1/events/", {"events": _mixed("m", count)}, format="json").json()
    assert (body["created"], body["errors"]) == (3 * count, 0)
    followers = [_follower(f"f-{i}", f"c{i}@example.com") for i in range(count)]
    with django_assert_max_num_queries(24 + locks // 2):
        body = api.post("/api/v1/events/", {"events": followers}, format="json").json()
    assert body["created"] == count


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "a@example.com", "amount": "5.00"},
        {"email": "a@example.com", "amount": "5.00", "discount": "1.00", "note": "x"},
        {"contact": 3, "amount": "-1"},
        {"amount": "5.00", "occurred_at": "2026-02-30T10:00:00Z"},
    ],
)
def test_validating_only_the_given_fields_answers_as_drf_does(payload):
    # The bulk serializers skip absent optional fields without a default; the answer (values,
    # defaults, errors) is the one DRF gives walking every field.
    from rest_framework import serializers

    from leads.bulk import BulkPurchaseInput

    class EveryField(BulkPurchaseInput):
        @property
        def _writable_fields(self):
            return serializers.Serializer._writable_fields.fget(self)

    def answer(serializer):
        try:
            return serializer.run_validation(dict(payload))
        except serializers.ValidationError as exc:
            return exc.detail

    assert answer(BulkPurchaseInput()) == answer(EveryField())
