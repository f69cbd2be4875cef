"""Saved reports: the API (202, list, read), regeneration, stale marking, tasks, delivery."""

from __future__ import annotations

import csv
import datetime as dt
import io
from unittest import mock

import pytest
from django.db import OperationalError
from django_celery_beat.models import PeriodicTask

from leads.models import Via
from leads.services import contact_create, purchase_record, touchpoint_record
from reports import services, tasks
from reports.metrics import funnel_report, roi_report
from reports.models import Report, ReportSubscription
from tests.api.conftest import token_client
from tests.factories import UserFactory, channel
from tests.reports.conftest import coupon_sale

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def scenario():
    """March: Spring pins (pinterest) costs 400.00; a coupon purchase of 100.00 on 20 March."""
    pins = coupon_sale()
    return pins


@pytest.fixture
def marketer_api(marketing_user):
    return token_client(marketing_user)


def test_live_roi_and_funnel_endpoints(marketer_api, scenario):
    response = marketer_api.get(
        "/api/v1/reports/roi/", {**MARCH, "group_by": "campaign", "attribution": "first_touch"}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["group_by"], body["attribution"], body["currency"]) == (
        "campaign",
        "first_touch",
        "USD",
    )
    assert body["totals"]["revenue"] == "100.00" and body["totals"]["cost"] == "400.00"
    assert body == roi_report(
        start=dt.date(2026, 3, 1),
        end=dt.date(2026, 3, 31),
        group_by="campaign",
        attribution="first_touch",
    )
    funnel = marketer_api.get("/api/v1/reports/funnel/", MARCH).json()
    assert funnel["totals"]["followers"] == 1 and funnel["totals"]["customers"] == 1


@pytest.mark.parametrize(
    "params,field",
    [
        ({"start": "2026-03-31", "end": "2026-03-01"}, "end"),
        ({"start": "2026-02-30", "end": "2026-03-01"}, "start"),
        ({**MARCH, "attribution": "u_shaped"}, "attribution"),
        ({**MARCH, "group_by": "planet"}, "group_by"),
        ({"start": "2026-03-01"}, "end"),
        ({**MARCH, "lookback_days": "0"}, "lookback_days"),
    ],
)
def test_live_endpoint_validates_parameters(marketer_api, params, field):
    response = marketer_api.get("/api/v1/reports/roi/", params)
    assert response.status_code == 400 and field in response.json()


def test_report_endpoints_need_the_report_permission(sales_user, integration_user, superuser):
    for user, code in ((sales_user, 403), (integration_user, 403), (None, 401), (superuser, 200)):
        client = token_client(user)
        assert client.get("/api/v1/reports/roi/", MARCH).status_code == code
        assert client.get("/api/v1/reports/").status_code == code


def test_asking_for_a_report_answers_202_and_fills_it(
    marketer_api, scenario, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = marketer_api.post(
            "/api/v1/reports/", {**MARCH, "group_by": "channel"}, format="json"
        )
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    assert len(callbacks) == 1  # queued after the commit, not before
    report = Report.objects.get()
    assert report.status == "done" and report.finished_at is not None
    assert report.data["roi"] == roi_report(start=report.start, end=report.end)
    assert (
        report.data["funnel"]["totals"]
        == funnel_report(start=report.start, end=report.end)["totals"]
    )
    listed = marketer_api.get("/api/v1/reports/").json()["results"]
    assert [r["id"] for r in listed] == [report.pk]
    read = marketer_api.get(f"/api/v1/reports/{report.pk}/").json()
    assert read["data"]["roi"]["totals"]["revenue"] == "100.00"


def test_asking_again_replaces_never_duplicates(
    marketer_api, scenario, django_capture_on_commit_callbacks
):
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert marketer_api.post("/api/v1/reports/", MARCH, format="json").status_code == 202
    assert Report.objects.count() == 1
    assert Report.objects.get().status == "done"


def test_generation_is_claimed_once():
    report = services.report_request(
        start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), enqueue=False
    )
    assert services.report_generate(report_id=report.pk).status == "done"
    assert services.report_generate(report_id=report.pk) is None  # done: nothing to claim
    assert services.report_generate(report_id=999_999) is None  # deleted: tolerated


def test_late_data_marks_reports_stale_and_regenerates_them(
    scenario, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = services.report_request(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    assert Report.objects.get(pk=report.pk).data["roi"]["totals"]["revenue"] == "100.00"
    april = services.report_request(
        start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 30), enqueue=False
    )
    services.report_generate(report_id=april.pk)
    # A late purchase dated in March: the March report is regenerated, April's is untouched.
    with django_capture_on_commit_callbacks(execute=True):
        purchase_record(
            email="late@example.com",
            amount="50.00",
            occurred_at=dt.datetime(2026, 3, 25, tzinfo=UTC),
            via=Via.API,
        )
    report.refresh_from_db()
    assert (report.status, report.stale) == ("done", False)
    assert report.data["roi"]["totals"]["revenue"] == "150.00"
    assert report.data["roi"] == roi_report(start=report.start, end=report.end)
    assert Report.objects.get(pk=april.pk).finished_at is not None
    # A late cost through the API does the same.
    client = token_client(UserFactory(username="boss", is_superuser=True))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/api/v1/costs/",
            {"campaign": scenario.pk, "incurred_on": "2026-03-30", "amount": "100.00"},
            format="json",
        )
    report.refresh_from_db()
    assert report.data["roi"]["totals"]["cost"] == "500.00"


def test_a_late_touch_marks_the_reports_of_the_purchases_it_now_precedes(
    django_capture_on_commit_callbacks,
):
    # Ada (entered in January from instagram, no purchase before April) buys 30.00 on 10 April.
    # A facebook touch dated 31 March arrives late: it joins the window of the April purchase,
    # so the April report moves (linear: 15.00 each). March's figures do not move (the touch's
    # own day is marked too, so March is regenerated, to the same figures).
    ada = contact_create(
        email="ada@example.com",
        source="instagram",
        entered_at=dt.datetime(2026, 1, 5, tzinfo=UTC),
        via=Via.API,
    )
    purchase_record(
        contact=ada, amount="30.00", occurred_at=dt.datetime(2026, 4, 10, tzinfo=UTC), via=Via.API
    )
    reports = {}
    for month, last in ((3, 31), (4, 30)):
        reports[month] = services.report_request(
            start=dt.date(2026, month, 1),
            end=dt.date(2026, month, last),
            attribution="linear",
            enqueue=False,
        )
        services.report_generate(report_id=reports[month].pk)
    march_done = Report.objects.get(pk=reports[3].pk).finished_at
    with django_capture_on_commit_callbacks(execute=True):
        touchpoint_record(
            contact=ada,
            channel=channel("facebook"),
            occurred_at=dt.datetime(2026, 3, 31, 12, tzinfo=UTC),
        )
    april = Report.objects.get(pk=reports[4].pk)
    assert {r["key"]: r["revenue"] for r in april.data["roi"]["rows"]} == {
        "instagram": "15.00",
        "facebook": "15.00",
    }
    march = Report.objects.get(pk=reports[3].pk)
    assert march.finished_at > march_done and march.data["roi"]["totals"]["revenue"] == "0.00"


def test_tasks_retry_only_transient_errors():
    assert OperationalError in tasks.generate_report.autoretry_for
    assert ValueError not in tasks.generate_report.autoretry_for
    assert tasks.generate_report.max_retries == 5 and tasks.generate_report.retry_backoff
    report = services.report_request(
        start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), enqueue=False
    )
    with (
        mock.patch("reports.services.roi_report", side_effect=ValueError("bug")),
        pytest.raises(ValueError),
    ):
        tasks.generate_report.apply(args=[report.pk], throw=True)
    report.refresh_from_db()
    assert report.status == "failed" and "ValueError: bug" in report.error


def test_periodic_reports_cover_the_right_periods():
    # On Wednesday 15 April 2026: yesterday, the ISO week 6-12 April, and March.
    today = dt.date(2026, 4, 15)
    got = {
        g: [
            (r.start, r.end, r.group_by)
            for r in services.periodic_reports(granularity=g, today=today)
        ]
        for g in ("daily", "weekly", "monthly")
    }
    assert got["daily"] == [
        (dt.date(2026, 4, 14), dt.date(2026, 4, 14), "channel"),
        (dt.date(2026, 4, 14), dt.date(2026, 4, 14), "campaign"),
    ]
    assert got["weekly"][0][:2] == (dt.date(2026, 4, 6), dt.date(2026, 4, 12))
    assert got["monthly"][0][:2] == (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert Report.objects.filter(status="done").count() == 6


def test_beat_schedules_are_stored_with_expiry():
    tasks_ = {
        t.name: t for t in PeriodicTask.objects.filter(task="reports.tasks.generate_periodic")
    }
    assert set(tasks_) == {"Daily ROI report", "Weekly ROI report", "Monthly ROI report"}
    weekly = tasks_["Weekly ROI report"]
    assert (weekly.crontab.day_of_week, weekly.crontab.hour, weekly.args) == (
        "1",
        "6",
        '["weekly"]',
    )
    assert all(t.expire_seconds for t in tasks_.values())


def test_monthly_report_is_emailed_to_its_subscribers(scenario, mailoutbox, marketing_user):
    ReportSubscription.objects.create(email=marketing_user.email, granularity="monthly")
    ReportSubscription.objects.create(email="weekly-only@example.com", granularity="weekly")
    reports = services.periodic_reports(granularity="monthly", today=dt.date(2026, 4, 2))
    assert len(mailoutbox) == 2  # by channel and by campaign
    mail = mailoutbox[0]
    assert mail.bcc == [marketing_user.email]  # not the weekly subscriber
    assert "Monthly ROI report 2026-03-01 to 2026-03-31" in mail.subject
    html = mail.alternatives[0][0]
    assert "100.00 USD" in html and "400.00 USD" in html and "-75.0%" in html
    name, content, mimetype = mail.attachments[0]
    assert mimetype == "text/csv" and name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(content)))
    api = reports[0].data["roi"]
    assert [r["revenue"] for r in rows] == [r["revenue"] for r in api["rows"]] + [
        api["totals"]["revenue"]
    ]
    # One generation is mailed once.
    assert services.report_deliver(report=reports[0]) == 0
    assert len(mailoutbox) == 2


def test_the_email_shows_roi_as_the_pages_do(scenario, mailoutbox, marketing_user):
    """ROI as a percentage and an em dash where it is undefined (no cost), in both parts."""
    purchase_record(
        email="walkin@example.com",
        amount="20.00",
        occurred_at=dt.datetime(2026, 3, 21, tzinfo=UTC),
        via=Via.API,
    )  # no coupon, no source: the unattributed row, with no cost
    ReportSubscription.objects.create(email=marketing_user.email, granularity="monthly")
    services.periodic_reports(granularity="monthly", today=dt.date(2026, 4, 2))
    mail = mailoutbox[0]  # by channel
    html, text = mail.alternatives[0][0], mail.body
    assert '<td align="right">-75.0%</td>' in html  # pinterest: 100.00 back on 400.00
    assert '<td align="right">—</td>' in html  # unattributed: no cost, no ROI
    assert "revenue 100.00 USD, cost 400.00 USD, ROI -75.0%" in text
    assert "revenue 20.00 USD, cost 0.00 USD, ROI —" in text
    assert "ROI:       -70.0%" in text  # 120.00 on 400.00
    assert "-0.7500" not in html + text and "n/a" not in html + text


def test_user_strings_are_escaped_in_the_email(scenario, mailoutbox, marketing_user):
    scenario.name = "<script>alert(1)</script>"
    scenario.save()
    ReportSubscription.objects.create(email=marketing_user.email, granularity="monthly")
    services.periodic_reports(granularity="monthly", today=dt.date(2026, 4, 2))
    html = mailoutbox[1].alternatives[0][0]
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
