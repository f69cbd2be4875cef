"""Bad input: a 4xx with field messages, never a 500, never a half-written record."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign, Cost
from leads.models import Contact, Purchase, Touchpoint
from tests.factories import CampaignFactory, ContactFactory

pytestmark = pytest.mark.django_db


def test_malformed_json_is_a_400(api):
    response = api.generic(
        "POST", "/api/v1/contacts/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize(
    "path,body,field",
    [
        (
            "/api/v1/campaigns/",
            {"name": "x", "channel": "myspace", "starts_on": "2026-03-01"},
            "channel",
        ),
        (
            "/api/v1/campaigns/",
            {"name": "x", "channel": "x", "starts_on": "2026-02-30"},
            "starts_on",
        ),
        (
            "/api/v1/campaigns/",
            {"name": "x", "channel": "x", "starts_on": "2026-03-02", "ends_on": "2026-03-01"},
            "ends_on",
        ),
        (
            "/api/v1/campaigns/",
            {"name": "x", "channel": "x", "starts_on": "2026-03-01", "budget": "-5"},
            "budget",
        ),
        (
            "/api/v1/campaigns/",
            {"name": "x" * 201, "channel": "x", "starts_on": "2026-03-01"},
            "name",
        ),
        (
            "/api/v1/campaigns/",
            {"name": "nul\x00byte", "channel": "x", "starts_on": "2026-03-01"},
            "name",
        ),
        (
            "/api/v1/costs/",
            {"campaign": 999999, "incurred_on": "2026-03-01", "amount": "1.00"},
            "campaign",
        ),
        (
            "/api/v1/costs/",
            {"campaign": "CAMPAIGN", "incurred_on": "2026-03-01", "amount": "-1.00"},
            "amount",
        ),
        (
            "/api/v1/costs/",
            {"campaign": "CAMPAIGN", "incurred_on": "2026-03-01", "amount": "1e30"},
            "amount",
        ),
        (
            "/api/v1/engagement/",
            {"campaign": "CAMPAIGN", "date": "2026-03-01", "impressions": -1},
            "impressions",
        ),
        (
            "/api/v1/engagement/",
            {"campaign": "CAMPAIGN", "date": "2026-03-01", "impressions": 10**12},
            "impressions",
        ),
        (
            "/api/v1/engagement/",
            {"campaign": "CAMPAIGN", "date": "2026-03-01", "clicks": "many"},
            "clicks",
        ),
        ("/api/v1/contacts/", {"email": "not-an-email"}, "email"),
        ("/api/v1/contacts/", {"email": "a@example.com", "stage": "vip"}, "stage"),
        (
            "/api/v1/contacts/",
            {"email": "a@example.com", "source_channel": "myspace"},
            "source_channel",
        ),
        ("/api/v1/contacts/", {"email": "a@example.com", "coupon": "NOPE"}, "coupon"),
        (
            "/api/v1/contacts/",
            {"email": "a@example.com", "entered_at": "2026-13-01T00:00:00Z"},
            "entered_at",
        ),
        (
            "/api/v1/contacts/",
            {"email": "a@example.com", "entered_at": "2099-01-01T00:00:00Z"},
            "entered_at",
        ),
        ("/api/v1/contacts/", {"email": "a@example.com", "first_name": "\x00"}, "first_name"),
        ("/api/v1/contacts/", {"email": "a@example.com", "notes": "x" * 100_000}, "notes"),
        (
            "/api/v1/touchpoints/",
            {"contact": "CONTACT", "channel": "x", "kind": "teleport"},
            "kind",
        ),
        (
            "/api/v1/touchpoints/",
            {"contact": "CONTACT", "tracking_phone": "+1999"},
            "tracking_phone",
        ),
        (
            "/api/v1/touchpoints/",
            {"contact": "CONTACT", "channel": "x", "metadata": [1, 2]},
            "metadata",
        ),
        (
            "/api/v1/touchpoints/",
            {"contact": "CONTACT", "channel": "x", "metadata": {"k": "x" * 10_000}},
            "metadata",
        ),
        ("/api/v1/touchpoints/", {"channel": "x"}, "contact"),
        ("/api/v1/purchases/", {"contact": "CONTACT", "amount": "0"}, "amount"),
        ("/api/v1/purchases/", {"contact": "CONTACT", "amount": "-3"}, "amount"),
        ("/api/v1/purchases/", {"contact": "CONTACT", "amount": "1.001"}, "amount"),
        ("/api/v1/purchases/", {"contact": "CONTACT", "amount": "abc"}, "amount"),
        ("/api/v1/purchases/", {"contact": "CONTACT", "amount": "5", "discount": "-1"}, "discount"),
        ("/api/v1/purchases/", {"contact": 123456789, "amount": "5"}, "contact"),
        (
            "/api/v1/purchases/",
            {"contact": "CONTACT", "amount": "5", "occurred_at": "yesterday"},
            "occurred_at",
        ),
    ],
)
def test_bad_fields_get_field_messages(api, path, body, field):
    campaign, contact = CampaignFactory(), ContactFactory()
    body = {
        k: campaign.pk if v == "CAMPAIGN" else contact.pk if v == "CONTACT" else v
        for k, v in body.items()
    }
    counts = (
        Campaign.objects.count(),
        Cost.objects.count(),
        Contact.objects.count(),
        Touchpoint.objects.count(),
        Purchase.objects.count(),
    )
    response = api.post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert counts == (
        Campaign.objects.count(),
        Cost.objects.count(),
        Contact.objects.count(),
        Touchpoint.objects.count(),
        Purchase.objects.count(),
    )


def test_a_huge_body_is_refused_not_crashed(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post(
        "/api/v1/contacts/", {"email": "a@example.com", "notes": "x" * 5000}, format="json"
    )
    assert response.status_code in (400, 413)
    assert not Contact.objects.exists()


def test_unknown_ids_are_404(api):
    assert api.get("/api/v1/contacts/999999/").status_code == 404
    assert api.get("/api/v1/coupons/NOPE/").status_code == 404
    assert (
        api.post(
            "/api/v1/contacts/999999/transition/", {"stage": "lead"}, format="json"
        ).status_code
        == 404
    )


def test_token_clients_are_throttled_with_a_429(api, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import UserRateThrottle

    cache.clear()
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/hour"})
    codes = [api.get("/api/v1/channels/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    cache.clear()
