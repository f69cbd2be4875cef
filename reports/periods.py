"""Report periods: whole days in TIME_ZONE, as the half-open UTC range the queries use."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


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
