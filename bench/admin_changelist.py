"""The contacts changelist at scale: queries and server time of the pages sales use most.

Run against any database (it adds one superuser, "bench-admin", and changes nothing else):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/roi_bench DJANGO_DEBUG=1 \\
        .venv/bin/python bench/admin_changelist.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from leads.models import Contact  # noqa: E402


def main() -> int:
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    some = (
        Contact.objects.exclude(email="").order_by("-id").values("email", "last_name").first() or {}
    )
    pages = {
        "plain": "/admin/leads/contact/",
        "stage=customer": "/admin/leads/contact/?stage=customer",
        "channel=pinterest": "/admin/leads/contact/?source_channel__id__exact=5",
        "page 50": "/admin/leads/contact/?p=50",
        "search email": f"/admin/leads/contact/?q={some.get('email', 'x@example.com')}",
        "search name": f"/admin/leads/contact/?q={some.get('last_name', 'Lovelace')}",
        "contact page": f"/admin/leads/contact/{Contact.objects.order_by('-id').values_list('id', flat=True).first()}/change/",
    }
    print(f"{Contact.objects.count():,} contacts on {connection.vendor}")
    print(f"{'page':<20}{'status':>7}{'queries':>9}{'median ms':>11}{'max ms':>9}")
    errors = 0
    for name, url in pages.items():
        timings = []
        for _ in range(5):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
                errors += response.status_code != 200
        print(
            f"{name:<20}{response.status_code:>7}{len(queries.captured_queries):>9}"
            f"{statistics.median(timings):>11.1f}{max(timings):>9.1f}"
        )
    # A time measured on an error page measures nothing.
    print(f"errors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
