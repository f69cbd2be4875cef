"""Cohort payback (/reports/payback/, reports.payback): a hand-worked scenario, the cache of
closed months and what voids it, queries, roles, bad input, CSV and the API.

Scenario (UTC), seen on 15 August 2026 with the last 8 cohort months (January..August 2026).
Campaigns: "FB spring" on facebook, "Pins" on pinterest.
Costs: FB spring 250.00 on 3 Jan and 90.00 on 5 Feb; Pins 100.00 on 10 Jan and 60.00 on 14 Feb.

January cohort:
- Ann (FB spring) enters 10 Jan 10:00; buys 100.00 on 10 Jan 18:00 (day 0), 200.00 on 20 Feb
  (day 21 + 20 = 41) with 50.00 of it refunded on 1 March (net 150.00 on day 41), and 300.00 on
  1 May (day 21 + 28 + 31 + 30 + 1 = 111).
- Bob (facebook, no campaign) enters 31 Jan 23:00; buys 80.00 on 1 Feb 01:00 (day 1) and
  500.00 on 1 Aug (day 182: after day 180, not the cohort's revenue).
- Cat (Pins) enters 5 Jan; buys 40.00 on 20 Jan (day 15).
- Dan (no source) enters 15 Jan 12:00; buys 30.00 on 16 Jan (day 1).
February cohort:
- Eve (FB spring) enters 10 Feb; buys 120.00 on 12 Feb (day 2).
- Nobody enters from pinterest; Pins still cost 60.00 in February.

Horizons on 15 August: January's last day + 180 = 30 July < 15 Aug: every horizon closed.
February's last day (28 Feb) + 90 = 29 May: closed; + 180 = 27 Aug: open ("so far").

By channel:
| cohort | group        | entrants | cost   | rev 30            | rev 60 | rev 90 | rev 180 | ratio 180           | payback day |
| Jan    | Facebook     | 2        | 250.00 | 100 + 80 = 180.00 | 180 + 150 = 330.00 | 330.00 | 330 + 300 = 630.00 | 630 / 250 = 2.5200 | 41 (day 1: 180 < 250; day 41: 330 >= 250) |
| Jan    | Pinterest    | 1        | 100.00 | 40.00             | 40.00  | 40.00  | 40.00   | 0.4000              | none: not within 180 days |
| Jan    | Unattributed | 1        | 0.00   | 30.00             | 30.00  | 30.00  | 30.00   | none (no cost)      | none: no cost |
| Feb    | Facebook     | 1        | 90.00  | 120.00            | 120.00 | 120.00 | 120.00 so far | 120 / 90 = 1.3333 | 2 |
| Feb    | Pinterest    | 0        | 60.00  | 0.00              | 0.00   | 0.00   | 0.00 so far | 0.0000         | not yet |
Ratio 30 of January's Facebook: 180 / 250 = 0.7200; ratio 60: 330 / 250 = 1.3200.

By campaign, January: FB spring (Ann) 1 entrant, 250.00, rev 30 100.00, rev 60 100 + 150 =
250.00, rev 180 250 + 300 = 550.00, ratio 550 / 250 = 2.2000, payback day 41 (250 >= 250: the
day the cost is reached exactly); "Facebook (no campaign)" (Bob) 1 entrant, no cost, 80.00 at
every horizon; Pins and Unattributed as by channel.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine

from campaigns.services import cost_create
from leads.models import Via
from leads.services import contact_create, purchase_record, refund_record
from reports.daycache import bypassed
from reports.models import CohortMonth
from reports.payback import payback_report
from tests.factories import CampaignFactory, UserFactory, channel

UTC = dt.UTC
D = dt.date
AUGUST_15 = dt.datetime(2026, 8, 15, 12, tzinfo=UTC)
URL = "/reports/payback/?months=8"


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def august():
    with time_machine.travel(AUGUST_15, tick=False):
        yield


@pytest.fixture
def cohorts(reference_data, august):
    fb = CampaignFactory(name="FB spring", channel=channel("facebook"))
    pins = CampaignFactory(name="Pins", channel=channel("pinterest"))
    cost_create(campaign=fb, incurred_on=D(2026, 1, 3), amount=Decimal("250.00"))
    cost_create(campaign=fb, incurred_on=D(2026, 2, 5), amount=Decimal("90.00"))
    cost_create(campaign=pins, incurred_on=D(2026, 1, 10), amount=Decimal("100.00"))
    cost_create(campaign=pins, incurred_on=D(2026, 2, 14), amount=Decimal("60.00"))

    def person(name: str, entered_at: dt.datetime, **source):
        return contact_create(
            email=f"{name}@example.com",
            first_name=name,
            entered_at=entered_at,
            via=Via.API,
            **source,
        )

    def buy(contact, amount: str, when: dt.datetime):
        return purchase_record(contact=contact, amount=amount, occurred_at=when, via=Via.API)[0]

    ann = person("ann", at(2026, 1, 10, 10), source_campaign=fb)
    buy(ann, "100.00", at(2026, 1, 10, 18))
    returned = buy(ann, "200.00", at(2026, 2, 20, 10))
    refund_record(purchase=returned, amount="50.00", occurred_at=at(2026, 3, 1, 10), via=Via.API)
    buy(ann, "300.00", at(2026, 5, 1, 10))
    bob = person("bob", at(2026, 1, 31, 23), source="facebook")
    buy(bob, "80.00", at(2026, 2, 1, 1))
    buy(bob, "500.00", at(2026, 8, 1, 10))
    cat = person("cat", at(2026, 1, 5, 10), source_campaign=pins)
    buy(cat, "40.00", at(2026, 1, 20, 10))
    dan = person("dan", at(2026, 1, 15, 12))
    buy(dan, "30.00", at(2026, 1, 16, 10))
    eve = person("eve", at(2026, 2, 10, 10), source_campaign=fb)
    buy(eve, "120.00", at(2026, 2, 12, 10))
    return {"fb": fb, "pins": pins, "ann": ann, "eve": eve}


def table(report: dict) -> dict[tuple[str, str], dict]:
    return {(row["month"].strftime("%Y-%m"), row["key"]): row for row in report["rows"]}


def figures(row: dict) -> tuple:
    return (
        row["entrants"],
        str(row["cost"]),
        *(str(row[f"revenue_{h}"]) for h in (30, 60, 90, 180)),
        None if row["ratio_180"] is None else str(row["ratio_180"]),
        row["payback_day"],
        row["payback_status"],
    )


def test_by_channel_every_figure(cohorts):
    report = payback_report(months=8)
    rows = table(report)
    assert list(rows) == [  # newest month first, named groups by label, unattributed last
        ("2026-02", "facebook"),
        ("2026-02", "pinterest"),
        ("2026-01", "facebook"),
        ("2026-01", "pinterest"),
        ("2026-01", "unattributed"),
    ]
    jan_fb = rows["2026-01", "facebook"]
    assert figures(jan_fb) == (
        2,
        "250.00",
        "180.00",
        "330.00",
        "330.00",
        "630.00",
        "2.5200",
        41,
        "paid_back",
    )
    assert (str(jan_fb["ratio_30"]), str(jan_fb["ratio_60"])) == ("0.7200", "1.3200")
    assert all(jan_fb[f"closed_{h}"] for h in (30, 60, 90, 180))
    assert figures(rows["2026-01", "pinterest"]) == (
        1,
        "100.00",
        "40.00",
        "40.00",
        "40.00",
        "40.00",
        "0.4000",
        None,
        "not_within_180_days",
    )
    assert figures(rows["2026-01", "unattributed"]) == (
        1,
        "0.00",
        "30.00",
        "30.00",
        "30.00",
        "30.00",
        None,
        None,
        "no_cost",
    )
    feb_fb = rows["2026-02", "facebook"]
    assert figures(feb_fb) == (
        1,
        "90.00",
        "120.00",
        "120.00",
        "120.00",
        "120.00",
        "1.3333",
        2,
        "paid_back",
    )
    assert [feb_fb[f"closed_{h}"] for h in (30, 60, 90, 180)] == [True, True, True, False]
    assert figures(rows["2026-02", "pinterest"]) == (
        0,
        "60.00",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "0.0000",
        None,
        "not_yet",
    )
    # The curve: cumulative revenue per day, 181 days for a closed month.
    curve = jan_fb["curve"]
    assert len(curve) == 181
    assert (curve[0], curve[1], curve[40], curve[41], curve[111], curve[180]) == (
        Decimal("100.00"),
        Decimal("180.00"),
        Decimal("180.00"),
        Decimal("330.00"),
        Decimal("630.00"),
        Decimal("630.00"),
    )


def test_by_campaign(cohorts):
    rows = table(payback_report(months=8, group_by="campaign"))
    fb, pins = str(cohorts["fb"].pk), str(cohorts["pins"].pk)
    assert figures(rows["2026-01", fb]) == (
        1,
        "250.00",
        "100.00",
        "250.00",
        "250.00",
        "550.00",
        "2.2000",
        41,
        "paid_back",
    )
    none = rows["2026-01", "none:facebook"]
    assert none["label"] == "Facebook (no campaign)"
    assert figures(none) == (1, "0.00", "80.00", "80.00", "80.00", "80.00", None, None, "no_cost")
    assert figures(rows["2026-01", pins])[:7] == (
        1,
        "100.00",
        "40.00",
        "40.00",
        "40.00",
        "40.00",
        "0.4000",
    )
    assert figures(rows["2026-02", pins])[-1] == "not_yet"


def test_a_closed_month_is_kept_and_only_late_data_for_it_changes_it(
    cohorts, django_capture_on_commit_callbacks
):
    payback_report(months=8)
    kept = CohortMonth.objects.get()  # January only: February's 180 days are still open
    assert (kept.month, kept.computed_at) == (D(2026, 1, 1), AUGUST_15)
    # An hour later, unrelated writes (their days stamped as they commit): Eve (February's
    # cohort) buys on 10 Aug and a cost lands on 1 Aug, both outside January's window (to
    # 30 July). January is served as it was kept, not recomputed.
    with time_machine.travel(AUGUST_15 + dt.timedelta(hours=1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            purchase_record(
                contact=cohorts["eve"], amount="70.00", occurred_at=at(2026, 8, 10), via=Via.API
            )
            cost_create(campaign=cohorts["fb"], incurred_on=D(2026, 8, 1), amount=Decimal("5.00"))
        rows = table(payback_report(months=8))
    assert CohortMonth.objects.get().computed_at == AUGUST_15
    assert figures(rows["2026-01", "facebook"])[2:6] == ("180.00", "330.00", "330.00", "630.00")
    # Two hours later, a late purchase of Ann's dated 10 March (day 59): January is recomputed
    # (and kept again), its 60, 90 and 180 days grow by 20.00; its 30 days do not.
    later = AUGUST_15 + dt.timedelta(hours=2)
    with (
        time_machine.travel(later, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        purchase_record(
            contact=cohorts["ann"], amount="20.00", occurred_at=at(2026, 3, 10), via=Via.API
        )
    with time_machine.travel(later + dt.timedelta(minutes=1), tick=False):
        rows = table(payback_report(months=8))
    assert figures(rows["2026-01", "facebook"])[2:6] == ("180.00", "350.00", "350.00", "650.00")
    assert CohortMonth.objects.get().computed_at == later + dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    "write",
    [
        # Each lands in January's window (1 January .. 30 July) and voids the kept month.
        lambda c: refund_record(
            purchase=c["ann"].purchases.get(amount=Decimal("300.00")),
            amount="10.00",
            via=Via.API,
        ),
        lambda c: cost_create(campaign=c["pins"], incurred_on=D(2026, 1, 20), amount=Decimal("1")),
        lambda c: contact_create(
            email="gil@example.com", source="facebook", entered_at=at(2026, 1, 2), via=Via.API
        ),
    ],
    ids=["refund", "cost", "entrant"],
)
def test_late_data_voids_the_kept_month(cohorts, django_capture_on_commit_callbacks, write):
    payback_report(months=8)
    later = AUGUST_15 + dt.timedelta(hours=1)
    with (
        time_machine.travel(later, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        write(cohorts)
    with time_machine.travel(later + dt.timedelta(minutes=1), tick=False):
        payback_report(months=8)
    assert CohortMonth.objects.get().computed_at == later + dt.timedelta(minutes=1)


def test_a_stamp_after_the_cache_voids_it(cohorts):
    """A cached month read after a change in its window committed (the row stored after the
    delete, from data read before the write) is recomputed: the day stamps decide."""
    from reports.models import DayChange

    payback_report(months=8)
    DayChange.objects.create(
        day=D(2026, 7, 30), changed_at=dt.datetime(2026, 8, 15, 13, tzinfo=UTC)
    )
    with time_machine.travel(dt.datetime(2026, 8, 15, 14, tzinfo=UTC), tick=False):
        payback_report(months=8)
    assert CohortMonth.objects.get().computed_at == dt.datetime(2026, 8, 15, 14, tzinfo=UTC)


def test_bypassed_reads_and_writes_no_cache(cohorts):
    with bypassed():
        report = payback_report(months=8)
    assert not CohortMonth.objects.exists()
    assert table(report)["2026-01", "facebook"]["payback_day"] == 41


def test_queries_are_pinned(cohorts, django_assert_max_num_queries):
    payback_report(months=8)  # January kept
    # Whatever the number of months: the kept month and its day stamps (2); the entrants from
    # the contact counts (month roll-ups, their stamps, the day cache and its stamps: 4, and
    # the 4 stamp queries of the days not cached, today's); the open months' revenue, the
    # costs, the channels, the campaigns (4).
    with django_assert_max_num_queries(14):
        payback_report(months=8, group_by="campaign")


@pytest.fixture
def marketer_client(client, marketing_user):
    client.force_login(marketing_user)
    return client


def test_the_page(marketer_client, cohorts, django_assert_max_num_queries):
    # The report's 14 (test_queries_are_pinned), the session, the user and its permissions,
    # the form's channels, the report's kept rows and day caches written once.
    with django_assert_max_num_queries(27):
        response = marketer_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Cohort payback" in html and 'href="/reports/payback/"' in html
    assert "day 41" in html and "not yet" in html and "so far" in html
    chart = response.context["chart"]  # facebook cost the most: 250 + 90 + 5 > 100 + 60
    assert response.context["chart_channel"] == "facebook"
    labels = [ds["label"] for ds in chart["spec"]["datasets"]]
    assert labels == ["Jan 2026", "Feb 2026 (so far)"]
    jan = chart["spec"]["datasets"][0]["data"]
    assert (jan[0], jan[41], jan[180]) == (0.4, 1.32, 2.52)  # 100 / 250, 330 / 250, 630 / 250
    # February's first entrants have lived 1 Feb..14 Aug: days 0..180, all of them.
    assert len(chart["spec"]["datasets"][1]["data"]) == 181


def test_the_page_charts_a_chosen_channel_and_groups_by_campaign(marketer_client, cohorts):
    response = marketer_client.get(URL + "&group_by=campaign&channel=pinterest")
    assert response.status_code == 200
    chart = response.context["chart"]
    assert chart["title"].startswith("Pinterest")
    # January: 40 / 100; February: nothing yet against 60.
    assert [ds["data"][15] for ds in chart["spec"]["datasets"]] == [0.4, 0.0]
    assert "Facebook (no campaign)" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "?months=0",
        "?months=37",
        "?months=x",
        "?group_by=week",
        "?channel=nope",
    ],
)
def test_bad_choices_are_a_400_with_the_field(marketer_client, reference_data, query):
    response = marketer_client.get("/reports/payback/" + query)
    assert response.status_code == 400
    assert response.context["form"].errors
    assert marketer_client.get("/reports/payback/export.csv" + query).status_code == 400


@pytest.mark.parametrize("query", ["?months=1%00", "?channel=face%00book", "?group_by=%00"])
def test_nul_in_the_address_is_a_400(marketer_client, reference_data, query):
    for path in ("/reports/payback/", "/reports/payback/export.csv", "/api/v1/reports/payback/"):
        assert marketer_client.get(path + query).status_code == 400, path


def test_roles(client, reference_data, sales_user):
    assert client.get("/reports/payback/").status_code == 302  # to the login
    client.force_login(sales_user)
    assert client.get("/reports/payback/").status_code == 403
    assert client.get("/reports/payback/export.csv").status_code == 403
    assert client.get("/api/v1/reports/payback/").status_code == 403


def test_csv(marketer_client, cohorts):
    response = marketer_client.get("/reports/payback/export.csv?months=8")
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="payback-channel-8-months-2026-08-15.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["month"], r["key"]) for r in rows][:3] == [
        ("2026-02", "facebook"),
        ("2026-02", "pinterest"),
        ("2026-01", "facebook"),
    ]
    jan = rows[2]
    assert (jan["cost"], jan["revenue_30"], jan["ratio_30"], jan["closed_30"]) == (
        "250.00",
        "180.00",
        "0.7200",
        "True",
    )
    assert (jan["revenue_180"], jan["ratio_180"], jan["payback_day"]) == ("630.00", "2.5200", "41")
    assert rows[1]["payback_status"] == "not_yet" and rows[1]["closed_180"] == "False"


def test_api(client, cohorts):
    client.force_login(UserFactory(username="mara", groups=["Marketing"]))
    response = client.get("/api/v1/reports/payback/?months=8&group_by=channel")
    assert response.status_code == 200
    body = response.json()
    assert (body["months"], body["as_of"], body["horizons"]) == (8, "2026-08-15", [30, 60, 90, 180])
    jan = next(r for r in body["rows"] if r["month"] == "2026-01" and r["key"] == "facebook")
    assert (jan["cost"], jan["revenue_180"], jan["ratio_180"], jan["payback_day"]) == (
        "250.00",
        "630.00",
        "2.5200",
        41,
    )
    assert len(jan["curve"]) == 181 and jan["curve"][41] == "330.00"
    bad = client.get("/api/v1/reports/payback/?months=99")
    assert bad.status_code == 400 and "months" in bad.json()


def test_verify_reports_checks_the_kept_months(cohorts):
    from reports.verify import caches_verify

    payback_report(months=8)
    assert caches_verify().cohorts == 1 and caches_verify().mismatches == []
    # A kept month that disagrees with the data (written behind the services' back) is found.
    kept = CohortMonth.objects.get()
    kept.rows[0][2] += 1
    kept.save(update_fields=["rows"])
    result = caches_verify()
    assert [(m.what, m.which) for m in result.mismatches] == [("cohort month", "2026-01")]


def test_cohorts_are_local_months(reference_data, august, settings):
    """In New York, Fay's entry at 02:00 UTC on 1 February is 21:00 on 31 January: a January
    entrant, whose purchase at 04:00 UTC (23:00 local) is on her day 0."""
    settings.TIME_ZONE = "America/New_York"
    fay = contact_create(
        email="fay@example.com", source="facebook", entered_at=at(2026, 2, 1, 2), via=Via.API
    )
    purchase_record(contact=fay, amount="10.00", occurred_at=at(2026, 2, 1, 4), via=Via.API)
    rows = table(payback_report(months=8))
    assert list(rows) == [("2026-01", "facebook")]
    assert rows["2026-01", "facebook"]["curve"][0] == Decimal("10.00")
