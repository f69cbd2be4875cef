"""Contract tests: paths, codes and field names of SPEC §4."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import EngagementStat
from leads.models import Contact, Purchase, StageChange, Touchpoint, Via
from leads.services import contact_create, contact_move_stage
from tests.factories import CampaignFactory, ContactFactory, CouponFactory, channel

pytestmark = pytest.mark.django_db

T0 = "2026-03-01T09:00:00Z"


def test_channels_by_slug_with_aliases(api):
    response = api.get("/api/v1/channels/facebook/")
    assert response.status_code == 200
    assert response.json()["kind"] == "social" and "l.facebook.com" in response.json()["aliases"]
    slugs = [c["slug"] for c in api.get("/api/v1/channels/").json()["results"]]
    assert {
        "facebook",
        "instagram",
        "x",
        "linkedin",
        "pinterest",
        "tiktok",
        "youtube",
        "email",
        "referral",
        "direct",
    } <= set(slugs)


def test_campaign_crud_with_channel_slug(api):
    body = {
        "name": "Spring pins",
        "channel": "pinterest",
        "objective": "sales",
        "starts_on": "2026-03-01",
        "budget": "4000.00",
        "tracking_phone": "+1 (555) 010-0100",
        "utm_campaign": "spring",
    }
    response = api.post("/api/v1/campaigns/", body)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["channel"] == "pinterest" and data["tracking_phone"] == "+15550100100"
    assert (
        api.patch(f"/api/v1/campaigns/{data['id']}/", {"budget": "4500.00"}).json()["budget"]
        == "4500.00"
    )
    again = api.post("/api/v1/campaigns/", {**body, "name": "Other"})
    assert again.status_code == 400 and "tracking_phone" in again.json()
    assert api.get("/api/v1/campaigns/?channel=pinterest").json()["count"] == 1


def test_costs_and_coupons(api):
    campaign = CampaignFactory()
    response = api.post(
        "/api/v1/costs/",
        {
            "campaign": campaign.pk,
            "incurred_on": "2026-03-02",
            "amount": "480.00",
            "category": "staff_time",
        },
    )
    assert response.status_code == 201 and response.json()["amount"] == "480.00"
    response = api.post("/api/v1/coupons/", {"code": "LINK10", "campaign": campaign.pk})
    assert response.status_code == 201
    assert api.get("/api/v1/coupons/link10/").json()["code"] == "LINK10"  # case-insensitive lookup
    clash = api.post("/api/v1/coupons/", {"code": "link10", "campaign": campaign.pk})
    assert clash.status_code == 400 and "already exists" in clash.json()["code"][0]


def test_engagement_upsert_201_then_200(api):
    campaign = CampaignFactory()
    body = {"campaign": campaign.pk, "date": "2026-03-02", "impressions": 1000, "clicks": 40}
    first = api.post("/api/v1/engagement/", body)
    assert first.status_code == 201 and first.json()["engagement_rate"] == "0.0400"
    second = api.post("/api/v1/engagement/", {**body, "impressions": 2000})
    assert second.status_code == 200 and second.json()["impressions"] == 2000
    assert EngagementStat.objects.count() == 1


def test_contact_create_with_source_stage_and_date(api, superuser):
    campaign = CampaignFactory(channel=channel("linkedin"))
    response = api.post(
        "/api/v1/contacts/",
        {
            "email": "ada@example.com",
            "source_campaign": campaign.pk,
            "stage": "lead",
            "entered_at": T0,
            "external_id": "form-1",
        },
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["source_channel"], data["stage"], data["became_lead_at"]) == (
        "linkedin",
        "lead",
        "2026-03-01T09:00:00Z",
    )
    entry = StageChange.objects.get(contact_id=data["id"])
    assert (entry.via, entry.changed_by) == ("api", superuser)


def test_contact_replay_and_conflict(api):
    body = {
        "email": "ada@example.com",
        "first_name": "Ada",
        "utm_source": "fb",
        "external_id": "crm-1",
    }
    assert api.post("/api/v1/contacts/", body).status_code == 201
    again = api.post("/api/v1/contacts/", body)
    assert again.status_code == 200
    conflict = api.post("/api/v1/contacts/", {**body, "first_name": "Eve"})
    assert conflict.status_code == 409 and "first_name" in conflict.json()["external_id"][0]
    assert Contact.objects.count() == 1


def test_contact_email_in_another_case_is_a_conflict(api):
    ContactFactory(email="Ada@Example.com")
    response = api.post("/api/v1/contacts/", {"email": "ada@example.com"})
    assert response.status_code == 409 and "email" in response.json()


def test_contact_filters(api):
    a = contact_create(
        email="a@example.com",
        source="pinterest",
        entered_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        via=Via.API,
    )
    contact_create(
        email="b@example.com",
        source="x",
        entered_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
        via=Via.API,
    )
    contact_move_stage(
        contact=a, stage="lead", at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC), via=Via.API
    )

    def ids(query: str) -> list[str]:
        response = api.get("/api/v1/contacts/" + query)
        assert response.status_code == 200, response.json()
        return [c["email"] for c in response.json()["results"]]

    assert ids("?stage=lead") == ["a@example.com"]
    assert ids("?source_channel=x") == ["b@example.com"]
    assert ids("?entered_after=2026-03-15") == ["b@example.com"]
    assert ids("?entered_before=2026-03-01") == ["a@example.com"]
    assert ids("?lead_after=2026-03-02&lead_before=2026-03-02") == ["a@example.com"]
    assert ids("?search=A@EXAMPLE.COM") == ["a@example.com"]
    assert ids("") == ["b@example.com", "a@example.com"]  # newest first


def test_patch_cannot_change_the_stage(api):
    contact = ContactFactory()
    response = api.patch(
        f"/api/v1/contacts/{contact.pk}/", {"first_name": "New", "stage": "customer"}
    )
    assert response.status_code == 200 and response.json()["first_name"] == "New"
    contact.refresh_from_db()
    assert contact.stage == "follower"


def test_transition_history_and_refusals(clients):
    api = clients["integration"]
    contact = contact_create(
        email="a@example.com", entered_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC), via=Via.API
    )
    url = f"/api/v1/contacts/{contact.pk}/"
    response = api.post(url + "transition/", {"stage": "qualified", "at": "2026-03-03T10:00:00Z"})
    assert (
        response.status_code == 200 and response.json()["became_lead_at"] == "2026-03-03T10:00:00Z"
    )
    refused = api.post(url + "transition/", {"stage": "lead"})
    assert refused.status_code == 409 and "forward" in refused.json()["stage"][0]
    forced = api.post(url + "transition/", {"stage": "lead", "force": True})
    assert forced.status_code == 403
    history = api.get(url + "history/").json()
    assert [(h["from_stage"], h["to_stage"], h["via"]) for h in history] == [
        ("", "follower", "api"),
        ("follower", "qualified", "api"),
    ]
    assert history[1]["changed_by"] == "shopbot"
    assert (
        clients["superuser"].post(url + "transition/", {"stage": "lead", "force": True}).status_code
        == 200
    )


def test_touchpoints_by_email_alias_and_tracking_phone(api):
    contact = ContactFactory(email="Ada@Example.com")
    webinar = CampaignFactory(channel=channel("linkedin"), tracking_phone="+15550100")
    response = api.post(
        "/api/v1/touchpoints/",
        {
            "email": "ada@example.com",
            "utm_source": "t.co",
            "kind": "click",
            "occurred_at": T0,
            "external_id": "c-1",
        },
    )
    assert response.status_code == 201, response.json()
    assert (response.json()["contact"], response.json()["channel"]) == (contact.pk, "x")
    assert (
        api.post(
            "/api/v1/touchpoints/",
            {
                "email": "ada@example.com",
                "utm_source": "t.co",
                "kind": "click",
                "occurred_at": T0,
                "external_id": "c-1",
            },
        ).status_code
        == 200
    )
    call = api.post(
        "/api/v1/touchpoints/",
        {"contact": contact.pk, "tracking_phone": "+1 555 0100", "occurred_at": T0},
    )
    assert call.status_code == 201 and (call.json()["kind"], call.json()["campaign"]) == (
        "call",
        webinar.pk,
    )
    unknown = api.post("/api/v1/touchpoints/", {"email": "nobody@example.com", "channel": "x"})
    assert unknown.status_code == 400 and "email" in unknown.json()


def test_purchases_by_email_with_coupon(api):
    coupon = CouponFactory(code="PIN15", campaign=CampaignFactory(channel=channel("pinterest")))
    body = {
        "email": "new@example.com",
        "amount": "85.00",
        "discount": "15.00",
        "coupon": "pin15",
        "occurred_at": T0,
        "external_id": "order-1",
        "first_name": "Nia",
    }
    response = api.post("/api/v1/purchases/", body)
    assert response.status_code == 201, response.json()
    assert (response.json()["coupon"], response.json()["amount"]) == ("PIN15", "85.00")
    contact = Contact.objects.get()
    assert (contact.stage, contact.first_name, contact.source_campaign) == (
        "customer",
        "Nia",
        coupon.campaign,
    )
    assert api.post("/api/v1/purchases/", body).status_code == 200
    conflict = api.post("/api/v1/purchases/", {**body, "amount": "90.00"})
    assert conflict.status_code == 409
    assert Purchase.objects.count() == 1 and Touchpoint.objects.count() == 1


def test_refused_coupon_is_a_400_with_the_reason(api):
    CouponFactory(code="OLD", active=False)
    response = api.post(
        "/api/v1/purchases/", {"email": "a@example.com", "amount": "5.00", "coupon": "OLD"}
    )
    assert response.status_code == 400 and "not active" in response.json()["coupon"][0]
    assert not Contact.objects.exists()


def test_merge_and_erase_over_the_api(clients):
    keep, other = ContactFactory(email="a@example.com"), ContactFactory(email="", handle="@a")
    assert (
        clients["integration"]
        .post(f"/api/v1/contacts/{keep.pk}/merge/", {"other": other.pk})
        .status_code
        == 403
    )
    response = clients["sales"].post(f"/api/v1/contacts/{keep.pk}/merge/", {"other": other.pk})
    assert response.status_code == 200 and response.json()["handle"] == "@a"
    assert clients["sales"].post(f"/api/v1/contacts/{keep.pk}/erase/").status_code == 403
    response = clients["superuser"].post(f"/api/v1/contacts/{keep.pk}/erase/")
    assert response.status_code == 200 and response.json()["email"] == ""


def test_amounts_are_strings_with_two_decimals(api):
    contact = ContactFactory()
    Purchase.objects.create(
        contact=contact, amount=Decimal("10.5"), occurred_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    )
    assert api.get("/api/v1/purchases/").json()["results"][0]["amount"] == "10.50"
