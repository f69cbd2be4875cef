"""Prepare the local demo: one login per role and, on an empty database, a year of demo data."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import BaseCommand, call_command

from leads.models import Contact

DEMO_USERS = [
    # username, group (None: superuser), what they see
    ("admin", None, "everything"),
    ("sales", "Sales", "the contacts admin"),
    ("marketing", "Marketing", "campaigns, costs and reports"),
]


def new_password() -> str:
    """A random password that the installation's password rules accept (a random draw can, very
    rarely, look like a word followed by digits: draw again)."""
    while True:
        password = secrets.token_urlsafe(12)  # 16 characters
        try:
            validate_password(password)
        except ValidationError:
            continue
        return password


class Command(BaseCommand):
    help = "Create the demo logins and, when there are no contacts yet, the demo data."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--contacts", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, contacts: int, seed: int, **options) -> None:
        login_file = Path(settings.DATA_DIR) / "demo-login.txt"
        login_file.parent.mkdir(parents=True, exist_ok=True)
        password = None
        if login_file.exists():
            for line in login_file.read_text().splitlines():
                if "password:" in line:
                    password = line.split("password:", 1)[1].strip()
        password = password or new_password()

        User = get_user_model()
        for username, group, _ in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"email": f"{username}@example.com", "is_staff": True},
            )
            if created:
                user.is_superuser = group is None
                user.set_password(password)
                user.save()
                if group:
                    user.groups.add(Group.objects.get(name=group))
        lines = [f"  Login:     {name} ({role})" for name, _, role in DEMO_USERS]
        lines.append(f"  password:  {password}")
        login_file.write_text("\n".join(lines) + "\n")
        login_file.chmod(0o600)

        if Contact.objects.exists():
            self.stdout.write("Demo data already present; keeping it.")
        else:
            call_command("seed_demo", contacts=contacts, seed=seed, stdout=self.stdout)
