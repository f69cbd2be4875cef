"""The attribution day cache: filled by reports, dropped by late data, never served stale."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns.services import campaign_update
from leads.models import Via
from leads.services import contact_create, purchase_record, touchpoint_record
from reports.changes import caches_cleared
from reports.metrics import roi_report
from reports.models import RULE_BASED, AttributedDay, ContactDay, DayChange
from reports.services import attribution_warm
from tests.factories import CampaignFactory, channel

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MARCH = {"start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 31)}


def revenue(report: dict) -> dict[str, str]:
    return {r["key"]: r["revenue"] for r in report["rows"] if r["revenue"] != "0.00"}


@pytest.fixture
def buyer():
    """Ada: entered from instagram on 1 March, bought 40.00 on 10 March."""
    ada = contact_create(
        email="ada@example.com",
        source="instagram",
        entered_at=dt.datetime(2026, 3, 1, tzinfo=UTC),
        via=Via.API,
    )
    purchase_record(
        contact=ada, amount="40.00", occurred_at=dt.datetime(2026, 3, 10, tzinfo=UTC), via=Via.API
    )
    return ada


def test_a_report_caches_every_closed_day_and_reads_them_back(buyer):
    first = roi_report(**MARCH, attribution="linear")
    days = AttributedDay.objects.filter(model="linear", lookback_days=90)
    assert days.count() == 31  # every day of March, the empty ones too
    assert days.get(day=dt.date(2026, 3, 10)).rows[0][2] == 4000  # 40.00 in cents
    assert roi_report(**MARCH, attribution="linear") == first


def test_late_data_drops_the_days_it_changes(buyer, django_capture_on_commit_callbacks):
    # Cached: instagram 40.00. A facebook touch on 5 March arrives late: linear splits 20 / 20.
    assert revenue(roi_report(**MARCH, attribution="linear")) == {"instagram": "40.00"}
    with django_capture_on_commit_callbacks(execute=True):
        touchpoint_record(
            contact=buyer,
            channel=channel("facebook"),
            occurred_at=dt.datetime(2026, 3, 5, tzinfo=UTC),
        )
    assert not AttributedDay.objects.filter(day=dt.date(2026, 3, 10)).exists()
    assert DayChange.objects.filter(day=dt.date(2026, 3, 10)).exists()
    assert revenue(roi_report(**MARCH, attribution="linear")) == {
        "instagram": "20.00",
        "facebook": "20.00",
    }


def test_a_day_computed_before_its_last_change_is_not_served(buyer):
    # A report read the data, then a write to 10 March committed and stamped the day, then the
    # report stored its (stale) rows: they are older than the stamp, so they are ignored.
    roi_report(**MARCH, attribution="linear")
    stale = AttributedDay.objects.get(model="linear", day=dt.date(2026, 3, 10))
    stale.rows = [[stale.rows[0][0], None, 99900, "1", *[0] * 11]]
    stale.computed_at = timezone.now() - dt.timedelta(minutes=1)
    stale.save()
    DayChange.objects.create(day=dt.date(2026, 3, 10), changed_at=timezone.now())
    assert revenue(roi_report(**MARCH, attribution="linear")) == {"instagram": "40.00"}
    fresh = AttributedDay.objects.get(model="linear", day=dt.date(2026, 3, 10))
    assert fresh.rows[0][2] == 4000 and fresh.computed_at > stale.computed_at


def test_today_is_never_cached(buyer):
    today = timezone.localdate()
    roi_report(start=today - dt.timedelta(days=2), end=today)
    cached = set(AttributedDay.objects.values_list("day", flat=True))
    assert cached == {today - dt.timedelta(days=2), today - dt.timedelta(days=1)}


def test_warming_fills_every_model(buyer):
    # The data-driven models have no day cache: the rule-based ones are warmed.
    assert attribution_warm(**MARCH) == len(RULE_BASED)
    assert AttributedDay.objects.count() == 31 * len(RULE_BASED)
    assert ContactDay.objects.count() == 31
    out = io.StringIO()
    call_command("warm_attribution", "--days", "3", stdout=out)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    assert AttributedDay.objects.filter(day=yesterday).count() == len(RULE_BASED)
    # The command says how long each cache took, then the whole.
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0].strip() for line in lines[:-1]] == [
        "contacts",
        "durations",
        "paths",
        *RULE_BASED,
    ]
    assert lines[-1].startswith(f"Cached {len(RULE_BASED)} models for ")
    # The cached figures are the live ones.
    live = roi_report(**MARCH, attribution="time_decay")
    caches_cleared()
    assert roi_report(**MARCH, attribution="time_decay") == live
    assert Decimal(live["totals"]["revenue"]) == Decimal("40.00")


def test_page_figures_of_a_closed_period_are_cached_until_its_data_changes(
    buyer, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    from reports.dashboard import Period, attribution_data, dashboard_data

    march = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31), "last_month")
    first = dashboard_data(period=march, attribution="linear")
    assert first["channels"]["totals"]["revenue"] == "40.00"
    with django_assert_max_num_queries(1):  # is any day of the span newer than the figures?
        assert dashboard_data(period=march, attribution="linear") == first
    # A late purchase dated in March: the cached figures are void.
    with django_capture_on_commit_callbacks(execute=True):
        purchase_record(
            contact=buyer,
            amount="10.00",
            occurred_at=dt.datetime(2026, 3, 20, tzinfo=UTC),
            via=Via.API,
        )
    again = dashboard_data(period=march, attribution="linear")
    assert again["channels"]["totals"]["revenue"] == "50.00"
    # Renaming a campaign voids every cached page (labels and targets come from the catalogue).
    models = attribution_data(period=march)
    assert attribution_data(period=march) == models
    campaign = CampaignFactory(channel=channel("instagram"), name="Spring")
    with django_capture_on_commit_callbacks(execute=True):
        campaign_update(campaign=campaign, name="Spring sale")
    with django_assert_max_num_queries(50) as fresh:
        attribution_data(period=march)
    assert len(fresh.captured_queries) > 1


def test_open_periods_are_never_cached(buyer, django_assert_max_num_queries):
    from reports.dashboard import Period, dashboard_data

    today = timezone.localdate()
    period = Period(today - dt.timedelta(days=6), today, "custom")
    dashboard_data(period=period, attribution="linear")
    with django_assert_max_num_queries(100) as second:
        dashboard_data(period=period, attribution="linear")
    assert len(second.captured_queries) > 5


def test_a_source_edit_voids_the_days_of_the_contacts_stamps(
    buyer, django_capture_on_commit_callbacks
):
    from leads.services import contact_change_source

    with django_capture_on_commit_callbacks(execute=True):
        contact_change_source(
            contact=buyer, source_channel=channel("facebook"), source_campaign=None
        )
    # Entered on 1 March; lead, qualified and customer stamped by the purchase on 10 March.
    assert set(DayChange.objects.values_list("day", flat=True)) == {
        dt.date(2026, 3, 1),
        dt.date(2026, 3, 10),
    }


def test_contact_counts_are_cached_per_day_and_follow_later_moves(
    django_capture_on_commit_callbacks,
):
    from leads.services import contact_move_stage
    from reports.counts import contact_counts
    from reports.metrics import funnel_report
    from reports.models import ContactDay

    bob = contact_create(
        email="bob@example.com",
        source="facebook",
        entered_at=dt.datetime(2026, 3, 2, tzinfo=UTC),
        via=Via.API,
    )
    facebook = (channel("facebook").pk, None)
    assert contact_counts(**MARCH)[facebook]["followers"] == 1
    assert ContactDay.objects.filter(day__gte=dt.date(2026, 3, 1)).count() == 31
    assert funnel_report(**MARCH)["totals"]["reached_lead_share"] == "0.0000"
    # Bob becomes a lead today: his March cohort day is voided, the share moves.
    with django_capture_on_commit_callbacks(execute=True):
        contact_move_stage(contact=bob, stage="lead", via=Via.API)
    assert not ContactDay.objects.filter(day=dt.date(2026, 3, 2)).exists()
    assert funnel_report(**MARCH)["totals"]["reached_lead_share"] == "1.0000"


def test_days_are_cached_per_time_zone(buyer):
    roi_report(**MARCH, attribution="linear")
    with timezone.override("America/New_York"):
        roi_report(**MARCH, attribution="linear")
    zones = AttributedDay.objects.values_list("time_zone", flat=True)
    assert sorted(set(zones)) == ["America/New_York", "UTC"] and len(zones) == 62
