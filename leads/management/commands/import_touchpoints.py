"""`manage.py import_touchpoints FILE`: touchpoints from a CSV file (docs/imports.md)."""

from django.core.management.base import BaseCommand

from campaigns.csvimport import add_arguments, run_command
from leads.imports import KINDS


class Command(BaseCommand):
    help = (
        "Import touchpoints from a CSV file; rejected rows are listed with their line and reason."
    )

    def add_arguments(self, parser) -> None:
        add_arguments(parser)

    def handle(self, *args, **options) -> None:
        run_command(self, KINDS["touchpoints"], options)
