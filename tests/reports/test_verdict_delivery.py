"""Delivering the weekly verdict (reports.delivery): once per week per target, by email and to
a Slack-compatible webhook, whatever retries or second workers do.

Scenario: Reels (facebook) cost 830.00 over the 8 weeks to Sunday 22 March 2026 and the faked
markov model credits it 1,079.00, between 913.00 and 1,245.00: ROI 0.3, interval (0.1, 0.5),
"pays" (worked in test_verdict.py). The verdict is the one of the week of 16 March, sent on
Monday 23 March.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from campaigns.models import Cost
from reports import delivery, services, tasks, verdict
from reports.delivery import VerdictNotDelivered, verdict_deliver
from reports.models import ReportSubscription, VerdictDelivery
from tests.factories import CampaignFactory, channel
from tests.leads.test_concurrency import race
from tests.reports.fake_datadriven import fake_model

WEEK = dt.date(2026, 3, 16)
MONDAY_AFTER = dt.date(2026, 3, 23)


@pytest.fixture
def scenario(reference_data, monkeypatch, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.VERDICT_SLACK_WEBHOOK_URL = ""
    reels = CampaignFactory(
        name="Reels", channel=channel("facebook"), starts_on=dt.date(2026, 1, 1)
    )
    Cost.objects.create(campaign=reels, incurred_on=dt.date(2026, 3, 2), amount=Decimal("700"))
    Cost.objects.create(campaign=reels, incurred_on=WEEK, amount=Decimal("130"))
    for address in ("ann@example.com", "bob@example.com"):
        ReportSubscription.objects.create(email=address, granularity="weekly")
    # A daily subscriber does not receive the weekly verdict.
    ReportSubscription.objects.create(email="daily@example.com", granularity="daily")
    runs = []

    def fake(**kwargs):
        runs.append(kwargs)
        return fake_model(by_channel={channel("facebook").pk: (107900, 91300, 124500)})

    monkeypatch.setattr(verdict, "data_driven", fake)
    return runs


def statuses() -> dict[str, str]:
    return dict(VerdictDelivery.objects.values_list("target", "status"))


@pytest.mark.django_db
def test_each_weekly_subscriber_gets_one_email_with_text_and_html(scenario):
    done = verdict_deliver(today=MONDAY_AFTER)
    assert sorted(done.sent) == ["ann@example.com", "bob@example.com"]
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.com", "bob@example.com"]
    message = mail.outbox[0]
    assert len(message.to) == 1 and not message.bcc  # one address each: nobody sees another
    assert message.subject == "Weekly verdict: Week 12, 2026"
    # ROI 0.3 in (0.1, 0.5). This week against its history, which starts with the first
    # cost, 2 March: cost 700 then 0, mean 350, (130 - 350) / 350 = -62.9%; no revenue nor
    # lead in either week (mean 0); ROI -1 this week and in the one week with a cost: +0 pp.
    assert (
        "- Facebook: pays, ROI 30.0% (10.0% to 50.0%). This week: revenue 0.00 USD (2-week "
        "mean 0); cost 130.00 USD (-62.9% vs 2-week mean); leads 0 (2-week mean 0); ROI "
        "-100.0% (+0.0 pp vs 1-week mean).\n"
    ) in message.body
    # Pacing: Reels has 1,000.00 a month and no end date: 22 of March's 31 days are gone,
    # 1000 × 22 / 31 = 709.68 expected; spent 700 + 130 = 830.00: 1.17, over.
    assert (
        "- Reels (facebook): spent 830.00 USD of 709.68 USD expected by now (22 of 31 days of "
        "its monthly budget 1,000.00 USD): over pace"
    ) in message.body
    html, kind = message.alternatives[0]
    assert kind == "text/html"
    assert "<td>Facebook</td>" in html and "pays" in html and "10.0% to 50.0%" in html
    assert "130.00 USD<br><small>-62.9% vs 2-week mean</small>" in html
    assert statuses() == {"ann@example.com": "sent", "bob@example.com": "sent"}
    assert all(d.sent_at and d.attempts == 1 for d in VerdictDelivery.objects.all())


@pytest.mark.django_db
def test_the_comparison_in_words():
    week = {"value": "130.00", "mean": "100.00", "weeks": 8, "change": "0.3000", "anomaly": True}
    roi = {"value": "1.0000", "mean": "-1.0000", "weeks": 8, "change": "2.0000", "anomaly": None}
    row = {
        "week": {
            "revenue": {"value": "0.00", "mean": None, "weeks": 0, "change": None, "anomaly": None},
            "cost": week,
            "leads": {"value": "2.00", "mean": "0.00", "weeks": 3, "change": None, "anomaly": None},
            "roi": roi,
        }
    }
    assert [(c["name"], c["value"], c["compared"]) for c in delivery.week_cells(row)] == [
        ("revenue", "0.00 USD", "no history"),
        ("cost", "130.00 USD", "+30.0% vs 8-week mean, unusual"),
        ("leads", "2", "3-week mean 0"),
        ("ROI", "100.0%", "+200.0 pp vs 8-week mean"),
    ]


@pytest.mark.django_db
def test_a_second_run_sends_nothing_and_computes_nothing(scenario):
    verdict_deliver(today=MONDAY_AFTER)
    again = verdict_deliver(today=MONDAY_AFTER)
    assert again.sent == [] and sorted(again.skipped) == ["ann@example.com", "bob@example.com"]
    assert len(mail.outbox) == 2
    assert len(scenario) == 1  # the model ran for the first run only


@pytest.mark.django_db
def test_a_failed_send_is_retried_without_sending_the_others_twice(scenario, monkeypatch):
    real = delivery.email_send
    refusals = {"bob@example.com": 1}

    def flaky(*, address, message):
        if refusals.get(address):
            refusals[address] -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        real(address=address, message=message)

    monkeypatch.setattr(delivery, "email_send", flaky)
    with pytest.raises(VerdictNotDelivered, match=r"bob@example\.com"):
        verdict_deliver(today=MONDAY_AFTER)
    assert statuses() == {"ann@example.com": "sent", "bob@example.com": "failed"}
    bob = VerdictDelivery.objects.get(target="bob@example.com")
    assert bob.error == "SMTPServerDisconnected: Connection unexpectedly closed"
    # The retry sends Bob's and leaves Ann's alone.
    done = verdict_deliver(today=MONDAY_AFTER)
    assert (done.sent, done.skipped) == (["bob@example.com"], ["ann@example.com"])
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.com", "bob@example.com"]
    bob.refresh_from_db()
    assert (bob.status, bob.attempts, bob.error) == ("sent", 2, "")


@pytest.mark.django_db
def test_the_task_retries_with_backoff_until_everyone_has_it(scenario, monkeypatch):
    """The Celery task, eager, retrying in place: Bob's server refuses twice, then takes it."""
    from config.celery_app import app

    monkeypatch.setattr(app.conf, "task_eager_propagates", False)
    real = delivery.email_send
    refusals = {"bob@example.com": 2}

    def flaky(*, address, message):
        if refusals.get(address):
            refusals[address] -= 1
            raise ConnectionRefusedError("mail server down")
        real(address=address, message=message)

    monkeypatch.setattr(delivery, "email_send", flaky)
    result = tasks.send_weekly_verdict.apply(args=[WEEK.isoformat()])
    assert result.successful(), result.traceback
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.com", "bob@example.com"]
    assert VerdictDelivery.objects.get(target="bob@example.com").attempts == 3


@pytest.mark.django_db
def test_a_delivery_left_sending_is_not_sent_again(scenario):
    """A worker that died mid-send left its claim: whether the message left is unknown, and
    a verdict twice is worse than one missing."""
    VerdictDelivery.objects.create(
        period_start=WEEK, target="ann@example.com", medium="email", status="sending"
    )
    done = verdict_deliver(today=MONDAY_AFTER)
    assert (done.sent, done.skipped) == (["bob@example.com"], ["ann@example.com"])
    assert [m.to[0] for m in mail.outbox] == ["bob@example.com"]


@pytest.mark.django_db
def test_nobody_subscribed_means_nothing_computed(scenario):
    ReportSubscription.objects.filter(granularity="weekly").delete()
    done = verdict_deliver(today=MONDAY_AFTER)
    assert (done.sent, done.failed, done.skipped) == ([], [], [])
    assert scenario == [] and not VerdictDelivery.objects.exists()


def test_the_verdict_is_a_monday_beat_entry_with_expiry(reference_data):
    entry = PeriodicTask.objects.get(name="Weekly verdict")
    assert entry.task == "reports.tasks.send_weekly_verdict"
    assert (entry.crontab.day_of_week, entry.crontab.hour, entry.crontab.minute) == ("1", "7", "0")
    assert 0 < entry.expire_seconds <= 24 * 3600


@pytest.mark.django_db
def test_a_verdict_job_lost_by_the_broker_is_sent_by_the_sweeper(scenario):
    # Beat fired on Monday 23 March at 07:00 while Redis was away: no delivery of the week of
    # 16 March exists. Within the grace nothing is sent; after it, the sweeper sends the job.
    fired = timezone.make_aware(dt.datetime(2026, 3, 23, 7))
    PeriodicTask.objects.filter(name="Weekly verdict").update(last_run_at=fired)
    with mock.patch.object(tasks.send_weekly_verdict, "delay") as delay:
        assert delivery.verdict_catch_up(now=fired + dt.timedelta(minutes=5)) == 0
        assert services.reports_sweep(now=fired + dt.timedelta(hours=1)) == 1
        delay.assert_called_once_with("2026-03-16")
        # Once the week's deliveries exist, the sweeper leaves it.
        verdict_deliver(start=WEEK)
        delay.reset_mock()
        assert delivery.verdict_catch_up(now=fired + dt.timedelta(hours=2)) == 0
        # The entry last fired before the week closed (last Monday): not due yet.
        PeriodicTask.objects.filter(name="Weekly verdict").update(
            last_run_at=fired - dt.timedelta(days=7)
        )
        assert delivery.verdict_catch_up(now=fired + dt.timedelta(hours=2)) == 0
        # Nobody to send it to: nothing to catch up.
        PeriodicTask.objects.filter(name="Weekly verdict").update(last_run_at=fired)
        VerdictDelivery.objects.all().delete()
        ReportSubscription.objects.filter(granularity="weekly").delete()
        assert delivery.verdict_catch_up(now=fired + dt.timedelta(hours=2)) == 0
    delay.assert_not_called()


# Slack ------------------------------------------------------------------------------------------


class Webhook:
    """A local HTTP server on a free port that records what is posted to it and answers
    with the statuses it is given (then 200), after an optional delay."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests.append(
                    {
                        "path": self.path,
                        "type": self.headers["Content-Type"],
                        "json": json.loads(body),
                    }
                )
                time.sleep(hook.delay)
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no_service")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(scenario, settings):
    hook = Webhook()
    settings.VERDICT_SLACK_WEBHOOK_URL = hook.url
    settings.VERDICT_SLACK_TIMEOUT = 1
    yield hook
    hook.close()


@pytest.mark.django_db
def test_the_verdict_is_posted_to_the_webhook_once(webhook):
    done = verdict_deliver(today=MONDAY_AFTER)
    assert sorted(done.sent) == ["ann@example.com", "bob@example.com", "slack"]
    assert len(webhook.requests) == 1
    posted = webhook.requests[0]
    assert posted["path"] == "/services/T0/B0/secret"
    assert posted["type"] == "application/json"
    payload = posted["json"]
    assert payload["text"].startswith("Weekly verdict: Week 12, 2026\n• Facebook: pays, ROI 30.0%")
    assert [b["type"] for b in payload["blocks"]] == ["header", "context", "section", "section"]
    assert payload["blocks"][0]["text"]["text"] == "Weekly verdict: Week 12, 2026"
    assert payload["blocks"][2]["text"]["text"].startswith("*Channels*\n• Facebook: pays")
    assert statuses()["slack"] == "sent"
    verdict_deliver(today=MONDAY_AFTER)
    assert len(webhook.requests) == 1


@pytest.mark.django_db
def test_a_webhook_error_is_recorded_and_retried(webhook):
    webhook.statuses = [500]
    with pytest.raises(VerdictNotDelivered, match="slack"):
        verdict_deliver(today=MONDAY_AFTER)
    slack = VerdictDelivery.objects.get(target="slack")
    assert (slack.status, slack.error) == (
        "failed",
        "HTTPError: HTTP Error 500: Internal Server Error",
    )
    done = verdict_deliver(today=MONDAY_AFTER)
    assert done.sent == ["slack"]
    assert len(webhook.requests) == 2 and len(mail.outbox) == 2


@pytest.mark.django_db
def test_a_webhook_that_does_not_answer_in_time_fails_the_post(webhook):
    webhook.delay = 1.5  # longer than the 1 s timeout
    started = time.monotonic()
    with pytest.raises(VerdictNotDelivered):
        verdict_deliver(today=MONDAY_AFTER)
    assert time.monotonic() - started < 5
    slack = VerdictDelivery.objects.get(target="slack")
    assert slack.status == "failed" and "timed out" in slack.error


# Two senders at once (PostgreSQL) ---------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_at_once_send_each_verdict_once(scenario, webhook, monkeypatch):
    real = delivery.email_send

    def slow(*, address, message):
        # Long enough for the other worker to reach the same row while this one sends.
        time.sleep(0.3)
        real(address=address, message=message)

    monkeypatch.setattr(delivery, "email_send", slow)
    results = race(2, lambda i: verdict_deliver(today=MONDAY_AFTER))
    assert all(isinstance(r, delivery.Delivered) for r in results), results
    sent = sorted(target for r in results for target in r.sent)
    assert sent == ["ann@example.com", "bob@example.com", "slack"]
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.com", "bob@example.com"]
    assert len(webhook.requests) == 1
    assert statuses() == {"ann@example.com": "sent", "bob@example.com": "sent", "slack": "sent"}


@pytest.mark.django_db
def test_a_webhook_that_is_gone_is_not_retried(webhook):
    """Slack answers 404 for a deleted webhook: trying again would fail the same way."""
    webhook.statuses = [404]
    done = verdict_deliver(today=MONDAY_AFTER)
    assert (sorted(done.sent), done.failed, done.refused) == (
        ["ann@example.com", "bob@example.com"],
        [],
        ["slack"],
    )
    assert (
        VerdictDelivery.objects.get(target="slack").error == "HTTPError: HTTP Error 404: Not Found"
    )
