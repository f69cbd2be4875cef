"""The dashboard's channel table: the self-reported column beside the tracked figures.

Self-reported (`reports.metrics.with_self_reported`): the contacts that entered the funnel in
the period (at any stage) and say they heard about us through the channel, whatever their
tracked source. The same people as Followers, counted by their own words.

Scenario (March 2026, UTC; hand-worked):
- A enters 2 March from Facebook (tracked) and says "insta": instagram.
- B enters 10 March from Instagram and says "IG": instagram.
- C enters 31 March 23:30 with no tracked source (unattributed) and says "on TikTok": tiktok.
- D enters 15 March from Facebook and says "a friend": no channel, not counted.
- G enters 5 March from Pinterest and says nothing.
- E enters 28 February 23:59 and F on 1 April 00:00, both saying "insta": outside the period.
- H enters 1 February saying "insta" and becomes a lead on 3 March: a March lead, but not a
  March entrant, so not in March's self-reported column.
Per channel: Facebook followers 2 (A, D), self-reported 0; Instagram followers 1 (B),
self-reported 2 (A, B); Pinterest followers 1 (G), self-reported 0; TikTok followers 0,
self-reported 1 (C): a row of its own, every tracked figure zero; Unattributed followers 1 (C),
self-reported none. Totals: followers 5 (A, B, C, D, G), self-reported 3 (A, B, C).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.urls import reverse

from leads.models import Contact, Via
from leads.services import contact_create, contact_move_stage, contact_update
from reports.metrics import roi_report, with_self_reported
from tests.factories import channel

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MARCH = {"preset": "custom", "start": "2026-03-01", "end": "2026-03-31"}


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def scenario(reference_data) -> dict[str, Contact]:
    people = {
        "A": ("facebook", "insta", at(3, 2)),
        "B": ("instagram", "IG", at(3, 10)),
        "C": ("", "on TikTok", at(3, 31, 23, 30)),
        "D": ("facebook", "a friend", at(3, 15)),
        "G": ("pinterest", "", at(3, 5)),
        "E": ("", "insta", at(2, 28, 23, 59)),
        "F": ("", "insta", at(4, 1, 0, 0)),
        "H": ("", "insta", at(2, 1)),
    }
    made = {
        name: contact_create(
            first_name=name,
            source_channel=channel(source) if source else None,
            heard_about=words,
            entered_at=entered,
            via=Via.API,
        )
        for name, (source, words, entered) in people.items()
    }
    contact_move_stage(contact=made["H"], stage="lead", at=at(3, 3), via=Via.API)
    return made


def rows(report: dict) -> dict[str, tuple]:
    return {r["key"]: (r["followers"], r["self_reported"]) for r in report["rows"]}


def test_the_column_hand_worked(scenario, django_assert_num_queries):
    report = roi_report(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), group_by="channel")
    with django_assert_num_queries(1):  # one grouped query for the whole column
        with_self_reported(report)
    assert rows(report) == {
        "facebook": (2, 0),  # A and D entered from Facebook; neither says Facebook
        "instagram": (1, 2),  # B entered from Instagram; A and B say Instagram
        "pinterest": (1, 0),  # G
        "tiktok": (0, 1),  # only C's words name it: a row of its own
        "unattributed": (1, None),  # C's tracked source is unknown; no one says "unknown"
    }
    tiktok = next(r for r in report["rows"] if r["key"] == "tiktok")
    assert (tiktok["label"], tiktok["revenue"], tiktok["cost"], tiktok["roi"]) == (
        "TikTok",
        "0.00",
        "0.00",
        None,
    )
    assert report["rows"][-1]["key"] == "unattributed"  # still last
    # H became a lead in March but entered in February: not a March entrant.
    assert (report["totals"]["followers"], report["totals"]["self_reported"]) == (5, 3)
    assert report["totals"]["leads"] == 1


def test_only_channel_reports_have_the_column(scenario):
    report = roi_report(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), group_by="campaign")
    with pytest.raises(ValueError, match="per channel"):
        with_self_reported(report)


def test_the_dashboard_shows_it_and_its_csv_exports_it(client, marketing_user, scenario):
    client.force_login(marketing_user)
    page = client.get(reverse("reports:dashboard"), MARCH)
    assert page.status_code == 200
    assert rows(page.context["channels"]) == {
        "facebook": (2, 0),
        "instagram": (1, 2),
        "pinterest": (1, 0),
        "tiktok": (0, 1),
        "unattributed": (1, None),
    }
    html = page.content.decode()
    start = html.index('id="table-channels"')
    table = html[start : html.index("</table>", start)]
    # A column of its own, right after Followers, with its definition on the header.
    keys = list(dict.fromkeys(re.findall(r'aria-describedby="table-channels-tip-(\w+)"', table)))
    assert keys[keys.index("followers") + 1] == "self_reported"
    assert "Self\u2011reported" in table and "say they heard about us" in html
    # Not in the campaign table: what people say names a channel, never a campaign.
    campaigns = html[html.index('id="table-campaigns"') :]
    assert "self_reported" not in campaigns[: campaigns.index("</table>")]
    exported = client.get(reverse("reports:export", args=["channels"]), MARCH)
    lines = list(csv.DictReader(io.StringIO(exported.content.decode())))
    header = exported.content.decode().splitlines()[0].split(",")
    assert header[header.index("followers") + 1] == "self_reported"
    assert {r["key"]: r["self_reported"] for r in lines} == {
        "facebook": "0",
        "instagram": "2",
        "pinterest": "0",
        "tiktok": "1",
        "unattributed": "",
        "totals": "3",
    }


def test_a_changed_answer_voids_the_cached_page(
    client, marketing_user, scenario, django_capture_on_commit_callbacks
):
    client.force_login(marketing_user)
    assert rows(client.get(reverse("reports:dashboard"), MARCH).context["channels"])[
        "instagram"
    ] == (1, 2)
    # D (entered 15 March) now says Instagram: its entry day is declared changed, so the
    # cached page is recomputed: Instagram 3 (A, B, D).
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=scenario["D"], heard_about="Instagram, I think")
    table = rows(client.get(reverse("reports:dashboard"), MARCH).context["channels"])
    assert table["instagram"] == (1, 3)
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=scenario["D"], heard_channel=None)
    table = rows(client.get(reverse("reports:dashboard"), MARCH).context["channels"])
    assert table["instagram"] == (1, 2)
    csv_text = client.get(reverse("reports:export", args=["channels"]), MARCH).content.decode()
    assert {r["key"]: r["self_reported"] for r in csv.DictReader(io.StringIO(csv_text))}[
        "totals"
    ] == "3"


@pytest.mark.postgres
def test_the_column_reads_its_partial_index_alone(reference_data):
    """At 1M contacts the column read a month's entrants' rows (80 to 190 ms, a year's by a
    sequential scan, 230 ms); `contact_heard_entered_idx` holds the entrants who named a channel
    with that channel, so the count reads the index alone (6 to 10 ms; a year 40 ms). Pinned on
    a table large enough for the planner to prefer it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reports.metrics import self_reported_counts

    named = [channel(slug) for slug in ("instagram", "facebook", "tiktok")]
    start = dt.datetime(2025, 1, 1, 12, tzinfo=UTC)
    Contact.objects.bulk_create(
        (
            Contact(
                first_name=f"P{i}",
                entered_at=start + dt.timedelta(minutes=17 * i),
                heard_about="insta" if i % 3 == 0 else "",
                heard_channel=named[i % 9 // 3] if i % 3 == 0 else None,
            )
            for i in range(30_000)
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_contact")
    with CaptureQueriesContext(connection) as captured:
        counts = self_reported_counts(dt.date(2025, 3, 1), dt.date(2025, 3, 31))
    # March: 44,640 minutes, a contact every 17 minutes (2,625 or 2,626 of them), one in
    # three naming a channel: 875 or 876.
    assert sum(n for _, n in counts.values()) in (875, 876)
    (sql,) = [q["sql"] for q in captured.captured_queries]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using contact_heard_entered_idx" in plan, plan
