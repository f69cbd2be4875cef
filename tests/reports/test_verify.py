"""verify_reports: the caches prove themselves against a fresh computation.

Scenario: March 2026, UTC. Ada enters from facebook on 2 March and buys for 100.00 with
PIN10 (Spring pins, pinterest) on 20 March; the purchase makes her a lead and a customer then.
The March report by channel, last touch, is generated: it fills the day caches of the 31 March
days, one AttributedDay (last touch, 90-day lookback) and one ContactDay row per day.
"""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from reports import dashboard, services, tasks
from reports.daycache import bypassed
from reports.models import (
    AttributedDay,
    ContactDay,
    DayChange,
    DurationDay,
    MonthRollup,
    PathDay,
    Report,
)
from reports.paths import path_days
from reports.verify import caches_verify
from tests.factories import channel
from tests.reports.conftest import coupon_sale

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MARCH_20, MARCH_2 = dt.date(2026, 3, 20), dt.date(2026, 3, 2)


@pytest.fixture
def march():
    pins = coupon_sale()
    report = services.report_request(
        start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), enqueue=False
    )
    services.report_generate(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == "done"
    return {"pins": pins, "report": report}


def run_command(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_reports", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def test_clean_caches_pass_with_exit_code_0(march):
    assert AttributedDay.objects.count() == 31 and ContactDay.objects.count() == 31
    code, out = run_command()
    assert code == 0
    assert "MISMATCH" not in out
    # 31 days, each with its attribution, contact counts and cohort durations rows; March
    # rolled up in each of those three caches; the March report.
    assert (
        "Checked 93 cached day rows on 31 days, 3 month roll-ups, 0 cohort months and 1 saved report(s)"
        in out
    )
    assert "0 mismatch(es)" in out


def test_a_tampered_attribution_day_is_reported_and_exits_1(march):
    cached = AttributedDay.objects.get(day=MARCH_20)
    # Two rows: Spring pins (pinterest) is credited the 100.00 purchase (10000 cents), and
    # facebook (no campaign), Ada's first touch, gets no cents but an assist.
    credited = {(row[0], row[1]): row[2] for row in cached.rows}
    assert credited == {
        (channel("pinterest").pk, march["pins"].pk): 10000,
        (channel("facebook").pk, None): 0,
    }
    tampered = [[*row[:2], 9999 if row[2] else 0, *row[3:]] for row in cached.rows]
    AttributedDay.objects.filter(pk=cached.pk).update(rows=tampered)

    code, out = run_command()
    assert code == 1
    assert "MISMATCH attributed day (last_touch, 90-day lookback) 2026-03-20" in out
    [mismatch] = caches_verify().mismatches
    assert sorted(row[2] for row in mismatch.expected) == [0, 10000]
    assert sorted(row[2] for row in mismatch.cached) == [0, 9999]
    # Verifying neither uses nor repairs the cache: the bad row is still there.
    assert AttributedDay.objects.get(pk=cached.pk).rows == tampered
    assert AttributedDay.objects.count() == 31


def test_a_tampered_contact_day_is_reported(march):
    cached = ContactDay.objects.get(day=MARCH_2)
    # Ada's entry day, her facebook group: followers 1, leads, qualified, customers 0 that
    # day, and of that day's cohort 1 reached lead and 1 reached customer (on 20 March).
    assert cached.rows == [[channel("facebook").pk, None, 1, 0, 0, 0, 1, 1]]
    ContactDay.objects.filter(pk=cached.pk).update(
        rows=[[channel("facebook").pk, None, 5, 0, 0, 0, 1, 1]]
    )
    code, out = run_command()
    assert code == 1
    assert "MISMATCH contact day 2026-03-02" in out
    [mismatch] = caches_verify().mismatches
    assert (mismatch.expected[0][2], mismatch.cached[0][2]) == (1, 5)


def test_a_tampered_path_day_is_reported(march):
    path_days(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), lookback_days=90)
    cached = PathDay.objects.get(day=MARCH_20)
    # Ada's first purchase: her path is facebook (2 March) then the PIN10 coupon touch on
    # pinterest, 100.00, two touches, 18 days from her first touch.
    [[path, conversions, cents, touches, days]] = cached.rows
    assert (conversions, cents, touches) == (1, 10000, 2)
    PathDay.objects.filter(pk=cached.pk).update(rows=[[path, 1, 10000, 3, days]])
    code, out = run_command()
    assert code == 1
    assert "MISMATCH path day (90-day lookback) 2026-03-20" in out


def test_a_tampered_duration_day_is_reported(march):
    # Ada entered on 2 March and became a lead and a customer on 20 March, both at midnight:
    # 18 days, in microseconds.
    micros = 18 * 86_400 * 1_000_000
    cached = DurationDay.objects.get(day=MARCH_2)
    assert cached.rows == [[channel("facebook").pk, None, [micros], [micros]]]
    DurationDay.objects.filter(pk=cached.pk).update(
        rows=[[channel("facebook").pk, None, [micros], [micros + 1]]]
    )
    code, out = run_command()
    assert code == 1
    assert "MISMATCH duration day 2026-03-02" in out


def test_a_tampered_month_roll_up_is_reported(march):
    rollup = MonthRollup.objects.get(cache="contactday", month=dt.date(2026, 3, 1))
    # March added up: Ada's facebook group, 1 follower, a lead, a qualified and a customer,
    # and of the March cohort 1 reached lead and 1 customer.
    assert rollup.rows == [[channel("facebook").pk, None, 1, 1, 1, 1, 1, 1]]
    MonthRollup.objects.filter(pk=rollup.pk).update(
        rows=[[channel("facebook").pk, None, 1, 1, 1, 2, 1, 1]]
    )
    code, out = run_command()
    assert code == 1
    assert "MISMATCH month roll-up (contactday) 2026-03" in out
    # A late change in March voids the roll-up: it is no longer served nor checked.
    DayChange.objects.create(day=dt.date(2026, 3, 5), changed_at=timezone.now())
    assert caches_verify().mismatches == []


def test_a_tampered_saved_report_is_reported_with_the_figures_that_differ(march):
    report = march["report"]
    data = report.data
    data["roi"]["totals"]["revenue"] = "999.00"
    Report.objects.filter(pk=report.pk).update(data=data)

    code, out = run_command()
    assert code == 1
    assert f"MISMATCH report #{report.pk} (custom 2026-03-01..2026-03-31 by channel" in out
    [mismatch] = caches_verify().mismatches
    assert mismatch.expected == {"roi.totals.revenue": "100.00"}
    assert mismatch.cached == {"roi.totals.revenue": "999.00"}


def test_only_what_would_be_served_is_checked(march):
    # A row voided by a later change of its day is not served, so not checked; a report
    # finished on its last day (data could still arrive that day) is not either.
    cached = AttributedDay.objects.get(day=MARCH_20)
    AttributedDay.objects.filter(pk=cached.pk).update(rows=[])
    DayChange.objects.create(day=MARCH_20, changed_at=cached.computed_at + dt.timedelta(seconds=1))
    report = march["report"]
    Report.objects.filter(pk=report.pk).update(
        data={"roi": {}}, finished_at=dt.datetime(2026, 3, 31, 23, tzinfo=UTC)
    )
    result = caches_verify()
    assert result.mismatches == []
    # The stamp voids the three caches of 20 March, and March's roll-ups: 30 days of three
    # rows are left.
    assert (result.days, result.rows, result.months, result.reports) == (30, 90, 0, 0)


def test_days_and_sample_narrow_the_check(march):
    AttributedDay.objects.filter(day=MARCH_20).update(rows=[])
    # Today is long after March: the last 30 days hold no cached day and no report.
    code, out = run_command("--days", "30")
    assert code == 0
    assert (
        "Checked 0 cached day rows on 0 days, 0 month roll-ups, 0 cohort months and 0 saved report(s)"
        in out
    )
    # Three random days (the three rows of each), the one month (three roll-ups) and the one
    # report.
    result = caches_verify(sample=3)
    assert (result.days, result.rows, result.months, result.reports) == (3, 9, 3, 1)
    # Every day, in a sample as large as the data: the bad day is found.
    assert [m.which for m in caches_verify(sample=100).mismatches] == ["2026-03-20"]


def test_the_daily_job_logs_an_error_on_a_mismatch(march, caplog, reference_data):
    entry = PeriodicTask.objects.get(task="reports.tasks.verify_caches")
    assert entry.crontab.hour == "6" and entry.expire_seconds
    assert entry.kwargs == '{"days": 400, "sample": 10}'
    AttributedDay.objects.filter(day=MARCH_20).update(rows=[])

    with caplog.at_level(logging.INFO, logger="reports.verify"):
        assert tasks.verify_caches(days=400, sample=None) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2  # the mismatch, then the summary
    assert "attributed day (last_touch, 90-day lookback) 2026-03-20" in errors[0]
    assert "1 mismatch(es)" in errors[1]


def test_the_daily_job_is_quiet_on_clean_caches(march, caplog):
    with caplog.at_level(logging.INFO, logger="reports.verify"):
        assert tasks.verify_caches(days=400, sample=10) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_page_cache_is_neither_read_nor_written_when_bypassed(settings):
    settings.REPORT_CACHE_SECONDS = 3600
    last = timezone.localdate().replace(day=1) - dt.timedelta(days=1)  # last month: closed
    first = last.replace(day=1)
    assert dashboard.period_cached("test", first, last, (), lambda: 1) == 1  # cached
    assert dashboard.period_cached("test", first, last, (), lambda: 2) == 1  # read back
    with bypassed():
        assert dashboard.period_cached("test", first, last, (), lambda: 3) == 3
    assert dashboard.period_cached("test", first, last, (), lambda: 4) == 1  # not overwritten
