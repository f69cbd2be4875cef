"""Report periods: whole days in TIME_ZONE, as the half-open UTC range the queries use."""

from __future__ import annotations

import calendar
import datetime as dt

from django.utils import timezone

DASH = "\N{EN DASH}"
SPACED_DASH = f" {DASH} "


def period_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[midnight starting `start`, midnight after `end`) in the current time zone, aware.

    Both ends are computed in TIME_ZONE, so a period across a daylight-saving change still
    covers exactly its local days.
    """
    return (
        timezone.make_aware(dt.datetime.combine(start, dt.time.min)),
        timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min)),
    )


def last_day(today: dt.date) -> tuple[dt.date, dt.date]:
    yesterday = today - dt.timedelta(days=1)
    return yesterday, yesterday


def last_iso_week(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last full Monday-to-Sunday week before `today`."""
    monday = today - dt.timedelta(days=today.weekday() + 7)
    return monday, monday + dt.timedelta(days=6)


def last_month(today: dt.date) -> tuple[dt.date, dt.date]:
    end = today.replace(day=1) - dt.timedelta(days=1)
    return end.replace(day=1), end


def shift_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` months later (earlier when negative), clamped to the month's end
    (31 March minus one month is 28 or 29 February)."""
    years, month0 = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month0 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def quarter_start(day: dt.date) -> dt.date:
    return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)


def span_text(start: dt.date, end: dt.date) -> str:
    """ "1-15 Mar 2026", "16 Feb - 15 Mar 2026", "16 Dec 2025 - 15 Jan 2026", "23 Nov 2026"
    (with en dashes)."""
    if start == end:
        return f"{end.day} {end:%b %Y}"
    if start.year != end.year:
        return f"{start.day} {start:%b %Y}{SPACED_DASH}{end.day} {end:%b %Y}"
    if start.month != end.month:
        return f"{start.day} {start:%b}{SPACED_DASH}{end.day} {end:%b %Y}"
    return f"{start.day}{DASH}{end.day} {end:%b %Y}"


def period_name(start: dt.date, end: dt.date) -> str:
    """A name for a span of days from its dates alone (so it never goes out of date):
    "2025", "Q3 2026", "March 2026", "Nov 2025 - Oct 2026", "Week 47, 2026" (ISO week),
    "23 Nov 2026", else its dates ("1-15 Mar 2026")."""
    last_of_month = calendar.monthrange(end.year, end.month)[1]
    whole_months = start.day == 1 and end.day == last_of_month and start <= end
    if whole_months and start.month == 1 and end.month == 12 and start.year == end.year:
        return str(start.year)
    third = shift_months(start, 2)
    if (
        whole_months
        and start == quarter_start(start)
        and (end.year, end.month)
        == (
            third.year,
            third.month,
        )
    ):
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    if whole_months and (start.year, start.month) == (end.year, end.month):
        return f"{start:%B %Y}"
    if whole_months:
        return f"{start:%b %Y}{SPACED_DASH}{end:%b %Y}"
    if start.weekday() == 0 and end == start + dt.timedelta(days=6):
        year, week, _ = start.isocalendar()
        return f"Week {week}, {year}"
    return span_text(start, end)
