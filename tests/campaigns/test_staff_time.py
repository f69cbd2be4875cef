"""Staff time (SPEC §10): a time entry is a staff_time cost at the hourly rate of its day; a
rate change reprices only the entries from its day on; the weekly timesheet saves a week whole
or not at all.

Scenario: Mia is paid 40.00 an hour from 1 February 2026 and 50.00 from 16 March. The Spring
pins campaign runs from 1 March.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.errors import Conflict, InvalidInput
from campaigns.models import Cost, HourlyRate, StaffMember, TimeEntry
from campaigns.services import (
    cost_delete,
    cost_update,
    hourly_rate_delete,
    hourly_rate_save,
    staff_save,
    time_entry_delete,
    time_entry_save,
    timesheet_save,
)
from reports.metrics import roi_report
from tests.factories import CampaignFactory, channel

pytestmark = pytest.mark.django_db

MARCH = {"start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 31)}


@pytest.fixture
def mia(reference_data):
    staff = staff_save(name="Mia")
    hourly_rate_save(staff=staff, effective_from=dt.date(2026, 2, 1), rate=Decimal("40.00"))
    hourly_rate_save(staff=staff, effective_from=dt.date(2026, 3, 16), rate=Decimal("50.00"))
    return staff


@pytest.fixture
def pins(reference_data):
    return CampaignFactory(
        name="Spring pins", channel=channel("pinterest"), starts_on=dt.date(2026, 3, 1)
    )


def costs() -> list[tuple[dt.date, Decimal]]:
    return sorted(Cost.objects.filter(category="staff_time").values_list("incurred_on", "amount"))


def test_an_entry_is_a_cost_at_its_days_rate(mia, pins):
    # 2.5 h on 10 March at 40.00 = 100.00; 1.25 h on 20 March at 50.00 = 62.50.
    time_entry_save(staff=mia, campaign=pins, date=dt.date(2026, 3, 10), hours="2.5")
    time_entry_save(staff=mia, campaign=pins, date=dt.date(2026, 3, 20), hours="1.25")
    assert costs() == [
        (dt.date(2026, 3, 10), Decimal("100.00")),
        (dt.date(2026, 3, 20), Decimal("62.50")),
    ]
    # The reports count them as the campaign's cost.
    assert roi_report(**MARCH)["totals"]["cost"] == "162.50"


def test_a_rate_change_reprices_only_the_entries_from_its_day(mia, pins):
    for day in (10, 16, 20):
        time_entry_save(staff=mia, campaign=pins, date=dt.date(2026, 3, day), hours="2")
    # Before: 80.00 (40/h), 100.00 and 100.00 (50/h from 16 March).
    rate = HourlyRate.objects.get(staff=mia, effective_from=dt.date(2026, 3, 16))
    hourly_rate_save(hourly_rate=rate, rate=Decimal("55.00"))
    assert costs() == [
        (dt.date(2026, 3, 10), Decimal("80.00")),
        (dt.date(2026, 3, 16), Decimal("110.00")),
        (dt.date(2026, 3, 20), Decimal("110.00")),
    ]
    # A new rate from 18 March: only 20 March changes (2 h at 60.00).
    hourly_rate_save(staff=mia, effective_from=dt.date(2026, 3, 18), rate=Decimal("60.00"))
    assert [amount for _, amount in costs()] == [
        Decimal("80.00"),
        Decimal("110.00"),
        Decimal("120.00"),
    ]
    # Moving that rate's day back to 12 March: 16 March takes it too.
    later = HourlyRate.objects.get(staff=mia, effective_from=dt.date(2026, 3, 18))
    hourly_rate_save(hourly_rate=later, effective_from=dt.date(2026, 3, 12))
    assert [amount for _, amount in costs()] == [
        Decimal("80.00"),
        Decimal("110.00"),
        Decimal("110.00"),
    ]
    assert roi_report(**MARCH)["totals"]["cost"] == "300.00"


def test_a_rate_that_entries_need_cannot_go(mia, pins):
    time_entry_save(staff=mia, campaign=pins, date=dt.date(2026, 3, 2), hours="1")
    first = HourlyRate.objects.get(staff=mia, effective_from=dt.date(2026, 2, 1))
    with pytest.raises(Conflict, match="no hourly rate on 2026-03-02"):
        hourly_rate_delete(hourly_rate=first)
    assert HourlyRate.objects.filter(effective_from=dt.date(2026, 2, 1)).exists()  # rolled back
    # The March one can go: its entries fall back to 40.00.
    time_entry_save(staff=mia, campaign=pins, date=dt.date(2026, 3, 20), hours="1")
    hourly_rate_delete(hourly_rate=HourlyRate.objects.get(effective_from=dt.date(2026, 3, 16)))
    assert [amount for _, amount in costs()] == [Decimal("40.00"), Decimal("40.00")]


@pytest.mark.parametrize(
    ("hours", "day", "message"),
    [
        ("0", dt.date(2026, 3, 10), "more than 0"),
        ("24.5", dt.date(2026, 3, 10), "at most 24"),
        ("1.333", dt.date(2026, 3, 10), "two decimals"),
        ("x", dt.date(2026, 3, 10), "number of hours"),
        ("1", dt.date(2026, 1, 10), "no hourly rate on 2026-01-10"),
        ("1", dt.date(2099, 1, 1), "future"),
    ],
)
def test_bad_entries_are_refused(mia, pins, hours, day, message):
    with pytest.raises(InvalidInput, match=message):
        time_entry_save(staff=mia, campaign=pins, date=day, hours=hours)
    assert not Cost.objects.exists()


def test_an_entrys_cost_changes_only_with_the_entry(mia, pins):
    entry = time_entry_save(staff=mia, campaign=pins, date=dt.date(2026, 3, 10), hours="1")
    with pytest.raises(Conflict, match="time entry's"):
        cost_update(cost=entry.cost, amount=Decimal("1.00"))
    with pytest.raises(Conflict, match="time entry's"):
        cost_delete(cost=entry.cost)
    time_entry_save(entry=entry, staff=mia, campaign=pins, date=dt.date(2026, 3, 11), hours="3")
    assert costs() == [(dt.date(2026, 3, 11), Decimal("120.00"))]
    time_entry_delete(entry=entry)
    assert not Cost.objects.exists() and not TimeEntry.objects.exists()


def test_a_timesheet_saves_a_week_whole_or_not_at_all(mia, pins):
    other = CampaignFactory(name="B2B", channel=channel("linkedin"))
    monday = dt.date(2026, 3, 16)
    written = timesheet_save(
        staff=mia,
        hours={
            (pins.pk, monday): "2",
            (other.pk, monday): "1.5",
            (pins.pk, monday + dt.timedelta(1)): "",
        },
    )
    assert written == 2 and TimeEntry.objects.count() == 2
    # A bad cell (25 hours) refuses the whole week: the other cell's change is not kept.
    with pytest.raises(InvalidInput) as refused:
        timesheet_save(
            staff=mia, hours={(pins.pk, monday): "3", (other.pk, monday + dt.timedelta(1)): "25"}
        )
    assert refused.value.field == f"{other.pk}:2026-03-17"
    assert TimeEntry.objects.get(campaign=pins).hours == Decimal("2.00")
    # More than 24 hours in one day across campaigns is refused too.
    with pytest.raises(InvalidInput, match="a day has 24 at most"):
        timesheet_save(staff=mia, hours={(pins.pk, monday): "20", (other.pk, monday): "5"})
    # Emptying a cell removes its hours and their cost.
    timesheet_save(staff=mia, hours={(other.pk, monday): "0"})
    assert costs() == [(monday, Decimal("100.00"))]


def test_the_timesheet_page(mia, pins, client, marketing_user, sales_user):
    url = reverse("admin:campaigns_staffmember_timesheet", args=[mia.pk])
    client.force_login(marketing_user)
    page = client.get(url, {"week": "2026-03-18"})
    assert page.status_code == 200
    assert page.context["week"] == dt.date(2026, 3, 16)
    assert [r["campaign"] for r in page.context["rows"]] == [pins]
    field = f"h-{pins.pk}-2026-03-16"
    assert f'name="{field}"' in page.content.decode()
    saved = client.post(url, {"week": "2026-03-16", field: "1.5"})
    assert saved.status_code == 302 and saved["Location"].endswith("?week=2026-03-16")
    assert costs() == [(dt.date(2026, 3, 16), Decimal("75.00"))]
    again = client.get(url, {"week": "2026-03-16"})
    assert again.context["week_total"] == Decimal("1.50")
    refused = client.post(url, {"week": "2026-03-16", field: "30"})
    assert refused.status_code == 400
    assert "Must be more than 0 and at most 24 hours." in refused.content.decode()
    assert costs() == [(dt.date(2026, 3, 16), Decimal("75.00"))]
    # Sales may not keep staff time.
    client.force_login(sales_user)
    assert client.get(url).status_code == 403


def test_the_admin_keeps_rates_and_entries_through_the_services(mia, pins, client, marketing_user):
    client.force_login(marketing_user)
    response = client.post(
        reverse("admin:campaigns_timeentry_add"),
        {"staff": mia.pk, "campaign": pins.pk, "date": "2026-03-10", "hours": "2", "note": ""},
    )
    assert response.status_code == 302
    assert costs() == [(dt.date(2026, 3, 10), Decimal("80.00"))]
    assert StaffMember.objects.get().name == "Mia"


def test_the_api_refuses_to_change_an_entrys_cost(mia, pins, marketing_user):
    from tests.api.conftest import token_client

    entry = time_entry_save(staff=mia, campaign=pins, date=dt.date(2026, 3, 10), hours="1")
    api = token_client(marketing_user)
    url = f"/api/v1/costs/{entry.cost.pk}/"
    changed = api.patch(url, {"amount": "1.00"}, format="json")
    assert changed.status_code == 409
    assert "time entry" in changed.json()["non_field_errors"][0]
    assert api.delete(url).status_code == 409
    assert Cost.objects.get(pk=entry.cost.pk).amount == Decimal("40.00")
