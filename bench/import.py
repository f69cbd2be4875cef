"""CSV import speed: `import_contacts`' engine against a bare COPY of the same file.

Writes a CSV of --rows new contacts (unique emails for this run, a name, a company, a source
channel, an entry time), imports it with `campaigns.csvimport.import_file` (the engine the
`import_contacts` command runs), then COPYs the same file into an empty copy of the contacts
table in the same run, and prints both rates, their ratio and the peak memory of the process.
It fails loudly (exit 1, no rate printed) if any row that should land did not.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/roi_bench DJANGO_DEBUG=0 \\
        .venv/bin/python bench/import.py --rows 100000

The imported contacts stay (they are new, with this run's emails); the COPY's table is dropped.
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


def bare_copy(path: Path) -> float:
    """COPY the file's columns into an empty copy of the contacts table; seconds."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_import_copy")
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_import_copy (email text, first_name text, last_name text,"
            " company text, source_channel text, entered_at timestamptz)"
        )
        started = time.perf_counter()
        with (
            cursor.cursor.copy(
                "COPY bench_import_copy FROM STDIN WITH (FORMAT csv, HEADER true)"
            ) as copy,
            path.open("rb") as data,
        ):
            while block := data.read(1 << 20):
                copy.write(block)
        elapsed = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_import_copy")
        copied = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_import_copy")
    if copied != int(path.read_text().count("\n")) - 1:
        raise SystemExit(f"COPY took {copied} rows, not the file's")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Run it on PostgreSQL: set DATABASE_URL.")
    run = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contacts.csv"
        write_file(path, args.rows, run)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        outcome = import_file(path, CONTACTS, user=Operator(), chunk=args.chunk)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        errors = len(outcome.rejected) + (args.rows - outcome.created)
        if errors:
            for item in outcome.rejected[:10]:
                print(f"line {item.line}, {item.column}: {item.reason}", file=sys.stderr)
            raise SystemExit(f"{errors} row(s) did not land: no rate.")
        copy_seconds = bare_copy(path)
    rate = args.rows / outcome.seconds
    copy_rate = args.rows / copy_seconds
    print(f"rows              {args.rows:>12,}")
    print(f"import            {outcome.seconds:>10.1f} s {rate:>12,.0f} rows/s")
    print(f"bare COPY         {copy_seconds:>10.1f} s {copy_rate:>12,.0f} rows/s")
    print(f"ratio             {outcome.seconds / copy_seconds:>10.1f} x")
    print(f"peak memory       {peak / 1024:>10.0f} MB (before importing: {before / 1024:.0f} MB)")
    print("errors                     0")


if __name__ == "__main__":
    main()
