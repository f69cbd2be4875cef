"""A real Celery worker on Redis: a beat entry fires, the saved report appears and is emailed.

Runs in the PostgreSQL pass of bin/test (REDIS_URL set); committed rows are needed, since the
worker runs in its own thread with its own database connection.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from campaigns.models import Cost
from config.celery_app import app
from leads.models import Via
from leads.services import purchase_record
from reports.models import Report, ReportSubscription
from tests.factories import CampaignFactory, UserFactory, channel

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def real_worker(settings):
    """The app off eager mode, a worker thread consuming from Redis, and mail kept in memory."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    app.conf.task_always_eager = False
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"
        ):
            yield
    finally:
        app.conf.task_always_eager = True


def test_a_beat_entry_makes_and_emails_the_monthly_report(reference_data, real_worker):
    # Last month, whatever today is: a cost and a purchase in it.
    today = timezone.localdate()
    end = today.replace(day=1) - dt.timedelta(days=1)
    start = end.replace(day=1)
    campaign = CampaignFactory(channel=channel("pinterest"), starts_on=start)
    Cost.objects.create(campaign=campaign, incurred_on=start, amount=Decimal("40.00"))
    purchase_record(
        email="a@example.com",
        amount="100.00",
        via=Via.API,
        occurred_at=dt.datetime.combine(start, dt.time(12), tzinfo=dt.UTC) + dt.timedelta(days=1),
    )
    marketer = UserFactory(username="mona", groups=["Marketing"])
    ReportSubscription.objects.create(email=marketer.email, granularity="monthly")

    # Fire the entry the way beat does: its task, its arguments, its expiry.
    entry = PeriodicTask.objects.get(name="Monthly ROI report")
    result = app.send_task(entry.task, args=json.loads(entry.args), expires=entry.expire_seconds)
    assert len(result.get(timeout=60)) == 2

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Report.objects.filter(status="done").count() < 2:
        time.sleep(0.2)
    reports = Report.objects.filter(granularity="monthly", start=start, end=end)
    assert sorted(reports.values_list("group_by", "status")) == [
        ("campaign", "done"),
        ("channel", "done"),
    ]
    by_channel = reports.get(group_by="channel")
    assert by_channel.data["roi"]["totals"]["revenue"] == "100.00"
    assert by_channel.data["roi"]["totals"]["cost"] == "40.00"
    assert by_channel.emailed_at is not None
    assert len(mail.outbox) == 2 and mail.outbox[0].bcc == [marketer.email]
