"""Delivering the weekly verdict (`reports.verdict`): once per week per target.

The targets are the addresses subscribed to weekly reports (the subscriptions page) and, when
`VERDICT_SLACK_WEBHOOK_URL` is set, a Slack-compatible incoming webhook. Each (week, target) is
a `VerdictDelivery` row, inserted ignoring conflicts and claimed by a conditional UPDATE that
must touch that one row (pending or failed to sending): two workers, or a task and its retry,
never both send it. A send that failed is recorded as failed and the task retries it with
backoff; the targets already sent are not touched again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from reports.models import Granularity, VerdictDelivery
from reports.periods import last_iso_week
from reports.services import report_recipients
from reports.templatetags.report_format import fmt, signed_percent, signed_points
from reports.verdict import weekly_verdict

log = logging.getLogger(__name__)
SLACK = "slack"
SLACK_SECTION_CHARS = 2900  # a Slack section's text holds at most 3,000 characters


class VerdictNotDelivered(Exception):
    """Some targets could not be reached for now (the task retries them with backoff)."""


@dataclass
class Delivered:
    """What one run did: targets sent now, failed now (to be retried), refused now (a retry
    would fail the same way: a webhook's 404, a bad address), and left alone (sent or being
    sent)."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def verdict_targets() -> list[tuple[str, str]]:
    """(target, medium) of everyone who receives the verdict: the weekly subscribers, then
    the Slack webhook when one is set."""
    targets = [
        (address, VerdictDelivery.Medium.EMAIL) for address in report_recipients(Granularity.WEEKLY)
    ]
    if settings.VERDICT_SLACK_WEBHOOK_URL:
        targets.append((SLACK, VerdictDelivery.Medium.SLACK))
    return targets


def _transient(exc: Exception) -> bool:
    """Whether a send that raised may succeed later: a connection refused or reset, a
    timeout, the mail server's refusal (SMTP), an HTTP 5xx or 429 from the webhook. Its other
    4xx answers (no such webhook, a bad payload) and any other error would fail again."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code == 429
    return isinstance(exc, (OSError, smtplib.SMTPException))


def _claim(delivery: VerdictDelivery) -> dt.datetime | None:
    """Take the delivery for this run: the moment of the claim, or None when another run has
    it or it was sent. The UPDATE's condition is the lock: of any number of runs, one moves
    the row from pending or failed to sending."""
    now = timezone.now()
    taken = VerdictDelivery.objects.filter(
        pk=delivery.pk,
        status__in=[VerdictDelivery.Status.PENDING, VerdictDelivery.Status.FAILED],
    ).update(
        status=VerdictDelivery.Status.SENDING,
        claimed_at=now,
        attempts=F("attempts") + 1,
        error="",
    )
    return now if taken else None


def verdict_deliver(*, start: dt.date | None = None, today: dt.date | None = None) -> Delivered:
    """Send the verdict of the week starting `start` (default: the last full week before
    `today`) to every target that has not had it; returns what was done. Raises
    `VerdictNotDelivered` after trying every target when any could not be reached for now: the
    task's retry then sends those, and only those. A target refused for good is recorded as
    failed and logged as an error without asking for a retry; a later run of the week (a retry
    for another target, or the task run again with its `start`) tries it again."""
    if start is None:
        start, _ = last_iso_week(today or timezone.localdate())
    targets = verdict_targets()
    done = Delivered()
    if not targets:
        return done
    # Insert-on-conflict: the first run makes the rows, later ones find them.
    VerdictDelivery.objects.bulk_create(
        [VerdictDelivery(period_start=start, target=t, medium=m) for t, m in targets],
        ignore_conflicts=True,
    )
    deliveries = list(
        VerdictDelivery.objects.filter(period_start=start, target__in=[t for t, _ in targets])
    )
    open_ones = [
        d
        for d in deliveries
        if d.status in (VerdictDelivery.Status.PENDING, VerdictDelivery.Status.FAILED)
    ]
    done.skipped = sorted(d.target for d in deliveries if d not in open_ones)
    if not open_ones:
        return done
    verdict = weekly_verdict(start=start)
    message = verdict_message(verdict)
    for delivery in open_ones:
        claimed_at = _claim(delivery)
        if claimed_at is None:
            done.skipped.append(delivery.target)
            continue
        mine = VerdictDelivery.objects.filter(
            pk=delivery.pk, status=VerdictDelivery.Status.SENDING, claimed_at=claimed_at
        )
        try:
            if delivery.medium == VerdictDelivery.Medium.SLACK:
                slack_post(url=settings.VERDICT_SLACK_WEBHOOK_URL, payload=message["slack"])
            else:
                email_send(address=delivery.target, message=message)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:2000]
            mine.update(status=VerdictDelivery.Status.FAILED, error=reason)
            if _transient(exc):
                log.warning("Verdict of %s to %s not sent: %s", start, delivery.target, reason)
                done.failed.append(delivery.target)
            else:
                log.error("Verdict of %s to %s refused: %s", start, delivery.target, reason)
                done.refused.append(delivery.target)
            continue
        mine.update(status=VerdictDelivery.Status.SENT, sent_at=timezone.now())
        done.sent.append(delivery.target)
    if done.failed:
        raise VerdictNotDelivered(f"Not delivered yet: {', '.join(done.failed)}")
    return done


def email_send(*, address: str, message: dict) -> None:
    """One subscriber's email: plain text and HTML, to that address alone."""
    email = EmailMultiAlternatives(
        subject=message["subject"],
        body=message["text"],
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
    )
    email.attach_alternative(message["html"], "text/html")
    email.send()


def slack_post(*, url: str, payload: dict) -> None:
    """POST the Slack-compatible JSON to the webhook, within `VERDICT_SLACK_TIMEOUT` seconds;
    an HTTP error status raises (urllib's HTTPError, an OSError)."""
    request = urllib.request.Request(  # noqa: S310  (the setting is checked to be http(s))
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=settings.VERDICT_SLACK_TIMEOUT) as response:  # noqa: S310
        response.read()


def _change_text(figure: str, week: dict) -> str:
    """How the week's figure compares with its history, in words: "+30.0% vs 8-week mean",
    "unusual" added when it is outside the usual range."""
    if week["weeks"] == 0:
        return "no history"
    if week["value"] is None:
        return "no cost this week"
    span = f"{week['weeks']}-week mean"
    if week["change"] is None:
        said = f"{span} 0"
    elif figure == "roi":
        said = f"{signed_points(week['change'])} vs {span}"
    else:
        said = f"{signed_percent(week['change'])} vs {span}"
    return f"{said}, unusual" if week["anomaly"] else said


FIGURE_KINDS = {"revenue": "money", "cost": "money", "leads": "count", "roi": "percent"}
FIGURE_NAMES = {"revenue": "revenue", "cost": "cost", "leads": "leads", "roi": "ROI"}


def week_cells(row: dict) -> list[dict]:
    """A channel's week figures as shown: per figure its name, value, comparison and flag."""
    return [
        {
            "name": FIGURE_NAMES[figure],
            "value": fmt(row["week"][figure]["value"], kind),
            "compared": _change_text(figure, row["week"][figure]),
            "anomaly": bool(row["week"][figure]["anomaly"]),
        }
        for figure, kind in FIGURE_KINDS.items()
    ]


def verdict_lines(verdict: dict) -> dict[str, list[str]]:
    """The verdict as plain lines (the text email and Slack): per channel, and per campaign's
    pacing."""
    channels = []
    for row in verdict["channels"]:
        if row["roi_low"] is None:
            interval = ""
        else:
            interval = (
                f", ROI {fmt(row['roi'], 'percent')} "
                f"({fmt(row['roi_low'], 'percent')} to {fmt(row['roi_high'], 'percent')})"
            )
        reason = f" {row['reason']}" if row["reason"] else ""
        week = "; ".join(
            f"{cell['name']} {cell['value']} ({cell['compared']})" for cell in week_cells(row)
        )
        channels.append(
            f"{row['label']}: {row['verdict_label']}{interval}.{reason} This week: {week}."
        )
    pacing = [
        f"{row['label']} ({row['channel']}): spent {fmt(row['spent'], 'money')} of "
        f"{fmt(row['expected'], 'money')} expected by now "
        f"({row['days_elapsed']} of {row['days']} days of its "
        f"{'flight' if row['basis'] == 'flight' else 'monthly'} budget "
        f"{fmt(row['budget'], 'money')}): {row['status']} pace"
        for row in verdict["pacing"]
    ]
    return {"channels": channels, "pacing": pacing}


def verdict_message(verdict: dict) -> dict:
    """The email's subject, text and HTML, and the Slack payload ({"text", "blocks"})."""
    lines = verdict_lines(verdict)
    subject = f"Weekly verdict: {verdict['name']}"
    context = {
        "verdict": verdict,
        "lines": lines,
        "subject": subject,
        "rows": [{**row, "cells": week_cells(row)} for row in verdict["channels"]],
    }
    slack_text = "\n".join([subject, *(f"• {line}" for line in lines["channels"])])

    def section(title: str, items: list[str]) -> dict:
        text = "\n".join(f"• {item}" for item in items) or "None."
        if len(text) > SLACK_SECTION_CHARS:
            text = text[: SLACK_SECTION_CHARS - 1] + "…"
        return {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{text}"}}

    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": subject}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": (
                        f"ROI and its 95% interval: {verdict['model']} attribution, "
                        f"{verdict['window_start']} to {verdict['end']}. "
                        "This week: last touch, against the 8 weeks before."
                    ),
                }
            ],
        },
        section("Channels", lines["channels"]),
        section("Campaign pacing", lines["pacing"]),
    ]
    return {
        "subject": subject,
        "text": render_to_string("reports/email/verdict.txt", context),
        "html": render_to_string("reports/email/verdict.html", context),
        "slack": {"text": slack_text, "blocks": blocks},
    }


def verdict_missed(*, now: dt.datetime) -> dt.date | None:
    """The Monday of last week when its verdict's beat entry fired after the week closed but no
    delivery of it exists while someone should receive it: the job was lost (beat advances an
    entry before it sends, so a job Redis refused is not tried again until next week). Given
    `PERIODIC_GRACE` after the entry fired, so a job waiting in the queue is not sent twice."""
    from django_celery_beat.models import PeriodicTask

    from reports.services import PERIODIC_GRACE

    entry = (
        PeriodicTask.objects.filter(
            task="reports.tasks.send_weekly_verdict",
            enabled=True,
            last_run_at__lt=now - PERIODIC_GRACE,
        )
        .only("last_run_at")
        .order_by("-last_run_at")
        .first()
    )
    if entry is None:
        return None
    start, end = last_iso_week(timezone.localdate(now))
    closed = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
    if entry.last_run_at < closed or VerdictDelivery.objects.filter(period_start=start).exists():
        return None
    return start if verdict_targets() else None


def verdict_catch_up(*, now: dt.datetime) -> int:
    """Send the verdict job that `verdict_missed` finds (the sweeper's, every minute); 1 when
    sent. A late duplicate changes nothing: each target is claimed once."""
    from reports.tasks import send_weekly_verdict

    start = verdict_missed(now=now)
    if start is None:
        return 0
    try:
        send_weekly_verdict.delay(start.isoformat())
    except Exception as exc:  # as the reports' catch-up: whatever stops the send, next sweep
        log.warning("The missed verdict of %s not sent (%s); next sweep.", start, exc)
        return 0
    log.warning("Sent the verdict of %s that its beat entry missed.", start)
    return 1
