"""Batches of walk-in purchases (orders for emails no contact has yet) at a large contact table.

Audit: at 100,000 contacts a batch of 1,000 walk-in purchases ran past gunicorn's 30 s timeout,
because each email look-up scanned the table. This fills the contacts table up to --contacts
(bulk inserts, once; later runs reuse them), then sends --batches batches of --size walk-in
purchases through the batch endpoint's service (`leads.events.apply_batch`, in this process:
the look-ups are what is measured, not HTTP), half of them for new emails and half for emails of
existing contacts, and prints each batch's time and the rate.

    createdb -h 127.0.0.1 -U postgres roi_walkins
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/roi_walkins .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/roi_walkins .venv/bin/python bench/walk_ins.py

It counts the events answered with an error and exits 1 if there was any.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + uuid.uuid4().hex)

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402

from leads.events import apply_batch  # noqa: E402
from leads.models import Contact  # noqa: E402


def fill(contacts: int) -> int:
    """Contacts with emails up to `contacts` rows (the same emails on every run)."""
    have = Contact.objects.filter(email__endswith="@filler.example").count()
    for start in range(have, contacts, 10_000):
        Contact.objects.bulk_create(
            Contact(email=f"person{i}@filler.example", first_name="P")
            for i in range(start, min(start + 10_000, contacts))
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_contact")
    return Contact.objects.count()


def batch(run: str, number: int, size: int, contacts: int) -> list[dict]:
    events = []
    for i in range(size):
        known = i % 2 == 1
        email = (
            f"person{(number * size + i) % contacts}@filler.example"
            if known
            else f"walkin-{run}-{number}-{i}@bench.example"
        )
        events.append(
            {
                "type": "purchase",
                "external_id": f"order-{run}-{number}-{i}",
                "email": email,
                "amount": "19.90",
                "occurred_at": "2026-03-01T10:00:00Z",
            }
        )
    return events


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--size", type=int, default=1000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Run it on PostgreSQL: set DATABASE_URL.")
    total = fill(args.contacts)
    user, _ = User.objects.get_or_create(username="bench-walkins", is_superuser=True)
    run = uuid.uuid4().hex[:8]
    times, errors = [], 0
    for number in range(args.batches):
        events = batch(run, number, args.size, args.contacts)
        started = time.perf_counter()
        results = apply_batch(events, user)
        times.append(time.perf_counter() - started)
        errors += sum(1 for r in results if r["status"] == "error")
        print(f"batch {number + 1}: {args.size} walk-ins in {times[-1]:.2f} s")
    print(
        f"{total:,} contacts: median {statistics.median(times):.2f} s a batch of {args.size} "
        f"({args.size / statistics.median(times):,.0f} purchases/s); errors: {errors}"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
