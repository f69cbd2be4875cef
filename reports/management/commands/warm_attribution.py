"""Fill the day caches (contact counts, attribution under every model) for the last N days."""

from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from reports.services import attribution_warm


class Command(BaseCommand):
    help = (
        "Compute and cache each closed day's contact counts and attribution under every model "
        "(after a bulk load or a restore), so the first report pages over long periods are fast."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=400, help="How many days back (400).")
        parser.add_argument("--lookback", type=int, default=90, help="Lookback window (90).")

    def handle(self, *args, days: int, lookback: int, **options) -> None:
        if days < 1:
            self.stderr.write("--days must be at least 1.")
            return
        end = timezone.localdate() - dt.timedelta(days=1)
        start = end - dt.timedelta(days=days - 1)
        started = time.perf_counter()
        models = attribution_warm(
            start=start,
            end=end,
            lookback_days=lookback,
            timed=lambda name, seconds: self.stdout.write(f"  {name}: {seconds:.1f} s"),
        )
        self.stdout.write(
            f"Cached {models} models for {start}..{end} in {time.perf_counter() - started:.1f} s."
        )
