"""Saved reports' names, CSV and delete on their pages (issue 11), through the test client.

The scenario of tests/reports/conftest.py: March 2026 has revenue 150.00 (both purchases) and
cost 600.00; by channel under last touch, Pinterest has the 150.00.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from reports import services
from reports.models import Granularity, Report
from tests.factories import UserFactory

D = dt.date


@pytest.fixture
def marketer_client(client, marketing_user):
    client.force_login(marketing_user)
    return client


@pytest.fixture
def march_report(scenario) -> Report:
    report = services.report_request(start=D(2026, 3, 1), end=D(2026, 3, 31), enqueue=False)
    services.report_generate(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == Report.Status.DONE
    return report


@pytest.mark.parametrize(
    "start,end,name",
    [
        (D(2026, 3, 1), D(2026, 3, 31), "March 2026"),
        (D(2026, 7, 1), D(2026, 9, 30), "Q3 2026"),
        (D(2025, 1, 1), D(2025, 12, 31), "2025"),
        (D(2026, 11, 16), D(2026, 11, 22), "Week 47, 2026"),
        (D(2026, 3, 1), D(2026, 3, 15), "1\u201315 Mar 2026"),
        (D(2026, 11, 23), D(2026, 11, 23), "23 Nov 2026"),
    ],
)
def test_a_report_is_named_by_its_period(start, end, name):
    assert Report(start=start, end=end).name == name


@pytest.mark.django_db
def test_last_quarter_asked_on_the_list_is_named_by_its_quarter(
    marketer_client, django_capture_on_commit_callbacks
):
    with time_machine.travel(dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC), tick=False):
        with django_capture_on_commit_callbacks(execute=False):
            response = marketer_client.post(
                reverse("reports:saved-generate"), {"preset": "last_quarter"}
            )
        report = Report.objects.get()
        assert response["Location"] == reverse("reports:saved-detail", args=[report.pk])
        assert (report.start, report.end, report.granularity) == (
            D(2026, 7, 1),
            D(2026, 9, 30),
            Granularity.CUSTOM,
        )
        listed = marketer_client.get(reverse("reports:saved")).content.decode()
        assert ">Q3 2026</a>" in listed
        detail = marketer_client.get(response["Location"]).content.decode()
        assert "<h1>Q3 2026 " in detail


def test_a_done_report_offers_its_csv(marketer_client, march_report):
    page = marketer_client.get(reverse("reports:saved-detail", args=[march_report.pk]))
    csv_url = reverse("reports:saved-csv", args=[march_report.pk])
    assert f'href="{csv_url}"' in page.content.decode()
    response = marketer_client.get(csv_url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "roi-channel-2026-03-01-2026-03-31-last_touch.csv" in response["Content-Disposition"]
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    assert rows["pinterest"]["revenue"] == "150.00"
    assert (rows["totals"]["revenue"], rows["totals"]["cost"]) == ("150.00", "600.00")


def test_a_pending_report_has_no_csv_yet(marketer_client, scenario):
    report = services.report_request(start=D(2026, 3, 1), end=D(2026, 3, 31), enqueue=False)
    response = marketer_client.get(reverse("reports:saved-csv", args=[report.pk]))
    assert response.status_code == 409
    page = marketer_client.get(reverse("reports:saved-detail", args=[report.pk]))
    assert reverse("reports:saved-csv", args=[report.pk]) not in page.content.decode()


def test_a_marketer_deletes_a_report_with_a_post(marketing_user, march_report):
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketing_user)
    url = reverse("reports:saved-delete", args=[march_report.pk])
    page = client.get(reverse("reports:saved-detail", args=[march_report.pk]))
    assert f'action="{url}"' in page.content.decode()
    assert client.get(url).status_code == 405  # never by a link
    assert client.post(url).status_code == 403  # no CSRF token
    response = client.post(url, {"csrfmiddlewaretoken": page.context["csrf_token"]})
    assert response.status_code == 302 and response["Location"] == reverse("reports:saved")
    assert not Report.objects.filter(pk=march_report.pk).exists()
    assert "Deleted the report March 2026." in client.get(reverse("reports:saved")).content.decode()


def test_deleting_needs_the_delete_permission(client, sales_user, march_report):
    url = reverse("reports:saved-delete", args=[march_report.pk])
    client.force_login(sales_user)
    assert client.post(url).status_code == 403
    # May see reports, may not delete them: no button, and a 403.
    viewer = UserFactory(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client.force_login(viewer)
    page = client.get(reverse("reports:saved-detail", args=[march_report.pk]))
    assert page.status_code == 200 and url not in page.content.decode()
    assert client.post(url).status_code == 403
    assert Report.objects.filter(pk=march_report.pk).exists()
