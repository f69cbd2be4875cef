"""The one change path: every door writes through a service that declares what it changed.

Structural checks (the layering, every admin and API door) and the stale figures a review
found, each reproduced through its door: a cost moved in the admin, a purchase or a touch
deleted in the admin, engagement edited, a campaign renamed, the demo data reseeded.
"""

from __future__ import annotations

import ast
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from rest_framework import mixins

from campaigns.admin_base import ServiceAdmin, ServiceInline
from campaigns.models import Cost, EngagementStat
from config.api import AtomicWritesMixin
from config.api_urls import router
from leads.models import Purchase, Touchpoint, Via
from leads.services import contact_create, purchase_record, touchpoint_record
from reports.metrics import roi_report
from reports.models import Report
from reports.services import report_request
from tests.factories import CampaignFactory, CostFactory, EngagementStatFactory, channel

ROOT = Path(__file__).resolve().parent.parent
UTC = dt.UTC
MARCH = {"start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 31)}
APRIL = {"start": dt.date(2026, 4, 1), "end": dt.date(2026, 4, 30)}


# --- structure ---------------------------------------------------------------------------------


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_below_reports_imports_it():
    """campaigns and leads declare their changes (campaigns.changes); reports subscribes."""
    upward = sorted(
        f"{path.relative_to(ROOT)} imports {name}"
        for app in ("campaigns", "leads")
        for path in (ROOT / app).rglob("*.py")
        for name in imports_of(path)
        if name == "reports" or name.startswith("reports.")
    )
    assert upward == []


def test_every_admin_door_writes_through_a_service():
    """A model admin of the data either writes through services or cannot write at all, and
    so does every inline that can add, change or delete."""
    from django.contrib.auth.models import AnonymousUser

    class Root(AnonymousUser):
        is_active = is_staff = is_superuser = True

        def has_perm(self, perm, obj=None) -> bool:
            return True

    request = type("Request", (), {"user": Root()})()
    doors = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("campaigns", "leads"):
            continue
        writes = (
            model_admin.has_add_permission(request)
            or model_admin.has_change_permission(request)
            or model_admin.has_delete_permission(request)
        )
        if writes and not isinstance(model_admin, ServiceAdmin):
            doors.append(model.__name__)
        for inline in model_admin.get_inline_instances(request):
            inline_writes = (
                inline.has_add_permission(request, None)
                or inline.has_change_permission(request)
                or inline.has_delete_permission(request)
            )
            if inline_writes and not isinstance(inline, ServiceInline):
                doors.append(f"{model.__name__} inline {inline.model.__name__}")
    assert doors == []


def test_every_api_write_calls_a_service():
    """No viewset of the data saves a serializer or deletes a row itself: each write hook of
    the mixins it uses is overridden, to call a service."""
    hooks = [
        (mixins.CreateModelMixin, "perform_create"),
        (mixins.UpdateModelMixin, "perform_update"),
        (mixins.DestroyModelMixin, "perform_destroy"),
    ]
    doors = [
        f"{viewset.__name__}.{hook}"
        for _, viewset, _ in router.registry
        if viewset.queryset.model._meta.app_label in ("campaigns", "leads")
        for mixin, hook in hooks
        if issubclass(viewset, mixin)
        and getattr(viewset, hook) in (getattr(mixin, hook), getattr(AtomicWritesMixin, hook))
    ]
    assert doors == []


# --- the stale figures, door by door -----------------------------------------------------------


@pytest.fixture
def root_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def saved(reference_data, django_capture_on_commit_callbacks):
    """Ask for a saved report and have it made at once (eager Celery, after commit)."""

    def make(period: dict, group_by: str = "campaign") -> Report:
        with django_capture_on_commit_callbacks(execute=True):
            report = report_request(group_by=group_by, **period)
        report.refresh_from_db()
        assert report.status == "done"
        return report

    return make


def live(report: Report) -> dict:
    return roi_report(
        start=report.start,
        end=report.end,
        group_by=report.group_by,
        attribution=report.attribution,
    )


def test_a_cost_moved_to_another_month_in_the_admin_regenerates_both_months(
    root_client, saved, django_capture_on_commit_callbacks
):
    # 100.00 on 5 March; both months saved; then the admin moves it to 5 April.
    cost = CostFactory(incurred_on=dt.date(2026, 3, 5), amount=Decimal("100.00"))
    march, april = saved(MARCH), saved(APRIL)
    assert march.data["roi"]["totals"]["cost"] == "100.00"
    url = reverse("admin:campaigns_cost_change", args=[cost.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = root_client.post(
            url,
            {
                "campaign": cost.campaign_id,
                "incurred_on": "2026-04-05",
                "amount": "100.00",
                "category": "ad_spend",
                "note": "",
            },
        )
    assert response.status_code == 302
    march.refresh_from_db()
    april.refresh_from_db()
    assert march.status == april.status == "done"
    assert march.data["roi"]["totals"]["cost"] == "0.00"
    assert april.data["roi"]["totals"]["cost"] == "100.00"
    assert march.data["roi"] == live(march) and april.data["roi"] == live(april)


def campaign_form(campaign, **changes: str) -> dict:
    """The campaign's change form as posted unchanged (no cost or coupon rows), with `changes`."""
    return {
        "name": campaign.name,
        "channel": campaign.channel_id,
        "objective": campaign.objective,
        "starts_on": campaign.starts_on.isoformat(),
        "budget": "0.00",
        "utm_campaign": "",
        "tracking_phone": "",
        "costs-TOTAL_FORMS": "0",
        "costs-INITIAL_FORMS": "0",
        "coupons-TOTAL_FORMS": "0",
        "coupons-INITIAL_FORMS": "0",
        **changes,
    }


def test_a_cost_deleted_from_the_campaign_inline_regenerates_its_month(
    root_client, saved, django_capture_on_commit_callbacks
):
    cost = CostFactory(incurred_on=dt.date(2026, 3, 5), amount=Decimal("100.00"))
    campaign = cost.campaign
    march = saved(MARCH)
    data = campaign_form(
        campaign,
        **{
            "costs-TOTAL_FORMS": "1",
            "costs-INITIAL_FORMS": "1",
            "costs-0-id": str(cost.pk),
            "costs-0-campaign": str(campaign.pk),
            "costs-0-incurred_on": "2026-03-05",
            "costs-0-category": "ad_spend",
            "costs-0-amount": "100.00",
            "costs-0-note": "",
            "costs-0-DELETE": "on",
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = root_client.post(
            reverse("admin:campaigns_campaign_change", args=[campaign.pk]), data
        )
    assert response.status_code == 302, response.content[:2000]
    assert not Cost.objects.exists()
    march.refresh_from_db()
    assert march.data["roi"]["totals"]["cost"] == "0.00"


@pytest.fixture
def march_buyer(reference_data):
    """Ada: entered from instagram on 1 March, clicked on facebook on 5 March, paid 40.00 on
    10 March."""
    ada = contact_create(
        email="ada@example.com",
        source="instagram",
        entered_at=dt.datetime(2026, 3, 1, tzinfo=UTC),
        via=Via.API,
    )
    touchpoint_record(
        contact=ada, channel=channel("facebook"), occurred_at=dt.datetime(2026, 3, 5, tzinfo=UTC)
    )
    purchase, _ = purchase_record(
        contact=ada, amount="40.00", occurred_at=dt.datetime(2026, 3, 10, tzinfo=UTC), via=Via.API
    )
    return purchase


def test_a_purchase_deleted_in_the_admin_leaves_no_revenue_in_the_day_cache(
    root_client, march_buyer, saved, django_capture_on_commit_callbacks
):
    march = saved(MARCH, group_by="channel")
    assert march.data["roi"]["totals"]["revenue"] == "40.00"  # and March's days are cached
    with django_capture_on_commit_callbacks(execute=True):
        response = root_client.post(
            reverse("admin:leads_purchase_delete", args=[march_buyer.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not Purchase.objects.exists()
    assert roi_report(**MARCH)["totals"]["revenue"] == "0.00"
    march.refresh_from_db()
    assert march.data["roi"]["totals"]["revenue"] == "0.00"


def test_a_touch_bulk_deleted_in_the_admin_moves_the_credit_back(
    root_client, march_buyer, saved, django_capture_on_commit_callbacks
):
    # Linear: instagram (entry) and facebook (click) 20.00 each; without the click, 40.00 all.
    march = saved(MARCH, group_by="channel")
    report = roi_report(**MARCH, attribution="linear")
    assert {r["key"]: r["revenue"] for r in report["rows"]} == {
        "instagram": "20.00",
        "facebook": "20.00",
    }
    click = Touchpoint.objects.get(channel__slug="facebook")
    with django_capture_on_commit_callbacks(execute=True):
        response = root_client.post(
            reverse("admin:leads_touchpoint_changelist"),
            {"action": "delete_selected", "_selected_action": [click.pk], "post": "yes"},
        )
    assert response.status_code == 302
    report = roi_report(**MARCH, attribution="linear")
    assert {r["key"]: r["revenue"] for r in report["rows"]} == {"instagram": "40.00"}
    march.refresh_from_db()
    assert march.status == "done" and march.data["roi"] == live(march)


def test_a_coupon_touch_goes_only_with_its_purchase(root_client, reference_data):
    from campaigns.errors import Conflict
    from leads.services import purchase_delete, touchpoint_delete
    from tests.factories import CouponFactory

    coupon = CouponFactory(code="PIN10", campaign=CampaignFactory(channel=channel("pinterest")))
    purchase, _ = purchase_record(
        email="walkin@example.com",
        amount="30.00",
        coupon="pin10",
        occurred_at=dt.datetime(2026, 3, 2, tzinfo=UTC),
        via=Via.API,
    )
    touch = Touchpoint.objects.get(kind="coupon")
    with pytest.raises(Conflict):
        touchpoint_delete(touch=touch)
    purchase_delete(purchase=purchase)
    coupon.refresh_from_db()
    assert not Touchpoint.objects.exists() and coupon.redemptions == 0


def test_engagement_edited_in_the_admin_regenerates_its_report(
    root_client, saved, django_capture_on_commit_callbacks
):
    stat = EngagementStatFactory(date=dt.date(2026, 3, 3), impressions=1000, clicks=10)
    march = saved(MARCH)
    assert march.data["roi"]["totals"]["impressions"] == 1000
    data = {
        "campaign": stat.campaign_id,
        "date": "2026-04-03",
        "impressions": "2000",
        "reach": "0",
        "reactions": "0",
        "comments": "0",
        "shares": "0",
        "clicks": "10",
        "followers_gained": "0",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = root_client.post(
            reverse("admin:campaigns_engagementstat_change", args=[stat.pk]), data
        )
    assert response.status_code == 302
    march.refresh_from_db()
    assert march.data["roi"]["totals"]["impressions"] == 0
    assert EngagementStat.objects.get().date == dt.date(2026, 4, 3)


def test_a_campaign_renamed_in_the_admin_regenerates_the_saved_reports(
    root_client, saved, django_capture_on_commit_callbacks
):
    cost = CostFactory(incurred_on=dt.date(2026, 3, 5), amount=Decimal("10.00"))
    campaign = cost.campaign
    march = saved(MARCH)
    data = campaign_form(campaign, name="Renamed")
    with django_capture_on_commit_callbacks(execute=True):
        response = root_client.post(
            reverse("admin:campaigns_campaign_change", args=[campaign.pk]), data
        )
    assert response.status_code == 302, response.content[:2000]
    march.refresh_from_db()
    assert [r["label"] for r in march.data["roi"]["rows"]] == ["Renamed"]


def test_a_campaign_with_touches_keeps_its_channel(reference_data):
    from campaigns.errors import Conflict
    from campaigns.services import campaign_update

    pins = CampaignFactory(channel=channel("pinterest"))
    contact_create(
        email="a@example.com",
        source_campaign=pins,
        entered_at=dt.datetime(2026, 3, 1, tzinfo=UTC),
        via=Via.API,
    )
    with pytest.raises(Conflict):
        campaign_update(campaign=pins, channel=channel("facebook"))


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/costs/", {"amount": "10.00", "category": "ad_spend"}),
        ("/api/v1/engagement/", {"impressions": 10}),
    ],
)
def test_nothing_is_dated_after_today(client, superuser, path, body):
    campaign = CampaignFactory()
    client.force_login(superuser)
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    key = "incurred_on" if "costs" in path else "date"
    response = client.post(
        path, {"campaign": campaign.pk, key: tomorrow, **body}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "future" in str(response.json()[key])


def test_a_touch_a_second_ahead_is_refused(reference_data):
    from campaigns.errors import InvalidInput

    ada = contact_create(email="ada@example.com", via=Via.API)
    with pytest.raises(InvalidInput, match="future"):
        touchpoint_record(
            contact=ada,
            channel=channel("facebook"),
            occurred_at=timezone.now() + dt.timedelta(seconds=2),
        )


def test_a_source_corrected_in_the_admin_moves_the_counts_and_the_saved_report(
    root_client, march_buyer, saved, django_capture_on_commit_callbacks
):
    # Ada entered on 1 March from instagram; the admin corrects it to a LinkedIn campaign.
    march = saved(MARCH, group_by="channel")
    assert {r["key"]: r["followers"] for r in march.data["roi"]["rows"]}["instagram"] == 1
    b2b = CampaignFactory(channel=channel("linkedin"))
    ada = march_buyer.contact
    body = {
        "first_name": "",
        "last_name": "",
        "email": ada.email,
        "phone": "",
        "handle": "",
        "company": "",
        "source_channel": b2b.channel_id,
        "source_campaign": b2b.pk,
        "coupon": "",
        "referred_by": "",
        "owner": "",
        "notes": "",
        "external_id": "",
        **{
            f"{p}-{n}": "0"
            for p in ("stage_changes", "touchpoints", "purchases", "merges")
            for n in ("TOTAL_FORMS", "INITIAL_FORMS")
        },
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = root_client.post(reverse("admin:leads_contact_change", args=[ada.pk]), body)
    assert response.status_code == 302, response.content[:3000]
    ada.refresh_from_db()
    assert (ada.source_channel, ada.source_campaign) == (b2b.channel, b2b)
    march.refresh_from_db()
    followers = {r["key"]: r["followers"] for r in march.data["roi"]["rows"]}
    assert followers.get("instagram", 0) == 0 and followers["linkedin"] == 1
