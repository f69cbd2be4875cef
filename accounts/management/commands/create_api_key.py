"""Issue an API key for an integration and print it once."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandError
from django.utils import timezone

from accounts.services import api_key_create
from campaigns.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create an API key acting as USERNAME (its role groups decide what the key may do) and "
        "print it. Only its hash is stored: copy it now."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--name", required=True, help="The integration that uses it, e.g. 'Shopify store'."
        )
        parser.add_argument("--expires", type=int, metavar="DAYS", help="Expire after DAYS days.")

    def handle(self, *args, username: str, name: str, expires: int | None, **options) -> None:
        try:
            user = get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        if expires is not None and expires < 1:
            raise CommandError("--expires must be a whole number of days, at least 1.")
        expires_at = timezone.now() + dt.timedelta(days=expires) if expires else None
        try:
            api_key, raw_key = api_key_create(user=user, name=name, expires_at=expires_at)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        if not user.is_superuser and not user.groups.exists():
            self.stderr.write(
                f"Note: {username} is in no role group; the key can read and write nothing yet."
            )
        # The key alone on stdout, so scripts can capture it: KEY=$(manage.py create_api_key ...)
        self.stdout.write(raw_key)
        until = (
            timezone.localtime(expires_at).isoformat(timespec="minutes") if expires_at else "never"
        )
        self.stderr.write(
            f"API key {api_key.prefix} ({api_key.name}) for {username}; expires: {until}. "
            "It is shown only now."
        )
