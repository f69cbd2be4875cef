"""/api/v1/refunds/ and refunds in /api/v1/events/ (SPEC §4, §10)."""

from __future__ import annotations

import datetime as dt

import pytest

from leads.models import Refund, Via
from leads.services import purchase_record, refund_record

pytestmark = pytest.mark.django_db

UTC = dt.UTC
PAID = dt.datetime(2026, 3, 10, 15, 30, tzinfo=UTC)


@pytest.fixture
def order(db):
    purchase, _ = purchase_record(
        email="ada@example.com",
        amount="80.00",
        occurred_at=PAID,
        external_id="order-1001",
        via=Via.API,
    )
    return purchase


def test_a_refund_by_the_purchases_external_id_then_replayed_then_conflicting(api, order):
    body = {
        "purchase_external_id": "order-1001",
        "amount": "25.00",
        "occurred_at": "2026-03-12T09:00:00Z",
        "external_id": "refund-1",
        "note": "one item back",
    }
    created = api.post("/api/v1/refunds/", body, format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert (data["purchase"], data["purchase_external_id"]) == (order.pk, "order-1001")
    assert (data["amount"], data["occurred_at"], data["via"]) == (
        "25.00",
        "2026-03-12T09:00:00Z",
        "api",
    )
    assert data["recorded_by"] == "root"
    again = api.post("/api/v1/refunds/", body, format="json")
    assert (again.status_code, again.json()["id"]) == (200, data["id"])
    conflict = api.post("/api/v1/refunds/", {**body, "amount": "26.00"}, format="json")
    assert conflict.status_code == 409
    assert conflict.json() == {
        "external_id": ["external_id 'refund-1' was already used with different amount."]
    }
    assert Refund.objects.count() == 1


def test_a_refund_by_purchase_id_and_the_purchase_shows_its_net(api, order):
    assert (
        api.post(
            "/api/v1/refunds/", {"purchase": order.pk, "amount": "30.00"}, format="json"
        ).status_code
        == 201
    )
    assert (
        api.post(
            "/api/v1/refunds/", {"purchase": str(order.pk), "amount": "0.50"}, format="json"
        ).status_code
        == 201
    )
    purchase = api.get(f"/api/v1/purchases/{order.pk}/").json()
    # 80.00 paid, 30.00 + 0.50 refunded: 49.50 net.
    assert (purchase["amount"], purchase["refunded"], purchase["net_amount"]) == (
        "80.00",
        "30.50",
        "49.50",
    )
    other, _ = purchase_record(email="bob@example.com", amount="10.00", via=Via.API)
    listed = {p["id"]: p for p in api.get("/api/v1/purchases/").json()["results"]}
    assert (listed[other.pk]["refunded"], listed[other.pk]["net_amount"]) == ("0.00", "10.00")
    assert listed[order.pk]["net_amount"] == "49.50"


@pytest.mark.parametrize(
    "body,field,message",
    [
        ({"amount": "1.00"}, "purchase", "Give a purchase id or the purchase's external_id."),
        ({"purchase": 999999, "amount": "1.00"}, "purchase", "Unknown purchase 999999."),
        ({"purchase": "abc", "amount": "1.00"}, "purchase", "A purchase id is a whole number."),
        ({"purchase": 2**70, "amount": "1.00"}, "purchase", None),
        (
            {"purchase_external_id": "order-nope", "amount": "1.00"},
            "purchase_external_id",
            "Unknown purchase 'order-nope'.",
        ),
        ({"purchase_external_id": "order-1001"}, "amount", None),
        ({"purchase_external_id": "order-1001", "amount": "0.00"}, "amount", None),
        ({"purchase_external_id": "order-1001", "amount": "-3.00"}, "amount", None),
        ({"purchase_external_id": "order-1001", "amount": "1.001"}, "amount", None),
        ({"purchase_external_id": "order-1001", "amount": "NaN"}, "amount", None),
        (
            {"purchase_external_id": "order-1001", "amount": "80.01"},
            "amount",
            "A refund of 80.01 is too much: at most 80.00 can be refunded on purchase #{pk}: "
            "80.00 paid, 0.00 already refunded.",
        ),
        (
            {
                "purchase_external_id": "order-1001",
                "amount": "1.00",
                "occurred_at": "2026-03-10T15:29:59Z",
            },
            "occurred_at",
            "A refund cannot come before its purchase (2026-03-10 15:30 UTC).",
        ),
        (
            {
                "purchase_external_id": "order-1001",
                "amount": "1.00",
                "occurred_at": "2099-01-01T00:00:00Z",
            },
            "occurred_at",
            None,
        ),
        (
            {"purchase_external_id": "order-1001", "amount": "1.00", "occurred_at": "yesterday"},
            "occurred_at",
            None,
        ),
    ],
)
def test_bad_input_is_a_400_at_its_field_and_writes_nothing(api, order, body, field, message):
    response = api.post("/api/v1/refunds/", body, format="json")
    assert response.status_code == 400, response.json()
    errors = response.json()
    if field is not None:
        assert field in errors, errors
    if message is not None:
        assert errors[field] == [message.format(pk=order.pk)]
    assert not Refund.objects.exists()


def test_a_purchase_named_twice_must_be_one_purchase(api, order):
    other, _ = purchase_record(email="bob@example.com", amount="10.00", via=Via.API)
    response = api.post(
        "/api/v1/refunds/",
        {"purchase": other.pk, "purchase_external_id": "order-1001", "amount": "1.00"},
        format="json",
    )
    assert response.status_code == 400
    assert "purchase_external_id" in response.json()


def test_list_filters_and_cursor_pages(api, order):
    other, _ = purchase_record(
        email="bob@example.com", amount="10.00", occurred_at=PAID, via=Via.API
    )
    for day in (11, 12, 13):
        refund_record(
            purchase=order,
            amount="1.00",
            occurred_at=dt.datetime(2026, 3, day, tzinfo=UTC),
            external_id=f"r-{day}",
            via=Via.API,
        )
    refund_record(purchase=other, amount="2.00", occurred_at=PAID, via=Via.API)

    def ids(query: str) -> list[str | None]:
        response = api.get(f"/api/v1/refunds/?{query}")
        assert response.status_code == 200, response.json()
        return [r["external_id"] for r in response.json()["results"]]

    assert ids(f"purchase={order.pk}") == ["r-13", "r-12", "r-11"]
    assert ids("purchase_external_id=order-1001") == ["r-13", "r-12", "r-11"]
    assert ids(f"contact={other.contact_id}") == [None]
    assert ids("external_id=r-12") == ["r-12"]
    assert ids("occurred_after=2026-03-12&occurred_before=2026-03-12") == ["r-12"]
    first = api.get("/api/v1/refunds/?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"]
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 2 and second["next"] is None
    seen = {r["id"] for r in first["results"]} | {r["id"] for r in second["results"]}
    assert seen == set(Refund.objects.values_list("id", flat=True))
    assert api.get("/api/v1/refunds/?purchase=abc").status_code == 400
    one = Refund.objects.get(external_id="r-11")
    assert api.get(f"/api/v1/refunds/{one.pk}/").json()["amount"] == "1.00"


def test_the_lists_queries_do_not_grow_with_their_rows(api, order, django_assert_max_num_queries):
    refund_record(purchase=order, amount="1.00", via=Via.API)
    with django_assert_max_num_queries(12) as few:
        api.get("/api/v1/refunds/")
        api.get("/api/v1/purchases/")
    for i in range(10):
        purchase, _ = purchase_record(email=f"b{i}@example.com", amount="5.00", via=Via.API)
        refund_record(purchase=purchase, amount="1.00", via=Via.API)
    with django_assert_max_num_queries(len(few.captured_queries)):
        api.get("/api/v1/refunds/")
        api.get("/api/v1/purchases/")


def test_a_superuser_deletes_a_refund_and_the_purchase_is_whole_again(api, order):
    refund, _ = refund_record(purchase=order, amount="80.00", via=Via.API)
    assert api.get(f"/api/v1/purchases/{order.pk}/").json()["net_amount"] == "0.00"
    assert api.delete(f"/api/v1/refunds/{refund.pk}/").status_code == 204
    assert api.get(f"/api/v1/purchases/{order.pk}/").json()["net_amount"] == "80.00"
    assert api.put(f"/api/v1/refunds/{refund.pk}/", {}, format="json").status_code in (404, 405)


def test_refunds_in_a_batch_may_name_a_purchase_of_the_same_batch(api):
    body = {
        "events": [
            # Sent first, applied after the purchases: the refunds' phase comes later.
            {
                "type": "refund",
                "external_id": "refund-1",
                "purchase_external_id": "order-7",
                "amount": "5.00",
            },
            {
                "type": "purchase",
                "external_id": "order-7",
                "email": "ada@example.com",
                "amount": "20.00",
                "occurred_at": "2026-03-10T10:00:00Z",
            },
            {
                "type": "refund",
                "external_id": "refund-2",
                "purchase_external_id": "order-7",
                "amount": "15.01",
            },
            {"type": "refund", "purchase_external_id": "order-7", "amount": "1.00"},
        ]
    }
    response = api.post("/api/v1/events/", body, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["status"], r["code"]) for r in results] == [
        ("created", 201),
        ("created", 201),
        ("error", 400),  # 15.01 > the 15.00 left
        ("error", 400),  # no external_id
    ]
    assert "amount" in results[2]["errors"]
    assert "external_id" in results[3]["errors"]
    again = api.post("/api/v1/events/", {"events": body["events"][:2]}, format="json").json()
    assert [r["status"] for r in again["results"]] == ["unchanged", "unchanged"]
    assert list(Refund.objects.values_list("amount", flat=True)) == [5]
