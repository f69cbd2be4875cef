"""Refunds in the admin: an inline on the purchase's page and a list, written through the
services; Sales adds refunds and deletes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Purchase, Refund, Via
from leads.services import purchase_record, refund_record

pytestmark = pytest.mark.django_db

UTC = dt.UTC
PAID = dt.datetime(2026, 3, 10, 15, 30, tzinfo=UTC)


@pytest.fixture
def sales_client(client, sales_user):
    client.force_login(sales_user)
    return client


@pytest.fixture
def root_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def purchase() -> Purchase:
    bought, _ = purchase_record(
        email="ada@example.com", amount="80.00", occurred_at=PAID, external_id="o-1", via=Via.API
    )
    return bought


def inline_post(purchase: Purchase, rows: list[dict], initial: list[Refund] = ()) -> dict:
    """The purchase page's form: nothing of the purchase (all read-only), the refunds' rows."""
    body = {
        "refunds-TOTAL_FORMS": str(len(initial) + len(rows)),
        "refunds-INITIAL_FORMS": str(len(initial)),
        "refunds-MIN_NUM_FORMS": "0",
        "refunds-MAX_NUM_FORMS": "1000",
    }
    for n, refund in enumerate(initial):
        body[f"refunds-{n}-id"] = str(refund.pk)
        body[f"refunds-{n}-purchase"] = str(purchase.pk)
    for n, row in enumerate(rows, start=len(initial)):
        at = timezone.localtime(row["at"])
        body.update(
            {
                f"refunds-{n}-purchase": str(purchase.pk),
                f"refunds-{n}-amount": row["amount"],
                f"refunds-{n}-occurred_at_0": at.strftime("%Y-%m-%d"),
                f"refunds-{n}-occurred_at_1": at.strftime("%H:%M:%S"),
                f"refunds-{n}-external_id": row.get("external_id", ""),
                f"refunds-{n}-note": row.get("note", ""),
            }
        )
    return body


def test_sales_adds_a_refund_on_the_purchases_page(sales_client, sales_user, purchase):
    page = reverse("admin:leads_purchase_change", args=[purchase.pk])
    shown = sales_client.get(page)
    assert shown.status_code == 200
    assert "refunds-TOTAL_FORMS" in shown.content.decode()
    body = inline_post(
        purchase, [{"amount": "30.00", "at": PAID + dt.timedelta(days=1), "note": "returned"}]
    )
    response = sales_client.post(page, body)
    assert response.status_code == 302, response.content.decode()[:3000]
    refund = Refund.objects.get()
    assert (refund.amount, refund.note, refund.via) == (Decimal("30.00"), "returned", "admin")
    assert refund.recorded_by == sales_user
    purchase.refresh_from_db()
    assert purchase.amount == Decimal("80.00")  # nothing of the purchase changed


def test_an_over_refund_in_the_inline_is_refused_with_its_reason(sales_client, purchase):
    refund_record(purchase=purchase, amount="70.00", via=Via.API)
    page = reverse("admin:leads_purchase_change", args=[purchase.pk])
    body = inline_post(
        purchase,
        [{"amount": "10.01", "at": PAID + dt.timedelta(days=1)}],
        initial=list(Refund.objects.all()),
    )
    response = sales_client.post(page, body, follow=True)
    assert "at most 10.00 can be refunded" in response.content.decode()
    assert Refund.objects.count() == 1


def test_a_refund_before_the_purchase_is_refused_in_the_inline(sales_client, purchase):
    page = reverse("admin:leads_purchase_change", args=[purchase.pk])
    body = inline_post(purchase, [{"amount": "1.00", "at": PAID - dt.timedelta(hours=1)}])
    response = sales_client.post(page, body, follow=True)
    assert "cannot come before its purchase" in response.content.decode()
    assert not Refund.objects.exists()


def test_sales_deletes_no_refund_and_a_superuser_does_through_the_service(
    client, sales_user, superuser, purchase
):
    refund, _ = refund_record(purchase=purchase, amount="5.00", via=Via.API)
    client.force_login(sales_user)
    delete = reverse("admin:leads_refund_delete", args=[refund.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    page = reverse("admin:leads_purchase_change", args=[purchase.pk])
    body = inline_post(purchase, [], initial=[refund])
    body["refunds-0-DELETE"] = "on"
    client.post(page, body)
    assert Refund.objects.exists()  # no delete box for Sales: the row stays
    client.force_login(superuser)
    response = client.post(page, body)
    assert response.status_code == 302
    assert not Refund.objects.exists()


def test_the_refund_list_and_its_add_page(sales_client, purchase):
    refund_record(purchase=purchase, amount="5.00", external_id="r-1", via=Via.API)
    listed = sales_client.get(reverse("admin:leads_refund_changelist"))
    assert listed.status_code == 200
    assert "r-1" in listed.content.decode() and "ada@example.com" in listed.content.decode()
    for query in ("?q=r-1", "?occurred_at__gte=2026-01-01T00:00:00%2B00:00"):
        assert sales_client.get(reverse("admin:leads_refund_changelist") + query).status_code == 200
    at = timezone.localtime(PAID + dt.timedelta(days=2))
    response = sales_client.post(
        reverse("admin:leads_refund_add"),
        {
            "purchase": purchase.pk,
            "amount": "7.50",
            "occurred_at_0": at.strftime("%Y-%m-%d"),
            "occurred_at_1": at.strftime("%H:%M:%S"),
            "external_id": "",
            "note": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Refund.objects.filter(amount=Decimal("7.50"), via="admin").exists()


def test_the_refund_list_costs_the_same_at_more_rows(
    sales_client, purchase, django_assert_max_num_queries
):
    refund_record(purchase=purchase, amount="1.00", via=Via.API)
    url = reverse("admin:leads_refund_changelist")
    with django_assert_max_num_queries(20) as few:
        sales_client.get(url)
    for i in range(10):
        other, _ = purchase_record(email=f"b{i}@example.com", amount="5.00", via=Via.API)
        refund_record(purchase=other, amount="1.00", via=Via.API)
    with django_assert_max_num_queries(len(few.captured_queries)):
        sales_client.get(url)


def test_lists_show_revenue_net_of_refunds(sales_client, purchase):
    refund_record(purchase=purchase, amount="30.00", via=Via.API)
    purchases = sales_client.get(reverse("admin:leads_purchase_changelist")).content.decode()
    assert "30.00" in purchases  # the refunded column
    contacts = sales_client.get(reverse("admin:leads_contact_changelist"))
    contact = next(c for c in contacts.context["cl"].result_list if c.pk == purchase.contact_id)
    assert contact.lifetime_revenue_value == Decimal("50.00")  # 80.00 paid, 30.00 refunded


def test_adding_a_purchase_needs_no_refund_rows(client, superuser, reference_data):
    """The add page has no refunds inline, so a form posted without its formset (a script, an
    old page) records the purchase."""
    from leads.models import Purchase
    from tests.factories import ContactFactory

    ada = ContactFactory()
    client.force_login(superuser)
    page = client.get("/admin/leads/purchase/add/")
    assert "refunds-TOTAL_FORMS" not in page.content.decode()
    response = client.post(
        "/admin/leads/purchase/add/",
        {
            "contact": ada.pk,
            "amount": "25.00",
            "discount": "0",
            "occurred_at_0": "2026-03-04",
            "occurred_at_1": "09:30:00",
            "coupon": "",
            "external_id": "admin-add-1",
            "note": "",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    assert Purchase.objects.get(external_id="admin-add-1").amount == 25
