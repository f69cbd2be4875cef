"""The permission matrix: each role allowed or refused on each endpoint and method (SPEC §8)."""

from __future__ import annotations

import pytest

from leads.models import Via
from leads.services import contact_create, purchase_record, refund_record
from tests.factories import CampaignFactory, CostFactory, CouponFactory, channel

pytestmark = pytest.mark.django_db

ROLES = ("sales", "marketing", "integration", "superuser", "anonymous")
# endpoint, method: the roles allowed (everyone else gets 401/403).
MATRIX = [
    ("channels", "get", {"sales", "marketing", "integration", "superuser"}),
    ("channels", "post", {"marketing", "superuser"}),
    ("campaigns", "get", {"sales", "marketing", "integration", "superuser"}),
    ("campaigns", "post", {"marketing", "superuser"}),
    ("costs", "get", {"marketing", "superuser"}),
    ("costs", "post", {"marketing", "superuser"}),
    ("coupons", "get", {"sales", "marketing", "integration", "superuser"}),
    ("coupons", "post", {"marketing", "superuser"}),
    ("engagement", "get", {"marketing", "integration", "superuser"}),
    ("engagement", "post", {"marketing", "integration", "superuser"}),
    ("contacts", "get", {"sales", "marketing", "integration", "superuser"}),
    ("contacts", "post", {"sales", "integration", "superuser"}),
    ("contact", "patch", {"sales", "integration", "superuser"}),
    ("transition", "post", {"sales", "integration", "superuser"}),
    ("history", "get", {"sales", "marketing", "integration", "superuser"}),
    ("touchpoints", "get", {"sales", "marketing", "integration", "superuser"}),
    ("touchpoints", "post", {"sales", "integration", "superuser"}),
    ("purchases", "get", {"sales", "marketing", "integration", "superuser"}),
    ("purchases", "post", {"sales", "integration", "superuser"}),
    ("refunds", "get", {"sales", "marketing", "integration", "superuser"}),
    ("refunds", "post", {"sales", "integration", "superuser"}),
    # A refund recorded by mistake is deleted by a superuser only (as a purchase is).
    ("refund", "delete", {"superuser"}),
    (
        "events",
        "post",
        {"sales", "marketing", "integration", "superuser"},
    ),  # per-event checks inside
    ("schema", "get", {"sales", "marketing", "integration", "superuser"}),
]


@pytest.fixture
def world(db):
    campaign = CampaignFactory(channel=channel("pinterest"))
    CostFactory(campaign=campaign)
    CouponFactory(code="PIN10", campaign=campaign)
    contact = contact_create(email="a@example.com", source="x", via=Via.API)
    purchase, _ = purchase_record(email="buyer@example.com", amount="100.00", via=Via.API)
    refund, _ = refund_record(purchase=purchase, amount="1.00", via=Via.API)
    return {"campaign": campaign, "contact": contact, "purchase": purchase, "refund": refund}


def request(client, endpoint: str, method: str, world: dict, n: int):
    contact, campaign = world["contact"], world["campaign"]
    bodies = {
        "channels": {"slug": f"mastodon{n}", "name": "Mastodon", "kind": "social"},
        "campaigns": {"name": f"C{n}", "channel": "x", "starts_on": "2026-03-01"},
        "costs": {"campaign": campaign.pk, "incurred_on": "2026-03-01", "amount": "1.00"},
        "coupons": {"code": f"NEW{n}", "campaign": campaign.pk},
        "engagement": {"campaign": campaign.pk, "date": "2026-03-01", "impressions": 1},
        "contacts": {"email": f"n{n}@example.com"},
        "touchpoints": {"contact": contact.pk, "channel": "x"},
        "purchases": {"contact": contact.pk, "amount": "1.00"},
        "events": {
            "events": [
                {"type": "touch", "external_id": f"e{n}", "contact": contact.pk, "channel": "x"}
            ]
        },
        "refunds": {"purchase": world["purchase"].pk, "amount": "1.00"},
        "refund": {},
        "contact": {"first_name": "Z"},
        "transition": {"stage": "lead"},
    }
    paths = {
        "contact": f"/api/v1/contacts/{contact.pk}/",
        "transition": f"/api/v1/contacts/{contact.pk}/transition/",
        "history": f"/api/v1/contacts/{contact.pk}/history/",
        "refund": f"/api/v1/refunds/{world['refund'].pk}/",
        "schema": "/api/schema/",
    }
    path = paths.get(endpoint, f"/api/v1/{endpoint}/")
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, bodies[endpoint], format="json")


@pytest.mark.parametrize("endpoint,method,allowed", MATRIX, ids=[f"{m} {e}" for e, m, _ in MATRIX])
def test_permission_matrix(clients, world, endpoint, method, allowed):
    for n, role in enumerate(ROLES):
        response = request(clients[role], endpoint, method, world, n)
        if role in allowed:
            assert response.status_code < 400, (
                role,
                response.status_code,
                getattr(response, "data", None),
            )
        elif role == "anonymous":
            assert response.status_code == 401, (role, response.status_code)
        else:
            assert response.status_code == 403, (role, response.status_code)


def test_refund_events_need_the_refund_permission(clients, world):
    event = {
        "type": "refund",
        "external_id": "r-1",
        "purchase": world["purchase"].pk,
        "amount": "2.00",
    }
    for role, expected in (("marketing", ("error", 403)), ("integration", ("created", 201))):
        body = {"events": [event]}
        results = clients[role].post("/api/v1/events/", body, format="json").json()["results"]
        assert (results[0]["status"], results[0]["code"]) == expected, role


def test_events_check_each_type_against_the_role(clients, world):
    body = {
        "events": [
            {"type": "contact", "external_id": "c-1", "email": "m@example.com"},
            {
                "type": "engagement",
                "campaign": world["campaign"].pk,
                "date": "2026-03-01",
                "impressions": 5,
            },
        ]
    }
    results = clients["marketing"].post("/api/v1/events/", body, format="json").json()["results"]
    assert [(r["status"], r["code"]) for r in results] == [("error", 403), ("created", 201)]
