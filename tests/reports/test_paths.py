"""The conversion paths report (/reports/paths/): hand-worked figures, filters, bad input, CSV,
roles and query budgets.

Scenario (March 2026, UTC, 90-day lookback; every number worked out by hand):
- Ann: facebook touches on 1 Oct 2025 10:00 (her first touch ever, far outside the lookback,
  which starts on 12 Dec 2025 10:00 for her purchase), email on 1 Nov 2025 (outside the lookback
  and not her first touch: not in the path), facebook on 1 and 5 March 10:00, email on 10 March
  10:00; she buys for 100.00 on 12 March 10:00 (her first purchase: a conversion), gets an email
  on 15 March (after the purchase: not in the path) and buys again for 50.00 on 20 March (not a
  conversion). Path: Facebook x3 -> Email, 4 touches; days to convert from 1 Oct 10:00 to
  12 Mar 10:00: 31 + 30 + 31 + 31 + 28 + 11 = 162.0.
- Ben: email on 2 March 09:00, buys for 80.00 with coupon PIN10 (Pinterest) on 4 March 21:00: the
  coupon touch closes the path. Path: Email -> Pinterest, 2 touches, 2 days 12 h = 2.5 days.
- Cy: facebook on 3 March 12:00, buys for 40.00 on 9 March 00:00. Path: Facebook, 1 touch,
  5 days 12 h = 5.5 days.
- Eve: facebook on 10 March 00:00, buys for 60.00 on 11 March 12:00. Path: Facebook, 1 touch,
  1.5 days.
- Dee: a walk-in who buys for 30.00 on 7 March, no coupon, no touch: the "(no touches)" path.
- Fay: a walk-in who bought for 25.00 on 10 February and again for 25.00 on 15 March: her first
  purchase is not in March, so March has no conversion of hers.

Rows (most conversions first, then most revenue):
| path                   | conversions | revenue | touches / conv. | avg days | median days |
| Facebook               | 2           | 100.00  | 2 / 2 = 1.00    | (5.5 + 1.5) / 2 = 3.5 | 3.5 |
| Facebook x3 -> Email   | 1           | 100.00  | 4.00            | 162.0    | 162.0       |
| Email -> Pinterest     | 1           | 80.00   | 2.00            | 2.5      | 2.5         |
| (no touches)           | 1           | 30.00   | 0.00            | —        | —           |
| Totals                 | 5           | 310.00  | 8 / 5 = 1.60    | (5.5 + 1.5 + 162 + 2.5) / 4 = 171.5 / 4 = 42.875 -> 42.9 | of 1.5, 2.5, 5.5, 162: (2.5 + 5.5) / 2 = 4.0 |
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from leads.models import Contact, Via
from leads.services import contact_create, purchase_record, touchpoint_record
from reports.daycache import bypassed
from reports.models import PathDay
from reports.paths import conversion_paths
from tests.factories import CampaignFactory, CouponFactory, UserFactory, channel

UTC = dt.UTC
MARCH = {"preset": "custom", "start": "2026-03-01", "end": "2026-03-31"}
MARCH_DAYS = {"start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 31)}


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def touch(contact, slug: str, when: dt.datetime) -> None:
    touchpoint_record(contact=contact, channel=channel(slug), occurred_at=when)


@pytest.fixture
def paths(reference_data):
    pins = CampaignFactory(name="Spring pins", channel=channel("pinterest"))
    CouponFactory(code="PIN10", campaign=pins)

    def person(name: str, first: tuple[str, dt.datetime]):
        return contact_create(
            email=f"{name}@example.com",
            first_name=name.title(),
            source=first[0],
            entered_at=first[1],
            touch_kind="visit",
            via=Via.API,
        )

    ann = person("ann", ("facebook", at(2025, 10, 1, 10)))
    touch(ann, "email", at(2025, 11, 1, 10))
    touch(ann, "facebook", at(2026, 3, 1, 10))
    touch(ann, "facebook", at(2026, 3, 5, 10))
    touch(ann, "email", at(2026, 3, 10, 10))
    purchase_record(contact=ann, amount="100.00", occurred_at=at(2026, 3, 12, 10), via=Via.API)
    touch(ann, "email", at(2026, 3, 15, 10))
    purchase_record(contact=ann, amount="50.00", occurred_at=at(2026, 3, 20, 10), via=Via.API)

    ben = person("ben", ("email", at(2026, 3, 2, 9)))
    purchase_record(
        contact=ben, amount="80.00", coupon="PIN10", occurred_at=at(2026, 3, 4, 21), via=Via.API
    )
    cy = person("cy", ("facebook", at(2026, 3, 3, 12)))
    purchase_record(contact=cy, amount="40.00", occurred_at=at(2026, 3, 9), via=Via.API)
    eve = person("eve", ("facebook", at(2026, 3, 10)))
    purchase_record(contact=eve, amount="60.00", occurred_at=at(2026, 3, 11, 12), via=Via.API)

    purchase_record(
        email="dee@example.com", amount="30.00", occurred_at=at(2026, 3, 7), via=Via.API
    )
    purchase_record(
        email="fay@example.com", amount="25.00", occurred_at=at(2026, 2, 10), via=Via.API
    )
    purchase_record(
        email="fay@example.com", amount="25.00", occurred_at=at(2026, 3, 15), via=Via.API
    )
    return {"ann": ann}


def figures(row: dict) -> tuple:
    return (
        row["label"],
        row["conversions"],
        str(row["revenue"]),
        None if row["touches_per_conversion"] is None else str(row["touches_per_conversion"]),
        None if row["average_days_to_convert"] is None else str(row["average_days_to_convert"]),
        None if row["median_days_to_convert"] is None else str(row["median_days_to_convert"]),
    )


def test_hand_worked_paths(paths):
    report = conversion_paths(**MARCH_DAYS)
    assert [figures(r) for r in report["rows"]] == [
        ("Facebook", 2, "100.00", "1.00", "3.5", "3.5"),
        ("Facebook ×3 → Email", 1, "100.00", "4.00", "162.0", "162.0"),
        ("Email → Pinterest", 1, "80.00", "2.00", "2.5", "2.5"),
        ("(no touches)", 1, "30.00", "0.00", None, None),
    ]
    assert [r["key"] for r in report["rows"]] == [
        "facebook*1",
        "facebook*3>email*1",
        "email*1>pinterest*1",
        "",
    ]
    assert report["other"] is None
    assert figures(report["totals"]) == ("Totals", 5, "310.00", "1.60", "42.9", "4.0")
    assert report["totals"]["paths"] == 4


def test_the_rest_is_one_other_paths_line_and_the_totals_add_up(paths):
    report = conversion_paths(**MARCH_DAYS, top=2)
    assert [r["label"] for r in report["rows"]] == ["Facebook", "Facebook ×3 → Email"]
    # Email -> Pinterest (80.00, 2 touches, 2.5 days) and (no touches) (30.00, no days).
    assert figures(report["other"]) == ("(other paths)", 2, "110.00", "1.00", "2.5", "2.5")
    assert report["other"]["paths"] == 2
    assert figures(report["totals"]) == ("Totals", 5, "310.00", "1.60", "42.9", "4.0")
    rows = [*report["rows"], report["other"]]
    assert sum(r["conversions"] for r in rows) == report["totals"]["conversions"]
    assert sum(r["revenue"] for r in rows) == report["totals"]["revenue"]


def test_channel_filter_keeps_the_paths_through_that_channel(paths):
    report = conversion_paths(**MARCH_DAYS, channel=channel("email"))
    assert [figures(r) for r in report["rows"]] == [
        ("Facebook ×3 → Email", 1, "100.00", "4.00", "162.0", "162.0"),
        ("Email → Pinterest", 1, "80.00", "2.00", "2.5", "2.5"),
    ]
    # 2 conversions, 180.00, 6 touches: 3.00; days (162 + 2.5) / 2 = 82.25 -> 82.3 (half up).
    assert figures(report["totals"]) == ("Totals", 2, "180.00", "3.00", "82.3", "82.3")
    nothing = conversion_paths(**MARCH_DAYS, channel=channel("tiktok"))
    assert nothing["rows"] == [] and nothing["other"] is None
    assert figures(nothing["totals"]) == ("Totals", 0, "0.00", None, None, None)


def test_a_shorter_lookback_changes_only_what_the_engine_would(paths):
    # A 3-day lookback: Ann keeps her first touch (1 Oct) and her email of 10 March; Ben keeps
    # his email (2.5 days) and coupon; Cy's touch is 5.5 days old, but it is his first touch.
    report = conversion_paths(**MARCH_DAYS, lookback_days=3)
    assert [r["label"] for r in report["rows"]] == [
        "Facebook",
        "Facebook → Email",
        "Email → Pinterest",
        "(no touches)",
    ]
    assert report["rows"][1]["touches_per_conversion"] == Decimal("2.00")


def test_days_are_cached_and_late_data_voids_only_its_days(
    paths, django_capture_on_commit_callbacks
):
    conversion_paths(**MARCH_DAYS)
    # One row per March day and lookback; Ann's first purchase day (12 March) holds her path:
    # 1 conversion, 10000 cents, 4 touches, 162 days from her first touch (1 Oct, 10:00).
    assert PathDay.objects.filter(lookback_days=90).count() == 31
    ann_day = PathDay.objects.get(day=dt.date(2026, 3, 12))
    facebook, email = channel("facebook").pk, channel("email").pk
    assert ann_day.rows == [[f"{facebook}*3>{email}*1", 1, 10000, 4, [162.0]]]
    before = {row.day: row.rows for row in PathDay.objects.all()}
    # A late touch of Ann's on 11 March: it joins her first purchase (12 March) only.
    with django_capture_on_commit_callbacks(execute=True):
        touch(Contact.objects.get(email="ann@example.com"), "pinterest", at(2026, 3, 11, 10))
    report = conversion_paths(**MARCH_DAYS)
    assert "Facebook ×3 → Email → Pinterest" in [r["label"] for r in report["rows"]]
    after = {row.day: row.rows for row in PathDay.objects.all()}
    assert len(after) == 31
    assert [day for day in after if after[day] != before[day]] == [dt.date(2026, 3, 12)]
    assert (
        after[dt.date(2026, 3, 12)][0][0] == f"{facebook}*3>{email}*1>{channel('pinterest').pk}*1"
    )


def test_cached_days_give_the_figures_of_a_fresh_computation(paths):
    cold = conversion_paths(**MARCH_DAYS, top=2)
    warm = conversion_paths(**MARCH_DAYS, top=2)
    with bypassed():
        fresh = conversion_paths(**MARCH_DAYS, top=2)
    assert cold == warm == fresh


# The page -------------------------------------------------------------------------------------


@pytest.fixture
def marketer_client(client, marketing_user):
    client.force_login(marketing_user)
    return client


def test_page_shows_the_paths_and_totals(marketer_client, paths):
    response = marketer_client.get(reverse("reports:paths"), MARCH)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Facebook ×3 → Email" in html or "Facebook ×3" in html
    assert "(no touches)" in html
    assert "310.00 USD" in html
    assert response.context["report"]["totals"]["conversions"] == 5
    # Every figure is defined on the page (the glossary's words on hover and focus).
    assert 'role="tooltip"' in html


def test_page_channel_filter(marketer_client, paths):
    response = marketer_client.get(reverse("reports:paths"), {**MARCH, "channel": "email"})
    assert response.status_code == 200
    assert response.context["report"]["totals"]["conversions"] == 2


@pytest.mark.parametrize(
    "params",
    [
        {**MARCH, "channel": "myspace"},
        {**MARCH, "channel": "1; DROP TABLE leads_touchpoint"},
        {"preset": "custom", "start": "2026-03-31", "end": "2026-03-01"},
        {"preset": "custom", "start": "0001-01-01", "end": "0001-01-31"},
        {"preset": "custom", "start": "9999-12-01", "end": "9999-12-31"},
        {"preset": "custom", "start": "2026-02-30", "end": "2026-03-31"},
        {"preset": "forever"},
    ],
)
def test_bad_input_is_a_400(marketer_client, paths, params):
    assert marketer_client.get(reverse("reports:paths"), params).status_code == 400
    assert marketer_client.get(reverse("reports:paths-csv"), params).status_code == 400


def test_roles(client, sales_user, db):
    for name in ("reports:paths", "reports:paths-csv"):
        assert client.get(reverse(name)).status_code == 302  # to log in
        client.force_login(sales_user)
        assert client.get(reverse(name)).status_code == 403
        client.logout()


def test_csv_equals_the_page(marketer_client, paths):
    page = marketer_client.get(reverse("reports:paths"), {**MARCH, "channel": "facebook"})
    response = marketer_client.get(reverse("reports:paths-csv"), {**MARCH, "channel": "facebook"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "paths-2026-03-01-2026-03-31-facebook.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    report = page.context["report"]
    shown = [*report["rows"], report["totals"]]
    assert [r["path"] for r in rows] == [r["label"] for r in shown]
    for row, want in zip(rows, shown, strict=True):
        assert row["conversions"] == str(want["conversions"])
        assert row["revenue"] == str(want["revenue"])
        assert row["touches_per_conversion"] == str(want["touches_per_conversion"] or "")
        assert row["average_days_to_convert"] == str(want["average_days_to_convert"] or "")
        assert row["median_days_to_convert"] == str(want["median_days_to_convert"] or "")
    # Facebook (2, 100.00) and Facebook x3 -> Email (1, 100.00): 3 conversions, 200.00.
    assert rows[-1]["key"] == "totals" and rows[-1]["revenue"] == "200.00"


def test_query_count_does_not_grow_with_data(
    marketer_client, paths, django_assert_max_num_queries, settings
):
    settings.REPORT_CACHE_SECONDS = 0  # computed every time: the statement's own budget
    # Session, user, two permission reads; March's roll-up and its stamps; the day cache: the
    # day stamps, the cached days, the statement for the missing ones (in a savepoint, on
    # PostgreSQL after its two SET LOCAL), the stamps again, the delete and the insert of the
    # days; the roll-up's insert (and delete, once stale); the channels' names and the channel
    # picker's choices: 17 on SQLite, 19 on PostgreSQL, 20 at most.
    with django_assert_max_num_queries(20) as small:
        marketer_client.get(reverse("reports:paths"), MARCH)
    for i in range(20):
        contact = contact_create(
            email=f"more{i}@example.com",
            source="linkedin",
            entered_at=at(2026, 3, 2),
            via=Via.API,
        )
        touch(contact, "email", at(2026, 3, 3))
        touch(contact, "x", at(2026, 3, 4))
        purchase_record(contact=contact, amount="10.00", occurred_at=at(2026, 3, 5), via=Via.API)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = marketer_client.get(reverse("reports:paths"), MARCH)
    assert response.context["report"]["totals"]["conversions"] == 25


def test_page_figures_are_cached_until_late_data(
    marketer_client, paths, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    marketer_client.get(reverse("reports:paths"), MARCH)
    with django_assert_max_num_queries(6):  # session, user, the cache's DayChange check
        response = marketer_client.get(reverse("reports:paths"), MARCH)
    assert response.context["report"]["totals"]["conversions"] == 5
    with django_capture_on_commit_callbacks(execute=True):
        purchase_record(
            email="late@example.com", amount="5.00", occurred_at=at(2026, 3, 30), via=Via.API
        )
    response = marketer_client.get(reverse("reports:paths"), MARCH)
    assert response.context["report"]["totals"]["conversions"] == 6


def test_the_nav_links_the_page(marketer_client, db):
    html = marketer_client.get(reverse("reports:dashboard")).content.decode()
    assert f'href="{reverse("reports:paths")}"' in html


def test_a_marketer_without_staff_can_read_it(client, reference_data):
    client.force_login(UserFactory(username="m2", groups=["Marketing"], is_staff=False))
    assert client.get(reverse("reports:paths")).status_code == 200


def test_page_and_csv_show_the_other_paths_line(marketer_client, paths, monkeypatch):
    monkeypatch.setattr("reports.paths.TOP_PATHS", 2)
    response = marketer_client.get(reverse("reports:paths"), MARCH)
    html = response.content.decode()
    assert "(other paths: 2)" in html
    assert "the other 2 in one line" in html
    rows = list(
        csv.DictReader(
            io.StringIO(marketer_client.get(reverse("reports:paths-csv"), MARCH).content.decode())
        )
    )
    # Facebook, Facebook x3 -> Email, the other two paths (110.00), the totals (310.00).
    assert [(r["key"], r["revenue"]) for r in rows] == [
        ("facebook*1", "100.00"),
        ("facebook*3>email*1", "100.00"),
        ("other", "110.00"),
        ("totals", "310.00"),
    ]
