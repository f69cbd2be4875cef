"""The funnel's cohort durations read the partial covering indexes on PostgreSQL.

Issue 11: at 1M contacts the full-year median of days from entry to lead read the lead stamp's
index and then 30,000 table pages (0.9 s); `contact_lead_cohort_idx` and
`contact_customer_cohort_idx` hold the period's entrants that reached the stage with every column
the durations need, so the statement that fills the durations' day cache reads the indexes
alone. Pinned on a table large enough for the planner to prefer them.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.models import Contact
from reports.metrics import funnel_report

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ROWS = 30_000
START = dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def entrants(db):
    def person(i: int) -> Contact:
        entered = START + dt.timedelta(minutes=17 * i)
        lead = entered + dt.timedelta(days=i % 9) if i % 5 == 0 else None
        customer = lead + dt.timedelta(days=3) if lead and i % 15 == 0 else None
        return Contact(
            email=f"person{i}@example.com",
            stage="customer" if customer else "lead" if lead else "follower",
            entered_at=entered,
            became_lead_at=lead,
            became_qualified_at=customer,
            became_customer_at=customer,
        )

    Contact.objects.bulk_create((person(i) for i in range(ROWS)), batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_contact")


def test_the_durations_read_the_cohort_indexes(entrants):
    with CaptureQueriesContext(connection) as captured:
        funnel_report(start=dt.date(2025, 3, 1), end=dt.date(2025, 5, 31))
    medians = [
        q["sql"]
        for q in captured.captured_queries
        if "UNION ALL" in q["sql"] and "leads_contact" in q["sql"]
    ]
    assert len(medians) == 1, "one statement for both stages"
    plans = []
    with connection.cursor() as cursor:
        for sql in medians:
            cursor.execute("EXPLAIN " + sql)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    assert "Index Only Scan using contact_lead_cohort_idx" in plans[0], plans
    assert "Index Only Scan using contact_customer_cohort_idx" in plans[0], plans
