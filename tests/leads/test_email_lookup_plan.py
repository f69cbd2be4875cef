"""The email look-up behind walk-ins and contact creates uses the unique lower(email) index.

Audit: a batch of 1,000 walk-in purchases timed out at 100k contacts because each look-up
scanned the table (48 ms each). The plan is pinned here on a table large enough for the
planner to prefer the index when the query lets it: every look-up of a contact by email, in
the per-event and the batch paths, must be an index scan on `contact_email_unique_ci`, and
the look-up of a secondary email (issue 11: emails kept by a merge) one on
`contactemail_email_unique_ci`.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.bulk import BatchRefs
from leads.models import Contact, ContactEmail
from leads.rules import contact_by_email

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ROWS = 30_000


@pytest.fixture
def many_contacts(db):
    people = Contact.objects.bulk_create(
        Contact(email=f"person{i}@example.com", first_name="P") for i in range(ROWS)
    )
    # Some blank emails too: the partial index leaves them out.
    blanks = Contact.objects.bulk_create(
        Contact(email="", handle=f"@h{i}") for i in range(ROWS // 10)
    )
    # Secondary emails, as merges keep them: as many as contacts.
    ContactEmail.objects.bulk_create(
        ContactEmail(contact=c, email=f"old{i}@example.com")
        for i, c in enumerate([*people, *blanks])
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_contact")
        cursor.execute("ANALYZE leads_contactemail")


def plans_of(lookup) -> list[tuple[str, str]]:
    """EXPLAIN of every SELECT on the contacts or secondary emails table that `lookup()` runs,
    with the index it must use."""
    with CaptureQueriesContext(connection) as queries:
        lookup()
    plans = []
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            sql = query["sql"]
            if sql.startswith("SELECT") and "leads_contact" in sql:
                cursor.execute("EXPLAIN " + sql)
                if 'FROM "leads_contactemail"' in sql:
                    index = "contactemail_email_unique_ci"
                elif '"leads_contact"."id" IN' in sql or '"leads_contact"."id" =' in sql:
                    index = "leads_contact_pkey"  # the owner of a secondary email, by id
                else:
                    index = "contact_email_unique_ci"
                plans.append((index, "\n".join(row[0] for row in cursor.fetchall())))
    assert plans, "the look-up ran no query on the contacts table"
    return plans


LOOKUPS = {
    "one": lambda: contact_by_email("Person77@Example.com"),
    "locked": lambda: contact_by_email("person77@example.com", lock=True),
    "unknown": lambda: contact_by_email("nobody@example.com"),
    "secondary": lambda: contact_by_email("Old7@example.com"),
    "batch": lambda: BatchRefs(
        [{"email": f"person{i}@example.com"} for i in range(50)] + [{"email": "walkin@example.com"}]
    ).contact_by_email("walkin@example.com"),
    "batch secondary": lambda: BatchRefs(
        [{"email": f"old{i}@example.com"} for i in range(50)] + [{"email": "walkin@example.com"}]
    ).contact_by_email("old3@example.com"),
}


@pytest.mark.usefixtures("many_contacts")
def test_email_lookups_use_the_unique_index():
    # One table for every look-up (filling it is the slow part).
    for name, lookup in LOOKUPS.items():
        for index, plan in plans_of(lookup):
            assert index in plan, (name, plan)
            assert "Seq Scan" not in plan, (name, plan)
