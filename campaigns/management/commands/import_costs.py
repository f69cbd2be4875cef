"""`manage.py import_costs FILE`: campaign costs from a CSV file (docs/imports.md)."""

from django.core.management.base import BaseCommand

from campaigns.csvimport import add_arguments, run_command
from campaigns.imports import COSTS


class Command(BaseCommand):
    help = "Import campaign costs from a CSV file; rejected rows are listed with their reason."

    def add_arguments(self, parser) -> None:
        add_arguments(parser)

    def handle(self, *args, **options) -> None:
        run_command(self, COSTS, options)
