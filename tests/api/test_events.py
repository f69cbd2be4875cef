"""POST /api/v1/events/: mixed batches, one result per event, bad events alone rolled back."""

from __future__ import annotations

import pytest

from campaigns.models import EngagementStat
from leads.models import Contact, Purchase, Touchpoint
from tests.factories import CampaignFactory, CouponFactory, channel

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
    # Plain touches go through the bulk path: a fixed number of look-ups and one insert,
    # whatever the batch size.
    with django_assert_max_num_queries(20):
        body = api.post("/api/v1/events/", {"events": events}, format="json").json()
    assert body["created"] == 50


def test_bulk_and_careful_paths_agree(api, campaign):
    # A contact with a coupon takes the per-event path; plain ones the bulk path. Both record
    # the entry history and the first touch the same way.
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
    ]
    body = api.post("/api/v1/events/", {"events": events}, format="json").json()
    assert [r["status"] for r in body["results"]] == ["created", "created"]
    for email in ("plain@example.com", "coupon@example.com"):
        contact = Contact.objects.get(email=email)
        assert contact.source_channel.slug == "instagram"
        assert contact.stage_changes.get().to_stage == "follower"
        touch = Touchpoint.objects.get(contact=contact)
        assert (touch.kind, touch.occurred_at.isoformat()) == (
            "follow",
            "2026-03-02T10:00:00+00:00",
        )


def test_duplicates_inside_one_batch(api, campaign):
    contact = {"type": "contact", "external_id": "dup", "email": "dup@example.com"}
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
        {"events": [contact, contact, touch, touch, other_touch, same_email]},
        format="json",
    ).json()
    statuses = [(r["status"], r["code"]) for r in body["results"]]
    assert statuses == [
        ("created", 201),
        ("error", 409),
        ("created", 201),
        ("unchanged", 200),
        ("error", 409),
        ("error", 409),
    ]
    assert body["results"][3]["id"] == body["results"][2]["id"]
    assert (
        Contact.objects.count() == 1 and Touchpoint.objects.filter(external_id="t-dup").count() == 1
    )


def test_unknown_references_in_bulk_events(api):
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
    ]
    results = api.post("/api/v1/events/", {"events": events}, format="json").json()["results"]
    assert [next(iter(r["errors"])) for r in results] == [
        "source_channel",
        "source_campaign",
        "contact",
        "email",
    ]
    assert not Contact.objects.exists()
