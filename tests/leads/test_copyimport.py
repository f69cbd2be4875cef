"""The contacts import's bulk path on PostgreSQL (`leads.copyimport`): COPY into a staging
table, set-based inserts. It must write and answer exactly what the chunked path (the events
batch door, row by row rules) does for the same file, only faster.

Hypothesis writes random contact files over the batch equivalence test's small world (stored
contacts and a merged-away secondary email, campaigns, coupons, channels and aliases): rows
new, repeated in the file (same external_id or email in another case), replaying stored ones
with the same or other names, refused (bad email, unknown channel or coupon, a campaign on
another channel, a future or malformed time, no identity), with an owner or a referral (the
per-row door's). Each file is imported both ways from the same starting data, each inside a
savepoint rolled back afterwards; the outcome (counts, rejected lines, columns and reasons)
and every written row must be equal.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path
from unittest import mock

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.changes import data_changed
from campaigns.csvimport import import_file
from leads import copyimport
from leads.imports import CONTACTS
from leads.models import Contact, StageChange, Touchpoint, Via
from tests.api.test_batch_equivalence import NOW, T0, iso, snapshot, world  # noqa: F401
from tests.factories import UserFactory, channel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

COLUMNS = (
    "external_id",
    "email",
    "first_name",
    "phone",
    "source_channel",
    "source_campaign",
    "utm_source",
    "coupon",
    "stage",
    "entered_at",
    "touch_kind",
    "heard_about",
    "heard_channel",
    "referred_by",
)


def mostly(valid: list[str], invalid: list[str]) -> st.SearchStrategy:
    """Valid values (the empty cell among them) five times as often as invalid ones: most rows
    take the bulk path, and a few of them a refusal."""
    return st.sampled_from(valid * 5 + invalid)


CELLS = {
    "external_id": st.sampled_from(["", "", "c1", "c2", "sc-1", "sc-2"]),
    "email": mostly(
        [
            "",
            "a@example.com",
            "A@Example.com",
            "b@example.com",
            "s1@example.com",
            "S2@example.com",
            "old1@example.com",
        ],
        ["zoë@example.com", "ada@bücher.example", "not-an-email"],
    ),
    "first_name": mostly(["", "Ada", "Sam", "ada", "Zoë"], ["x" * 101, "nul\x00"]),
    "phone": mostly(["", "+1 555 0100"], ["call me"]),
    "source_channel": mostly(["", "", "facebook", "Facebook", "pinterest"], ["myspace"]),
    "source_campaign": mostly(["", "", "", "@fb", "@pins"], ["999999", "abc"]),
    "utm_source": mostly(["", "fb", "pin.it", "Some-Blog.example"], []),
    "coupon": mostly(["", "", "", "ok10", "CAP"], ["nope"]),
    "stage": mostly(["", "follower", "lead", "customer"], ["vip", "Lead"]),
    "entered_at": mostly(
        [
            "",
            iso(T0),
            iso(T0 + dt.timedelta(days=1)),
            "2026-01-11 09:30",  # naive: the current time zone
            "2026-01-11T09:30:00+02:00",
        ],
        [
            iso(NOW + dt.timedelta(hours=1)),  # the future
            "2026-01-32T00:00:00Z",
            "1899-12-31T00:00:00Z",
            "0001-01-01T00:00:00+01:00",  # out of range once in the current time zone
        ],
    ),
    "touch_kind": mostly(["", "", "form"], ["teleport"]),
    "heard_about": mostly(["", "", "saw you on Insta", "a friend", "IG, then TikTok"], ["x" * 201]),
    "heard_channel": mostly(["", "", "", "TikTok"], ["myspace"]),
    "referred_by": mostly(["", "", "", "", ""], ["@s1", "999999"]),
}
rows = st.lists(st.fixed_dictionaries(CELLS), min_size=1, max_size=14)


def write(
    tmp_path: Path,
    rows: list[dict[str, str]],
    name: str = "contacts.csv",
    columns: tuple[str, ...] = COLUMNS,
) -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    path = tmp_path / name
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def imported(path: Path, user, *, bulk: bool) -> tuple:
    with transaction.atomic():
        outcome = import_file(path, CONTACTS, user=user, bulk=bulk)
        rows, _ = snapshot()
        transaction.set_rollback(True)
    rejected = sorted((r.line, r.column, r.reason) for r in outcome.rejected)
    return (outcome.rows, outcome.created, outcome.unchanged, rejected), rows


EXPLORE = int(os.environ.get("EQUIVALENCE_EXAMPLES", "0"))


@settings(
    max_examples=EXPLORE or 60,
    deadline=None,
    derandomize=not EXPLORE,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=rows)
def test_the_bulk_path_writes_and_answers_what_the_chunked_path_does(
    tmp_path,
    importer,  # first: its reference data (channels) back after a flush, for the world
    world,  # noqa: F811 - the batch equivalence test's fixture
    rows,
):
    user = importer
    rows = [{k: world.get(v, str(v)) for k, v in row.items()} for row in rows]
    path = write(tmp_path, [{k: str(v) for k, v in row.items()} for row in rows])
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        bulk_outcome, bulk_rows = imported(path, user, bulk=True)
        chunked_outcome, chunked_rows = imported(path, user, bulk=False)
    assert bulk_outcome == chunked_outcome
    for table, written in bulk_rows.items():
        assert written == chunked_rows[table], table


@pytest.fixture
def importer(reference_data):
    return UserFactory(username="importer", is_superuser=True)


def contacts_file(tmp_path: Path, n: int, prefix: str = "p") -> Path:
    channels = ["facebook", "instagram", "linkedin", ""]
    return write(
        tmp_path,
        [
            {
                "email": f"{prefix}{i}@example.com",
                "first_name": f"P{i}",
                "source_channel": channels[i % 4],
                "stage": ["follower", "lead", "customer"][i % 3],
                "entered_at": iso(T0 + dt.timedelta(hours=i)),
            }
            for i in range(n)
        ],
        f"{prefix}.csv",
    )


def test_new_contacts_get_their_history_first_touch_and_days(tmp_path, importer):
    declared = []

    def capture(sender, moments, **kwargs):
        declared.extend(moments)

    data_changed.connect(capture, dispatch_uid="test-copyimport")
    try:
        outcome = import_file(contacts_file(tmp_path, 6), CONTACTS, user=importer)
    finally:
        data_changed.disconnect(dispatch_uid="test-copyimport")
    assert (outcome.rows, outcome.created, outcome.unchanged, outcome.rejected) == (6, 6, 0, [])
    # p0 entered as a follower from facebook on T0: one entry in the history, by the importer,
    # through an import; its first touch (a follow) at entry.
    p0 = Contact.objects.get(email="p0@example.com")
    assert (p0.stage, p0.entered_at, p0.became_lead_at) == ("follower", T0, None)
    assert p0.external_id == "import:contact:p0@example.com"
    entry = StageChange.objects.get(contact=p0)
    assert (entry.from_stage, entry.to_stage, entry.via, entry.changed_by) == (
        "",
        "follower",
        Via.IMPORT,
        importer,
    )
    touch = Touchpoint.objects.get(contact=p0)
    assert (touch.channel, touch.kind, touch.occurred_at) == (channel("facebook"), "follow", T0)
    # p2 entered as a customer at T0 + 2 h: every stage stamped then.
    p2 = Contact.objects.get(email="p2@example.com")
    stamps = (p2.became_lead_at, p2.became_qualified_at, p2.became_customer_at)
    assert stamps == (T0 + dt.timedelta(hours=2),) * 3
    # p3 has no source: no touch (it counts as unattributed).
    assert not Touchpoint.objects.filter(contact__email="p3@example.com").exists()
    assert Touchpoint.objects.count() == 5
    # All six entered on T0's day (09:00 to 14:00 UTC): that day is declared changed.
    assert set(declared) == {T0.date()}


def test_a_second_run_settles_every_row_at_once(tmp_path, importer, django_assert_max_num_queries):
    path = contacts_file(tmp_path, 300)
    assert import_file(path, CONTACTS, user=importer).created == 300
    # Every row is a replay of a stored contact: answered "already there" set-based, no row
    # through the per-row door, in a fixed number of statements.
    with django_assert_max_num_queries(30):
        again = import_file(path, CONTACTS, user=importer)
    assert (again.created, again.unchanged, again.rejected) == (0, 300, [])
    assert Contact.objects.count() == 300 and StageChange.objects.count() == 300


def test_statements_do_not_grow_with_the_rows(tmp_path, importer, django_assert_max_num_queries):
    with django_assert_max_num_queries(40) as few:
        import_file(contacts_file(tmp_path, 5, "a"), CONTACTS, user=importer)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert import_file(contacts_file(tmp_path, 2000, "b"), CONTACTS, user=importer).created == (
            2000
        )


def test_references_are_looked_up_between_two_copies(tmp_path, importer, monkeypatch):
    # Blocks of 3 rows: the channels met on the way are looked up between two COPY
    # statements (the COPY under way holds the connection), and every row lands.
    monkeypatch.setattr(copyimport, "BLOCK", 3)
    progress = []
    outcome = import_file(
        contacts_file(tmp_path, 10),
        CONTACTS,
        user=importer,
        on_chunk=lambda outcome, line: progress.append((outcome.rows, line)),
    )
    assert outcome.created == 10
    assert progress[-1] == (10, 11)
    assert [rows for rows, _ in progress] == sorted(rows for rows, _ in progress)


def test_an_interrupt_leaves_nothing_and_the_next_run_does_it_all(tmp_path, importer, monkeypatch):
    path = contacts_file(tmp_path, 10)
    real = copyimport._write

    def interrupted(*args, **kwargs):
        real(*args, **kwargs)  # everything written, then Ctrl-C before the commit
        raise KeyboardInterrupt

    monkeypatch.setattr(copyimport, "_write", interrupted)
    outcome = import_file(path, CONTACTS, user=importer)
    assert (outcome.interrupted_at, outcome.created) == (2, 0)
    assert not Contact.objects.exists() and not StageChange.objects.exists()
    monkeypatch.setattr(copyimport, "_write", real)
    assert import_file(path, CONTACTS, user=importer).created == 10


def test_a_dry_run_writes_nothing(tmp_path, importer):
    outcome = import_file(contacts_file(tmp_path, 4), CONTACTS, user=importer, dry_run=True)
    assert (outcome.created, outcome.dry_run) == (4, True)
    assert not Contact.objects.exists() and not Touchpoint.objects.exists()


def test_an_email_stored_in_another_case_is_refused_like_the_batch_door(tmp_path, importer):
    import_file(
        write(tmp_path, [{"email": "ada@example.com", "first_name": "Ada"}]),
        CONTACTS,
        user=importer,
    )
    # A new external_id with the stored email in capitals: the insert skips it (the unique
    # lower(email) index), and it is refused with the rules' message.
    path = write(
        tmp_path,
        [{"external_id": "crm-7", "email": "ADA@example.com"}, {"email": "bo@example.com"}],
        "again.csv",
    )
    outcome = import_file(path, CONTACTS, user=importer)
    assert outcome.created == 1
    assert [(r.line, r.column, r.reason) for r in outcome.rejected] == [
        (2, "email", "A contact with the email 'ADA@example.com' already exists.")
    ]


def test_a_user_who_may_not_add_contacts_gets_the_same_refusals(tmp_path, importer):
    # A Marketing member reads contacts but may not add them (SPEC §8): every row refused
    # as the batch door refuses it, both ways.
    from django.contrib.auth.models import Group

    marketer = UserFactory(username="marketer")
    marketer.groups.add(Group.objects.get(name="Marketing"))
    path = contacts_file(tmp_path, 3)
    bulk, bulk_rows = imported(path, marketer, bulk=True)
    chunked, _ = imported(path, marketer, bulk=False)
    assert bulk == chunked
    assert bulk[1] == 0 and [r[2] for r in bulk[3]] == ["You may not send contact events."] * 3
    assert bulk_rows["contacts"] == []


def test_an_interrupt_among_the_per_row_rows_keeps_the_bulk_rows(tmp_path, importer, monkeypatch):
    # Rows 2-4 take the bulk path; rows 5 and 6 name an owner (the per-row door's), written
    # after the bulk rows are committed, a chunk per transaction: Ctrl-C in that chunk keeps
    # the bulk rows and names the chunk's first line.
    path = write(
        tmp_path,
        [{"email": f"b{i}@example.com"} for i in range(3)]
        + [{"email": f"o{i}@example.com", "owner": str(importer.pk)} for i in range(2)],
        columns=("email", "owner"),
    )

    def interrupted(self, batch, *, user):
        raise KeyboardInterrupt

    monkeypatch.setattr(type(CONTACTS), "apply", interrupted)
    outcome = import_file(path, CONTACTS, user=importer)
    assert (outcome.interrupted_at, outcome.created) == (5, 3)
    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        "b0@example.com",
        "b1@example.com",
        "b2@example.com",
    ]
    monkeypatch.undo()
    again = import_file(path, CONTACTS, user=importer)
    assert (again.created, again.unchanged) == (2, 3)
    assert Contact.objects.get(email="o1@example.com").owner == importer


def test_references_beyond_the_memo_are_kept_for_their_row(tmp_path, importer, monkeypatch):
    # No value is remembered: each row's two references are looked up for it and kept until
    # it is staged (keeping only the last one would look them up in turn for ever).
    monkeypatch.setattr(copyimport, "MEMO_LIMIT", 0)
    path = write(
        tmp_path,
        [
            {"email": "m1@example.com", "source_channel": "facebook", "stage": "lead"},
            {"email": "m2@example.com", "source_channel": "pinterest", "stage": "customer"},
        ],
    )
    assert import_file(path, CONTACTS, user=importer).created == 2
    assert Contact.objects.get(email="m2@example.com").source_channel == channel("pinterest")


def test_a_deadlock_is_tried_again(tmp_path, importer, monkeypatch):
    import psycopg
    from django.db import OperationalError

    real, calls = copyimport._write, []

    def deadlocked_once(cursor, user):
        calls.append(1)
        result = real(cursor, user)
        if len(calls) == 1:
            # PostgreSQL picked this transaction to break a deadlock: all of it rolls back.
            error = OperationalError("deadlock detected")
            error.__cause__ = psycopg.errors.DeadlockDetected()
            raise error
        return result

    monkeypatch.setattr(copyimport, "_write", deadlocked_once)
    outcome = import_file(contacts_file(tmp_path, 5), CONTACTS, user=importer)
    assert (len(calls), outcome.created) == (2, 5)
    assert Contact.objects.count() == 5 and StageChange.objects.count() == 5


def test_a_campaign_deleted_after_staging_refuses_its_rows_only(tmp_path, importer, monkeypatch):
    from campaigns.models import Campaign
    from tests.factories import CampaignFactory

    gone = CampaignFactory(name="Gone", channel=channel("facebook"))
    path = write(
        tmp_path,
        [
            {"email": "g@example.com", "source_campaign": str(gone.pk)},
            {"email": "k@example.com", "source_channel": "facebook"},
        ],
    )
    real = copyimport._keep_references

    def deleted_meanwhile(cursor):
        Campaign.objects.filter(pk=gone.pk).delete()
        real(cursor)

    monkeypatch.setattr(copyimport, "_keep_references", deleted_meanwhile)
    outcome = import_file(path, CONTACTS, user=importer)
    assert outcome.created == 1
    assert [(r.line, r.column) for r in outcome.rejected] == [(2, "source_campaign")]
    assert "Unknown campaign" in outcome.rejected[0].reason


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outside_a_test_transaction_it_commits_and_leaves_no_table(tmp_path, importer):
    # As the command and the worker run it: COPY statements in autocommit, the bulk rows in
    # their own transaction, the per-row rows in theirs, the staging table dropped at the end
    # (connections are reused).
    from django.db import connection

    path = write(
        tmp_path,
        [{"email": f"t{i}@example.com"} for i in range(4)]
        + [{"email": "owned@example.com", "owner": str(importer.pk)}],
        columns=("email", "owner"),
    )
    outcome = import_file(path, CONTACTS, user=importer)
    assert (outcome.created, outcome.rejected) == (5, [])
    assert not connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass('pg_temp.import_staging'), to_regclass('pg_temp.import_created')"
        )
        assert cursor.fetchone() == (None, None)
    assert Contact.objects.count() == 5 and StageChange.objects.count() == 5
