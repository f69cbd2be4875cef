"""seed_demo: deterministic, consistent with the services' rules, bulk-written."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F, Min, Q
from django.test.utils import CaptureQueriesContext

from campaigns.models import Campaign, Coupon, EngagementStat
from leads.models import Contact, Purchase, Refund, StageChange, Touchpoint

pytestmark = pytest.mark.django_db

END = dt.date(2026, 10, 31)


def seed(contacts: int = 400, seed: int = 7, flush: bool = False) -> str:
    out = io.StringIO()
    call_command("seed_demo", contacts=contacts, seed=seed, end=END, flush=flush, stdout=out)
    return out.getvalue()


def snapshot() -> list[tuple]:
    return list(
        Contact.objects.order_by("email").values_list(
            "email", "stage", "entered_at", "source_channel__slug"
        )
    ) + list(
        Purchase.objects.order_by("contact__email", "occurred_at").values_list(
            "contact__email", "amount", "discount"
        )
    )


def test_same_seed_same_data_other_seed_other_data():
    assert "Seeded" in seed()
    first = snapshot()
    seed(flush=True)
    assert snapshot() == first
    seed(seed=8, flush=True)
    assert snapshot() != first


def test_refuses_to_seed_over_existing_data_without_flush():
    seed(contacts=20)
    with pytest.raises(CommandError, match="--flush"):
        seed(contacts=20)


def test_the_data_obeys_the_funnel_rules():
    seed(contacts=600)
    contacts = Contact.objects.all()
    assert contacts.count() == 600
    assert (
        Campaign.objects.count() >= 6 and Campaign.objects.values("channel").distinct().count() >= 5
    )
    assert Campaign.objects.exclude(tracking_phone=None).exists()
    # Monotone stamps are checked by the database; every customer bought at became_customer_at.
    customers = contacts.filter(stage="customer").annotate(first_buy=Min("purchases__occurred_at"))
    assert customers.exists()
    assert not customers.exclude(first_buy=F("became_customer_at")).exists()
    assert not contacts.exclude(stage="customer").filter(purchases__isnull=False).exists()
    # Every contact has its entry row and one row per stage reached after it.
    assert (
        not contacts.annotate(
            entries=Count("stage_changes", filter=Q(stage_changes__from_stage=""))
        )
        .exclude(entries=1)
        .exists()
    )
    reached = sum(
        1
        + sum(
            getattr(c, f) is not None
            for f in ("became_lead_at", "became_qualified_at", "became_customer_at")
        )
        for c in contacts.exclude(source_channel__isnull=True)
    )
    assert StageChange.objects.exclude(contact__source_channel__isnull=True).count() == reached
    # First touch at entry on the source; walk-ins (no known source) have none but coupon ones.
    sourced = contacts.exclude(source_channel__isnull=True)
    firsts = Touchpoint.objects.filter(
        kind="follow", contact__in=sourced, occurred_at=F("contact__entered_at")
    )
    assert firsts.count() == sourced.count()
    # Coupon touches and counters match the purchases, within the caps.
    assert (
        Touchpoint.objects.filter(kind="coupon").count()
        == Purchase.objects.filter(coupon__isnull=False).count()
    )
    for coupon in Coupon.objects.annotate(used=Count("purchases")):
        assert coupon.redemptions == coupon.used
        assert coupon.max_redemptions is None or coupon.used <= coupon.max_redemptions
    assert (
        not EngagementStat.objects.values("campaign", "date")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    )
    assert Purchase.objects.filter(coupon__isnull=False, discount__gt=0).exists()
    # Some orders are given back, in part or in full: never before the order, never more.
    refunds = Refund.objects.all()
    assert refunds.exists()
    assert not refunds.filter(occurred_at__lt=F("purchase__occurred_at")).exists()
    assert not refunds.filter(amount__gt=F("purchase__amount")).exists()
    assert refunds.filter(amount=F("purchase__amount")).exists()
    assert refunds.filter(amount__lt=F("purchase__amount")).exists()
    # Calls come in on the campaign that has a tracking phone, and only there.
    calls = Touchpoint.objects.filter(kind="call")
    assert calls.exists()
    assert not calls.filter(Q(campaign=None) | Q(campaign__tracking_phone=None)).exists()


def test_channels_convert_as_intended():
    seed(contacts=3000, seed=3)

    def customer_rate(slug: str) -> float:
        group = Contact.objects.filter(source_channel__slug=slug)
        return group.filter(stage="customer").count() / max(group.count(), 1)

    assert customer_rate("pinterest") > 3 * customer_rate("x")
    linkedin = Purchase.objects.filter(contact__source_channel__slug="linkedin")
    pinterest = Purchase.objects.filter(contact__source_channel__slug="pinterest")
    assert min(p.amount for p in linkedin) > 300 > max(p.amount for p in pinterest)


def test_it_writes_in_bulk(django_assert_max_num_queries):
    # Bulk inserts in bounded batches: far fewer queries than rows (200 contacts alone make
    # about 1,500 rows across the tables).
    with django_assert_max_num_queries(120):
        seed(contacts=200)
    with django_assert_max_num_queries(160):
        seed(contacts=400, flush=True)


def test_query_count_does_not_grow_with_the_contacts():
    # A query per contact (or per touchpoint) would add at least 200 queries for 200 more
    # contacts. What may grow: SQLite caps a statement at 999 parameters, so Django splits a
    # bulk insert into ~50-contact or ~100-touchpoint statements; plus the fixed --flush deletes
    # (one per table: refunds added one).
    with CaptureQueriesContext(connection) as small:
        seed(contacts=200)
    with CaptureQueriesContext(connection) as large:
        seed(contacts=400, flush=True)
    extra = len(large.captured_queries) - len(small.captured_queries)
    assert extra <= 41, extra


def test_stamps_are_monotone_and_walk_ins_have_no_touches():
    seed(contacts=1500, seed=11)
    for contact in Contact.objects.all():
        stamps = [
            s
            for s in (
                contact.entered_at,
                contact.became_lead_at,
                contact.became_qualified_at,
                contact.became_customer_at,
            )
            if s is not None
        ]
        assert stamps == sorted(stamps)
        assert len(stamps) == ["follower", "lead", "qualified", "customer"].index(contact.stage) + 1
    walk_ins = Contact.objects.filter(source_channel__isnull=True)
    assert walk_ins.exists()
    assert not walk_ins.exclude(stage="customer").exists()
    assert not Touchpoint.objects.filter(contact__in=walk_ins).exists()
    # Every move was recorded by the seeder itself, not by a person.
    assert set(StageChange.objects.values_list("via", flat=True)) <= {"import", "system"}


def test_a_year_ending_today_dates_nothing_after_now():
    # The year's last day is today, seeded at 00:30: stamps, touches and purchases stop at that
    # moment, though the day has 23.5 hours to go.
    from unittest import mock

    from django.utils import timezone

    now = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(0, 30)))
    out = io.StringIO()
    with mock.patch("django.utils.timezone.now", return_value=now):
        call_command("seed_demo", contacts=1500, seed=5, end=timezone.localdate(), stdout=out)
    for field in ("entered_at", "became_lead_at", "became_qualified_at", "became_customer_at"):
        assert not Contact.objects.filter(**{f"{field}__gt": now}).exists(), field
    assert not Touchpoint.objects.filter(occurred_at__gt=now).exists()
    assert not Purchase.objects.filter(occurred_at__gt=now).exists()
    assert not StageChange.objects.filter(at__gt=now).exists()
    assert not EngagementStat.objects.filter(date__gt=timezone.localdate()).exists()
    with pytest.raises(CommandError, match="future"):
        call_command(
            "seed_demo",
            contacts=10,
            flush=True,
            end=timezone.localdate() + dt.timedelta(days=1),
            stdout=out,
        )


def test_reseeding_declares_its_change_so_saved_reports_follow(
    reference_data, django_capture_on_commit_callbacks
):
    from reports.metrics import roi_report
    from reports.models import AttributedDay, Report
    from reports.services import report_request

    seed(contacts=300)
    period = {"start": dt.date(2026, 10, 1), "end": END, "group_by": "channel"}
    with django_capture_on_commit_callbacks(execute=True):
        report = report_request(**period)
    assert AttributedDay.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        seed(contacts=300, seed=8, flush=True)
    report = Report.objects.get(pk=report.pk)
    assert report.status == "done"
    assert report.data["roi"] == roi_report(**period)
