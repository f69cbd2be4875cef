"""manage.py seed_demo: a deterministic year of demo data (see leads/demo.py)."""

from __future__ import annotations

import datetime as dt
import time

from django.core.management import BaseCommand, CommandError
from django.db import connection, reset_queries
from django.utils import timezone

from campaigns.models import Campaign
from leads import demo
from leads.models import Contact


class Command(BaseCommand):
    help = "Fill the database with a realistic, deterministic year of a small business."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--contacts", type=int, default=2000, help="How many contacts (default 2000)."
        )
        parser.add_argument(
            "--seed", type=int, default=42, help="Random seed: same seed, same data."
        )
        parser.add_argument(
            "--end",
            type=dt.date.fromisoformat,
            default=None,
            help="Last day of the year of data (default: today).",
        )
        parser.add_argument(
            "--flush", action="store_true", help="Delete existing contacts and campaigns first."
        )
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(
        self,
        *args,
        contacts: int,
        seed: int,
        end: dt.date | None,
        flush: bool,
        batch_size: int,
        **options,
    ) -> None:
        if contacts < 0:
            raise CommandError("--contacts must not be negative.")
        if flush:
            demo.flush()
        elif Contact.objects.exists() or Campaign.objects.exists():
            raise CommandError(
                "The database already has contacts or campaigns; use --flush to replace them."
            )
        end = end or timezone.localdate()
        if end > timezone.localdate():
            raise CommandError("--end must not be in the future: nothing is dated after now.")
        started = time.monotonic()
        counts = demo.seed(
            contacts=contacts,
            seed_value=seed,
            end=end,
            batch_size=batch_size,
            progress=self._progress,
        )
        elapsed = time.monotonic() - started
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        summary = ", ".join(f"{count:,} {name}" for name, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Seeded {summary} in {elapsed:.1f} s."))

    def _progress(self, message: str) -> None:
        """Overwrite one line on a terminal; in a log, one line per batch keeps it readable.

        Called after every batch, it also drops the SQL log that DEBUG keeps (bulk inserts make
        it hundreds of MB at benchmark size), so memory stays bounded by one batch. Not when
        something is counting queries on purpose (a test's CaptureQueriesContext forces the log).
        """
        if not connection.force_debug_cursor:
            reset_queries()
        if self.stdout.isatty():
            self.stdout.write(f"  {message}", ending="\r")
        else:
            self.stdout.write(f"  {message}")
