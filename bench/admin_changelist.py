"""The contacts changelist at scale: queries and server time of the pages sales use most, and
of the search with each kind of term (issue 11: a full name, a part of an email, a phone typed
another way, a company, a handle), through the admin and the API's `search` filter.

Run against any database (it adds one superuser, "bench-admin", and an API key for it, and
changes nothing else):
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
from leads.selectors import contacts_search  # noqa: E402


def dashed(e164: str) -> str:
    """+15550000123 as a person types it: 555-000-0123."""
    digits = e164.removeprefix("+1")
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}" if len(digits) == 10 else e164


def search_terms() -> dict[str, str]:
    """One term of each kind, from real rows near the end of the table (a recent contact)."""
    recent = Contact.objects.order_by("-id")
    named = recent.exclude(last_name="").values("first_name", "last_name").first() or {}
    emailed = recent.exclude(email="").values_list("email", flat=True).first() or "x@example.com"
    phoned = recent.exclude(phone_e164="").values_list("phone_e164", flat=True).first() or ""
    company = recent.exclude(company="").values_list("company", flat=True).first() or "Acme"
    handle = recent.exclude(handle="").values_list("handle", flat=True).first() or "@nobody"
    return {
        "name": f"{named.get('first_name', 'Ada')} {named.get('last_name', 'Lovelace')}",
        "email part": emailed.split("@")[0],
        "phone": dashed(phoned) or "555-000-0010",
        "company": company,
        "handle": handle,
    }


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
    errors += bench_search(client)
    # A time measured on an error page measures nothing.
    print(f"errors: {errors}")
    return 1 if errors else 0


def bench_search(client: Client, runs: int = 5) -> int:
    """Median time of each kind of search term: the selector alone (first page of 50), the admin
    changelist and the API list. Returns the number of failed requests."""
    from accounts.services import api_key_create

    user = get_user_model().objects.get(username="bench-admin")
    _, key = api_key_create(user=user, name="bench search")
    api = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Token {key}")
    print()
    print(
        f"{'search term':<14}{'term':<34}{'found':>6}{'query ms':>10}{'admin ms':>10}{'API ms':>9}"
    )
    errors = 0
    for kind, term in search_terms().items():
        query_ms, admin_ms, api_ms = [], [], []
        for _ in range(runs):
            started = time.perf_counter()
            found = len(contacts_search(Contact.objects.order_by("-id"), term)[:50])
            query_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            response = client.get("/admin/leads/contact/", {"q": term})
            admin_ms.append((time.perf_counter() - started) * 1000)
            errors += response.status_code != 200
            started = time.perf_counter()
            response = api.get("/api/v1/contacts/", {"search": term})
            api_ms.append((time.perf_counter() - started) * 1000)
            errors += response.status_code != 200
        errors += found == 0  # each term is taken from a row: finding nothing is a failure
        print(
            f"{kind:<14}{term[:32]:<34}{found:>6}{statistics.median(query_ms):>10.1f}"
            f"{statistics.median(admin_ms):>10.1f}{statistics.median(api_ms):>9.1f}"
        )
    return errors


if __name__ == "__main__":
    sys.exit(main())
