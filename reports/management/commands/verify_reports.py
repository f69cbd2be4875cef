"""Recompute the cached figures (day caches, saved reports) from the data and list disagreements."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reports.verify import caches_verify


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Recompute, bypassing every cache, each valid cached day (attribution per model and "
        "lookback, contact counts) and each done saved report, and compare with what is "
        "stored. Prints the mismatches and a summary; exits with 1 on any mismatch."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=_positive,
            default=None,
            help="Only the last N closed days, and the reports ending in them (default: all).",
        )
        parser.add_argument(
            "--sample",
            type=_positive,
            default=None,
            help="Only K random days (every cache row of each) and K random reports.",
        )

    def handle(self, *args, days: int | None, sample: int | None, **options) -> None:
        result = caches_verify(days=days, sample=sample)
        for mismatch in result.mismatches:
            self.stdout.write(f"MISMATCH {mismatch}")
        self.stdout.write(result.summary())
        if result.mismatches:
            raise CommandError(
                f"{len(result.mismatches)} cached figure(s) disagree with the data.", returncode=1
            )
