"""Read-side queries on contacts shared by the admin and the API."""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from leads.rules import email_key

EMAIL_LIKE = re.compile(r"^[^@\s]+@[^@\s]+$")
PREFIX_FIELDS = ("first_name", "last_name", "company", "handle")


def contacts_search(queryset: QuerySet, term: str) -> QuerySet:
    """Find contacts the way sales people type: an email exactly, anything else as a prefix.

    Both forms hit an index: the unique lower(email) index (its condition `email <> ''` is
    repeated so the planner may use the partial index) and the lower(<field>) indexes, which
    serve `LIKE 'prefix%'` (on PostgreSQL with a C collation, as `bin/demo` and CI create).
    """
    term = term.strip()
    if not term:
        return queryset
    lowered = term.lower()
    if EMAIL_LIKE.match(term):
        # The stored form's key (an international domain in its ASCII form), as every door's.
        return (
            queryset.exclude(email="")
            .annotate(email_lower=Lower("email"))
            .filter(email_lower=email_key(term))
        )
    annotations = {f"{name}_lower": Lower(name) for name in PREFIX_FIELDS}
    condition = Q(phone__startswith=term)
    for name in PREFIX_FIELDS:
        condition |= Q(**{f"{name}_lower__startswith": lowered})
    return queryset.annotate(**annotations).filter(condition)
