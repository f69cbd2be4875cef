"""Migration 0010 gives the phones already stored their E.164 form (issue 11), and the search
finds them by it at once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("leads", "0009_owner_is_sales")]
AFTER = [("leads", "0010_search_and_contact_points")]


@pytest.mark.django_db(transaction=True)
def test_existing_phones_get_their_e164_form():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("leads", "Contact")
    dashed = old.objects.create(first_name="Omar", phone="555-000-0010")
    foreign = old.objects.create(first_name="Ivana", phone="+44 20 7946 0958")
    junk = old.objects.create(first_name="Junk", phone="ask reception")
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps.get_model("leads", "Contact")
        e164 = dict(new.objects.values_list("first_name", "phone_e164"))
        assert e164 == {"Omar": "+15550000010", "Ivana": "+442079460958", "Junk": ""}
        found = new.objects.filter(search_text__contains="5550000010")
        assert list(found.values_list("pk", flat=True)) == [dashed.pk]
        assert {foreign.pk, junk.pk}.isdisjoint(found.values_list("pk", flat=True))
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
