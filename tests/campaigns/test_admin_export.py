"""Any admin list, as filtered, searched and sorted, exported as CSV: every row (not one page),
the columns as shown, formula-looking cells neutralised, queries that do not grow with rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Cost
from leads.models import Stage
from tests.factories import CampaignFactory, ContactFactory, UserFactory, channel

pytestmark = pytest.mark.django_db


def rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")  # a spreadsheet reads it as UTF-8
    return list(csv.reader(io.StringIO(body[1:])))


def test_contacts_as_filtered_and_searched_every_page(client, superuser, reference_data):
    entered = timezone.now() - dt.timedelta(days=2)
    lead = {"stage": Stage.LEAD, "entered_at": entered, "became_lead_at": entered}
    ContactFactory.create_batch(55, first_name="Ada", **lead)
    ContactFactory.create_batch(3, first_name="Bob", **lead)
    ContactFactory(first_name="=HYPERLINK(1)", last_name="Ada", **lead)
    ContactFactory.create_batch(2, first_name="Ada")  # followers: filtered out
    client.force_login(superuser)
    listed = client.get(reverse("admin:leads_contact_changelist"), {"stage": "lead", "q": "ada"})
    url = reverse("admin:leads_contact_export_csv")
    assert f'href="{url}?q=ada&amp;stage=lead"' in listed.content.decode()
    exported = rows(client.get(url, {"stage": "lead", "q": "ada"}))
    header, data = exported[0], exported[1:]
    assert header == [
        "Name",
        "Email",
        "Stage",
        "Source channel",
        "Source campaign",
        "Coupon",
        "Heard via",
        "Heard about us",
        "Owner",
        "Lifetime revenue",
        "Entered at",
    ]
    # 55 Adas and the one whose last name is Ada: more than the list's page of 50.
    assert len(data) == 56
    # A name that would run as a formula in a spreadsheet is text.
    assert sum(cell.startswith("'=HYPERLINK(1)") for row in data for cell in row) == 1


def test_costs_columns_and_query_count(
    client, superuser, reference_data, django_assert_max_num_queries
):
    pins = CampaignFactory(name="Spring pins", channel=channel("pinterest"))

    def add(n: int) -> None:
        for i in range(n):
            Cost.objects.create(
                campaign=pins, incurred_on=dt.date(2026, 3, 1 + i % 28), amount=Decimal("1.50")
            )

    client.force_login(superuser)
    url = reverse("admin:campaigns_cost_export_csv")
    add(3)
    with django_assert_max_num_queries(12) as few:
        rows(client.get(url))
    add(60)
    with django_assert_max_num_queries(len(few.captured_queries)):
        exported = rows(client.get(url, {"category__exact": "ad_spend"}))
    assert exported[0] == ["Incurred on", "Campaign", "Category", "Amount", "Note"]
    assert len(exported) == 64
    assert exported[1][1:4] == ["Spring pins", "Ad spend", "1.50"]


def test_who_may_export(client, reference_data):
    url = reverse("admin:campaigns_cost_export_csv")
    client.force_login(UserFactory(username="ivy", groups=["Integration"], is_staff=True))
    assert client.get(url).status_code == 403
    client.force_login(UserFactory(username="mark", groups=["Marketing"], is_staff=True))
    assert client.get(url).status_code == 200
    bad = client.get(url, {"incurred_on__gte": "not a date"})
    assert bad.status_code == 302
