"""CSV imports (SPEC §9): contacts, touchpoints, purchases and costs from files, through the
same rules as every other door; bad rows listed by line, column and reason; nothing half
written; a second run changes nothing."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from campaigns.csvimport import FileRefused, import_file
from campaigns.imports import COSTS
from campaigns.models import Cost
from leads.imports import CONTACTS, PURCHASES, TOUCHPOINTS
from leads.models import Contact, Purchase, StageChange, Touchpoint, Via
from reports.metrics import roi_report
from tests.factories import CampaignFactory, CouponFactory, UserFactory, channel

pytestmark = pytest.mark.django_db

BOM = "\ufeff"


def write(tmp_path: Path, text: str, name: str = "rows.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def root(reference_data):
    return UserFactory(username="importer", is_superuser=True)


def test_contacts_with_a_bom_semicolons_and_quotes(tmp_path, root):
    # A spreadsheet's export where the comma is the decimal mark: semicolons, a BOM, a quoted
    # cell holding a semicolon and a line break, the columns in another order and case.
    path = write(
        tmp_path,
        BOM + "Email;First_Name;Source_Channel;Company;Entered_At\n"
        'ada@example.com;Ada;facebook;"Lovelace; Babbage\nLtd";2026-03-02T10:00:00Z\n'
        "not-an-email;Bob;instagram;;2026-03-03T10:00:00Z\n"
        "ADA@Example.com;Adeline;facebook;;2026-03-04T10:00:00Z\n"
        ";;;;\n"
        "cy@example.com;Cy;linkedin;;2026-03-05T10:00:00Z\n",
    )
    outcome = import_file(path, CONTACTS, user=root)
    assert (outcome.rows, outcome.created, outcome.unchanged) == (4, 2, 0)
    ada = Contact.objects.get(email="ada@example.com")
    assert ada.company == "Lovelace; Babbage\nLtd" and ada.source_channel == channel("facebook")
    # Same rules as the API: her first touch, her entry in the history, through an import.
    assert Touchpoint.objects.filter(contact=ada, channel=channel("facebook")).count() == 1
    entry = StageChange.objects.get(contact=ada)
    assert (entry.via, entry.changed_by) == (Via.IMPORT, root)
    # Line 4 is Bob (the quoted cell spans lines 2 and 3); line 5 is Ada's email in another
    # case with another name: the same contact key, so a conflict, not a second contact.
    assert [(r.line, r.column) for r in outcome.rejected] == [(4, "email"), (5, "first_name")]
    assert "Enter a valid email address" in outcome.rejected[0].reason
    assert outcome.rejected[1].reason == (
        "Already imported with a different first_name (matched by its email)."
    )


def test_a_second_run_changes_nothing(tmp_path, root):
    path = write(
        tmp_path,
        "email,first_name,source_channel,entered_at\n"
        "ada@example.com,Ada,facebook,2026-03-02T10:00:00Z\n"
        "bob@example.com,Bob,instagram,2026-03-03T10:00:00Z\n",
    )
    assert import_file(path, CONTACTS, user=root).created == 2
    again = import_file(path, CONTACTS, user=root)
    assert (again.created, again.unchanged, again.rejected) == (0, 2, [])
    assert Contact.objects.count() == 2 and Touchpoint.objects.count() == 2


def test_a_dry_run_checks_everything_and_writes_nothing(tmp_path, root):
    path = write(
        tmp_path,
        "email,first_name\nada@example.com,Ada\nbad,Bob\n",
    )
    outcome = import_file(path, CONTACTS, user=root, dry_run=True)
    assert (outcome.created, len(outcome.rejected), outcome.dry_run) == (1, 1, True)
    assert not Contact.objects.exists() and not StageChange.objects.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "email,first_name,shoe_size\na@example.com,A,42\n",
            "Unknown column(s) for contacts: shoe_size",
        ),
        ("email,email\na@example.com,b@example.com\n", "Column(s) named twice: email"),
        ("", "The file is empty"),
    ],
)
def test_a_file_with_wrong_columns_is_refused_whole(tmp_path, root, text, message):
    with pytest.raises(FileRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_file(write(tmp_path, text), CONTACTS, user=root)
    assert not Contact.objects.exists()


def test_a_file_that_is_not_utf8_is_refused_naming_its_line(tmp_path, root):
    path = write(
        tmp_path, "email,first_name\nada@example.com,Ada\nzoe@example.com,Zoë\n", encoding="latin-1"
    )
    with pytest.raises(FileRefused, match="Line 3 is not UTF-8"):
        import_file(path, CONTACTS, user=root)
    assert not Contact.objects.exists()


def test_purchases_follow_the_purchase_rules(tmp_path, root):
    pins = CampaignFactory(name="Spring pins", channel=channel("pinterest"))
    CouponFactory(code="PIN10", campaign=pins)
    future = (timezone.now() + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = write(
        tmp_path,
        "email,amount,discount,coupon,occurred_at,external_id\n"
        "walkin@example.com,100.00,10.00,pin10,2026-03-20T12:00:00Z,order-1\n"
        "neg@example.com,-5.00,,,2026-03-20T12:00:00Z,order-2\n"
        "who@example.com,20.00,,NOPE,2026-03-21T12:00:00Z,order-3\n"
        f"late@example.com,20.00,,,{future},order-4\n"
        "walkin@example.com,30.00,,,2026-03-25T12:00:00Z,\n",
    )
    outcome = import_file(path, PURCHASES, user=root)
    assert (outcome.created, outcome.unchanged) == (2, 0)
    assert [(r.line, r.column) for r in outcome.rejected] == [
        (3, "amount"),
        (4, "coupon"),
        (5, "occurred_at"),
    ]
    # A walk-in: created as a customer, the coupon's touch recorded at the purchase's time.
    buyer = Contact.objects.get(email="walkin@example.com")
    assert buyer.stage == "customer" and buyer.source_campaign == pins
    assert Touchpoint.objects.filter(contact=buyer, kind="coupon", campaign=pins).count() == 1
    assert sorted(Purchase.objects.values_list("amount", flat=True)) == [
        Decimal("30.00"),
        Decimal("100.00"),
    ]
    # The row without an external_id has a key of its own: a second run adds nothing.
    again = import_file(path, PURCHASES, user=root)
    assert (again.created, again.unchanged) == (0, 2)
    assert Purchase.objects.count() == 2
    # The figures follow: March's revenue counts both purchases.
    report = roi_report(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    assert report["totals"]["revenue"] == "130.00"


def test_touchpoints_name_their_contact(tmp_path, root):
    call_command(
        "import_contacts",
        str(write(tmp_path, "email\nada@example.com\n", "c.csv")),
        stdout=io.StringIO(),
    )
    path = write(
        tmp_path,
        "email,channel,kind,occurred_at\n"
        "ada@example.com,instagram,click,2026-03-05T09:00:00Z\n"
        "nobody@example.com,instagram,click,2026-03-05T09:00:00Z\n"
        "ada@example.com,myspace,click,2026-03-05T09:00:00Z\n",
        "t.csv",
    )
    outcome = import_file(path, TOUCHPOINTS, user=root)
    assert outcome.created == 1
    assert [r.line for r in outcome.rejected] == [3, 4]
    assert Touchpoint.objects.filter(channel=channel("instagram"), kind="click").count() == 1


def test_costs_by_campaign_name_or_utm(tmp_path, root):
    CampaignFactory(name="Spring pins", channel=channel("pinterest"), utm_campaign="spring")
    path = write(
        tmp_path,
        "campaign,incurred_on,amount,category\n"
        "Spring Pins,2026-03-05,400.00,ad_spend\n"
        "spring,2026-03-06,50.00,content\n"
        "Autumn,2026-03-06,10.00,\n"
        "spring,2026-03-07,-1.00,\n",
    )
    outcome = import_file(path, COSTS, user=root)
    assert outcome.created == 2
    assert [(r.line, r.column) for r in outcome.rejected] == [(4, "campaign"), (5, "amount")]
    assert sorted(Cost.objects.values_list("amount", "category")) == [
        (Decimal("50.00"), "content"),
        (Decimal("400.00"), "ad_spend"),
    ]
    assert import_file(path, COSTS, user=root).unchanged == 2
    # Each cost declared its day: March's report counts them.
    report = roi_report(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    assert report["totals"]["cost"] == "450.00"


def test_an_interrupted_run_leaves_no_half_chunk_and_resumes(tmp_path, root, monkeypatch):
    rows = "".join(f"p{i}@example.com,P{i}\n" for i in range(10))
    path = write(tmp_path, "email,first_name\n" + rows)
    calls = []
    real = type(CONTACTS).apply

    def flaky(self, batch, *, user):
        calls.append(len(batch))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, batch, user=user)

    monkeypatch.setattr(type(CONTACTS), "apply", flaky)
    # The chunked path (PostgreSQL's bulk path writes a file whole: see test_copyimport.py).
    outcome = import_file(path, CONTACTS, user=root, chunk=4, bulk=False)
    # Lines 2-5 landed; the chunk of lines 6-9 was being written: none of it is kept.
    assert outcome.interrupted_at == 6 and outcome.created == 4
    assert Contact.objects.count() == 4
    monkeypatch.setattr(type(CONTACTS), "apply", real)
    again = import_file(path, CONTACTS, user=root, chunk=4, bulk=False)
    assert (again.created, again.unchanged) == (6, 4)
    assert Contact.objects.count() == 10


def test_queries_per_chunk_do_not_grow_with_its_rows(tmp_path, root, django_assert_max_num_queries):
    def rows(prefix: str, n: int) -> Path:
        body = "".join(f"{prefix}{i}@example.com,facebook,2026-03-02T10:00:00Z\n" for i in range(n))
        return write(tmp_path, "email,source_channel,entered_at\n" + body, f"{prefix}.csv")

    # One chunk: the batch door's look-ups and bulk inserts, whatever its rows (SQLite splits
    # a long insert into statements of at most 999 values: a few more there). The chunked
    # path: PostgreSQL's bulk path is pinned in test_copyimport.py.
    with django_assert_max_num_queries(40) as few:
        import_file(rows("a", 5), CONTACTS, user=root, bulk=False)
    splits = 0 if connection.vendor == "postgresql" else 8
    with django_assert_max_num_queries(len(few.captured_queries) + splits):
        assert import_file(rows("b", 200), CONTACTS, user=root, bulk=False).created == 200


def test_the_command_reports_and_writes_the_rejected_rows(tmp_path, root):
    path = write(tmp_path, "email,first_name\nada@example.com,Ada\nbad,Bob\n")
    out = io.StringIO()
    with pytest.raises(CommandError) as stopped:
        call_command("import_contacts", str(path), "--user", "importer", stdout=out)
    assert stopped.value.returncode == 1
    assert "2 rows: 1 created, 0 already there, 1 rejected" in out.getvalue()
    rejected = (tmp_path / "rows.csv.rejected.csv").read_text()
    assert rejected.splitlines()[0] == "line,column,reason"
    assert rejected.splitlines()[1].startswith("3,email,")
    with pytest.raises(CommandError, match="Unknown column"):
        call_command("import_costs", str(path), stdout=io.StringIO())
    with pytest.raises(CommandError, match="No user is named"):
        call_command("import_contacts", str(path), "--user", "nobody", stdout=io.StringIO())
