"""`manage.py import_costs FILE [--format meta|google|linkedin|tiktok|ga4]`: campaign costs
from a CSV file, ours or an ad platform's own export (docs/imports.md)."""

from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from campaigns.csvimport import add_arguments, run_command
from campaigns.imports import COSTS, PlatformCostKind
from campaigns.models import AdPlatform


def rate(text: str) -> tuple[str, Decimal]:
    code, _, value = text.partition("=")
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = Decimal("NaN")
    if (
        len(code.strip()) != 3
        or not code.strip().isalpha()
        or not number.is_finite()
        or number <= 0
    ):
        raise CommandError(f"--rate takes CODE=RATE, like USD=0.92; got {text!r}.")
    return code.strip().upper(), number


class Command(BaseCommand):
    help = (
        "Import campaign costs from a CSV file (ours, or with --format an ad platform's daily "
        "campaign export); rejected rows are listed with their line and reason."
    )

    def add_arguments(self, parser) -> None:
        add_arguments(parser)
        parser.add_argument(
            "--format",
            choices=AdPlatform.values,
            help="An ad platform's export: its spend per campaign and day becomes ad spend; "
            "importing an overlapping range again replaces those days.",
        )
        parser.add_argument(
            "--rate",
            action="append",
            default=[],
            metavar="CODE=RATE",
            help="Our currency per unit of another (USD=0.92), for an export in that currency.",
        )

    def handle(self, *args, **options) -> None:
        rates = dict(rate(text) for text in options["rate"])
        if options["format"]:
            kind = PlatformCostKind(options["format"], rates=rates)
        elif rates:
            raise CommandError("--rate applies to an ad platform's export (--format).")
        else:
            kind = COSTS
        run_command(self, kind, options)
