"""CSV import speed: `import_contacts`' engine against a bare COPY of the same file.

Writes a CSV of --rows new contacts (unique emails for this run, a name, a company, a source
channel, an entry time), imports it with `campaigns.csvimport.import_file` (the engine the
`import_contacts` command runs: on PostgreSQL its bulk path, `leads.copyimport`), then COPYs
the same file, in the same run, into two empty tables:

- a bare table of the file's six text columns (no index, no constraint): the wire's speed;
- an empty copy of the contacts table (`LIKE leads_contact INCLUDING ALL`: its 18 indexes, the
  trigram search index among them, and its checks): what writing a contact row costs, before
  any rule, history row or touch.

It prints the rates, the ratios, the time of the staging (read, check, COPY) and of the writing
(set-based inserts, commit) and the peak memory of the process. It fails loudly (exit 1, no
rate printed) if any row that should land did not: the contacts, their entry in the history
and their first touch are counted in the database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/roi_bench DJANGO_DEBUG=0 \\
        .venv/bin/python bench/import.py --rows 1000000

The imported contacts stay (they are new, with this run's emails); the COPY's tables are dropped.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import resource
import sys
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection  # noqa: E402

from campaigns.csvimport import Operator, import_file  # noqa: E402
from leads.imports import CONTACTS  # noqa: E402

COLUMNS = ["email", "first_name", "last_name", "company", "source_channel", "entered_at"]
CHANNELS = ["facebook", "instagram", "linkedin", "x", "tiktok", "pinterest"]


def write_file(path: Path, rows: int, run: str) -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(rows):
            writer.writerow(
                [
                    f"imp{run}.{i}@example.org",
                    f"First{i % 977}",
                    f"Last{i % 1013}",
                    f"Company {i % 331}",
                    CHANNELS[i % len(CHANNELS)],
                    (start + dt.timedelta(seconds=17 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                ]
            )


def bare_copy(path: Path, *, like_contacts: bool) -> float:
    """COPY the file into an empty table: the file's columns alone, or a copy of the contacts
    table with its indexes and checks (its NOT NULLs dropped: the file does not fill every
    column); seconds."""
    columns = "email, first_name, last_name, company, source_channel, entered_at"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_import_copy")
        if like_contacts:
            cursor.execute("CREATE TABLE bench_import_copy (LIKE leads_contact INCLUDING ALL)")
            cursor.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name ="
                " 'bench_import_copy' AND is_nullable = 'NO' AND column_name <> 'id'"
            )
            for (column,) in cursor.fetchall():
                cursor.execute(f"ALTER TABLE bench_import_copy ALTER {column} DROP NOT NULL")
            cursor.execute("ALTER TABLE bench_import_copy ADD source_channel text")
        else:
            cursor.execute(
                "CREATE TABLE bench_import_copy (email text, first_name text, last_name text,"
                " company text, source_channel text, entered_at timestamptz)"
            )
        started = time.perf_counter()
        with (
            cursor.cursor.copy(
                f"COPY bench_import_copy ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)"
            ) as copy,
            path.open("rb") as data,
        ):
            while block := data.read(1 << 20):
                copy.write(block)
        elapsed = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_import_copy")
        copied = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_import_copy")
    lines = sum(block.count(b"\n") for block in iter(partial(path.open("rb").read, 1 << 20), b""))
    if copied != lines - 1:
        raise SystemExit(f"COPY took {copied} rows, not the file's {lines - 1}")
    return elapsed


def landed(run: str) -> tuple[int, int, int]:
    """This run's contacts, their entries in the history and their first touches."""
    pattern = f"imp{run}.%"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM leads_stagechange s"
            " WHERE s.contact_id = c.id AND s.from_stage = '')), count(*) FILTER (WHERE EXISTS"
            " (SELECT 1 FROM leads_touchpoint t WHERE t.contact_id = c.id))"
            " FROM leads_contact c WHERE c.email LIKE %s",
            [pattern],
        )
        return cursor.fetchone()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Run it on PostgreSQL: set DATABASE_URL.")
    run = uuid.uuid4().hex[:8]
    staged = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contacts.csv"
        write_file(path, args.rows, run)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        outcome = import_file(
            path,
            CONTACTS,
            user=Operator(),
            on_chunk=lambda outcome, line: staged.append(time.monotonic()),
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        contacts, entries, touches = landed(run)
        errors = len(outcome.rejected) + (args.rows - outcome.created)
        errors += (args.rows - contacts) + (args.rows - entries) + (args.rows - touches)
        if errors:
            for item in outcome.rejected[:10]:
                print(f"line {item.line}, {item.column}: {item.reason}", file=sys.stderr)
            print(
                f"created {outcome.created}, stored {contacts}, entries {entries}, touches"
                f" {touches}, of {args.rows}",
                file=sys.stderr,
            )
            raise SystemExit(f"{errors} row(s) did not land: no rate.")
        bare_seconds = bare_copy(path, like_contacts=False)
        like_seconds = bare_copy(path, like_contacts=True)
    staging = staged[-1] - started  # the last progress is written when the file is staged
    rate = args.rows / outcome.seconds
    print(f"rows              {args.rows:>12,}")
    print(f"import            {outcome.seconds:>10.1f} s {rate:>12,.0f} rows/s")
    print(f"  staging         {staging:>10.1f} s  (read, check, COPY into the staging table)")
    print(f"  writing         {outcome.seconds - staging:>10.1f} s  (inserts, history, touches)")
    for name, seconds in (("bare COPY", bare_seconds), ("COPY, contacts' copy", like_seconds)):
        print(
            f"{name:<22}{seconds:>6.1f} s {args.rows / seconds:>12,.0f} rows/s"
            f"  (import: {outcome.seconds / seconds:.1f}x)"
        )
    print(f"peak memory       {peak / 1024:>10.0f} MB (before importing: {before / 1024:.0f} MB)")
    print("errors                     0")


if __name__ == "__main__":
    main()
