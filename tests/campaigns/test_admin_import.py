"""Imports from the admin: upload, map the columns, import on the worker (eager here), watch the
counts, download the rejected rows; the mapping is remembered for the next file."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.models import ImportJob, ImportMapping
from leads.models import Contact, StageChange, Via
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FILE = (
    "E-mail;Name;Where from;Notes column\n"
    "ada@example.com;Ada;facebook;met at the fair\n"
    "not-an-email;Bob;instagram;\n"
    "cy@example.com;Cy;myspace;\n"
)


@pytest.fixture
def sally(client, reference_data):
    client.force_login(UserFactory(username="sally", groups=["Sales"], is_staff=True))
    return client


def upload(client, text: str = FILE, kind: str = "contacts", name: str = "leads.csv"):
    return client.post(
        reverse("admin:campaigns_importjob_add"),
        {"kind": kind, "platform": "", "file": SimpleUploadedFile(name, text.encode())},
    )


def test_upload_map_import_and_download_the_rejected_rows(
    sally, django_capture_on_commit_callbacks
):
    response = upload(sally)
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:campaigns_importjob_change", args=[job.pk])
    page = sally.get(response["Location"])
    html = page.content.decode()
    # The first rows, and a column picker per column of the file (none matches ours by name).
    assert "met at the fair" in html and 'name="map-0"' in html
    assert job.header == ["E-mail", "Name", "Where from", "Notes column"]
    with django_capture_on_commit_callbacks(execute=True):  # the job goes to the worker
        started = sally.post(
            response["Location"],
            {"map-0": "email", "map-1": "first_name", "map-2": "source_channel", "map-3": ""},
        )
    assert started.status_code == 302
    job.refresh_from_db()
    # Ada lands; Bob's email and Cy's channel are rejected, with their lines.
    assert (job.status, job.rows, job.created) == ("done", 3, 1)
    assert [(line, column) for line, column, _ in job.rejected] == [
        (3, "email"),
        (4, "source_channel"),
    ]
    ada = Contact.objects.get(email="ada@example.com")
    assert ada.first_name == "Ada" and ada.source_channel.slug == "facebook"
    entry = StageChange.objects.get(contact=ada)
    assert entry.via == Via.IMPORT and entry.changed_by.username == "sally"
    done = sally.get(response["Location"]).content.decode()
    assert "Download the rejected rows" in done
    rejected = sally.get(reverse("admin:campaigns_importjob_rejected", args=[job.pk]))
    lines = list(csv.reader(io.StringIO(rejected.content.decode())))
    assert lines[0] == ["line", "column", "reason"] and lines[1][:2] == ["3", "email"]
    # The next file with these columns opens with the same mapping.
    assert ImportMapping.objects.get().mapping["E-mail"] == "email"
    upload(sally, name="more.csv")
    assert ImportJob.objects.order_by("-pk").first().mapping["Where from"] == "source_channel"


def test_a_mapping_must_cover_the_required_columns(sally):
    upload(sally, "Day;Amount\n2026-03-01;5.00\n", kind="purchases")
    job = ImportJob.objects.get()
    refused = sally.post(
        reverse("admin:campaigns_importjob_change", args=[job.pk]),
        {"map-0": "occurred_at", "map-1": ""},
    )
    assert refused.status_code == 400
    assert "Map a column of the file to amount." in refused.content.decode()
    job.refresh_from_db()
    assert job.status == "draft"


def test_what_a_user_may_import(sally):
    response = upload(sally, "campaign,incurred_on,amount\nx,2026-03-01,1\n", kind="costs")
    assert response.status_code == 400
    assert "You may not import costs." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_file_that_cannot_be_read_is_refused_at_once(sally):
    bad = sally.post(
        reverse("admin:campaigns_importjob_add"),
        {
            "kind": "contacts",
            "file": SimpleUploadedFile("x.csv", "email\nzoë@example.com\n".encode("latin-1")),
        },
    )
    assert bad.status_code == 400
    assert "Line 2 is not UTF-8" in bad.content.decode()
    assert not ImportJob.objects.exists()


def test_a_dry_run_keeps_nothing(sally, django_capture_on_commit_callbacks):
    upload(sally)
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        sally.post(
            reverse("admin:campaigns_importjob_change", args=[job.pk]),
            {"map-0": "email", "map-1": "first_name", "map-2": "", "map-3": "", "dry_run": "on"},
        )
    job.refresh_from_db()
    assert (job.status, job.created, job.dry_run) == ("done", 2, True)
    assert not Contact.objects.exists()


def test_a_job_whose_rows_are_all_read_says_they_are_being_written(sally):
    # A contacts file on PostgreSQL is read (staged) first, then written in one go: the page
    # must not look stuck at 100 % meanwhile.
    upload(sally)
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(status="running", line=job.lines, rows=3)
    page = sally.get(reverse("admin:campaigns_importjob_change", args=[job.pk])).content.decode()
    assert "Every row is read; they are being written now." in page
    ImportJob.objects.filter(pk=job.pk).update(line=2)
    page = sally.get(reverse("admin:campaigns_importjob_change", args=[job.pk])).content.decode()
    assert "being written now" not in page


def test_a_job_that_breaks_says_so_instead_of_running_for_ever(sally, monkeypatch):
    from campaigns.services import import_job_run, import_job_start
    from leads.imports import CONTACTS

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    upload(sally)
    job = ImportJob.objects.get()
    monkeypatch.setattr("campaigns.services._enqueue_import", lambda job_id: None)
    mapping = {"E-mail": "email", "Name": "first_name", "Where from": "", "Notes column": ""}
    import_job_start(job=job, mapping=mapping)
    # Rows through the per-row door break (on PostgreSQL the file's bad email takes it).
    monkeypatch.setattr(type(CONTACTS), "apply", broken)
    with pytest.raises(RuntimeError):
        import_job_run(job_id=job.pk)  # the worker logs it
    job.refresh_from_db()
    assert job.status == "failed" and "RuntimeError" in job.error
    assert job.finished_at is not None
