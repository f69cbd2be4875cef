"""Retries are safe (issue: retries that answered 409): what an integration sends again, after a
timeout or at the same moment as the first copy, is answered as a replay, never a conflict."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from leads.models import Contact, Purchase, Touchpoint

pytestmark = pytest.mark.django_db


def later(monkeypatch, minutes: int) -> None:
    """The clock moves on between the first delivery and its retry."""
    moved = timezone.now() + dt.timedelta(minutes=minutes)
    monkeypatch.setattr(timezone, "now", lambda: moved)


def test_a_purchase_retried_without_a_time_is_a_replay(api, monkeypatch):
    body = {"email": "ada@example.com", "amount": "30.00", "external_id": "order-7"}
    first = api.post("/api/v1/purchases/", body, format="json")
    assert first.status_code == 201, first.json()
    later(monkeypatch, 90)
    again = api.post("/api/v1/purchases/", body, format="json")
    assert again.status_code == 200, again.json()
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["occurred_at"] == first.json()["occurred_at"]
    assert Purchase.objects.count() == 1


def test_a_touch_retried_without_a_time_is_a_replay(api, monkeypatch):
    api.post("/api/v1/contacts/", {"email": "ada@example.com"}, format="json")
    body = {
        "email": "ada@example.com",
        "channel": "pinterest",
        "kind": "click",
        "external_id": "t-1",
    }
    first = api.post("/api/v1/touchpoints/", body, format="json")
    assert first.status_code == 201, first.json()
    later(monkeypatch, 90)
    again = api.post("/api/v1/touchpoints/", body, format="json")
    assert again.status_code == 200, again.json()
    assert again.json()["id"] == first.json()["id"]
    assert Touchpoint.objects.filter(external_id="t-1").count() == 1


def test_a_contact_retried_is_a_replay(api, monkeypatch):
    body = {"email": "ada@example.com", "first_name": "Ada", "external_id": "form-1"}
    first = api.post("/api/v1/contacts/", body, format="json")
    assert first.status_code == 201, first.json()
    later(monkeypatch, 5)
    again = api.post("/api/v1/contacts/", body, format="json")
    assert again.status_code == 200, again.json()
    assert again.json()["id"] == first.json()["id"]
    assert Contact.objects.count() == 1
