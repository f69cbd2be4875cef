"""Pieces that keep the admin fast on a million rows."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property

# Past this many matching rows the admin says "10,000+" instead of counting them all.
COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """A paginator that never counts a whole big table.

    Unfiltered, on PostgreSQL, the count is the planner's estimate (pg_class.reltuples: free).
    Otherwise it counts at most COUNT_CAP + 1 rows (`SELECT COUNT(*) FROM (... LIMIT 10001)`),
    which costs a bounded index scan however large the table or the filter's result.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is None:
            return len(queryset)
        if connection.vendor == "postgresql" and not query.where:
            estimate = _estimated_rows(queryset.model._meta.db_table)
            if estimate > COUNT_CAP:
                return estimate
        return queryset.values("pk").order_by()[: COUNT_CAP + 1].count()


def _estimated_rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
        row = cursor.fetchone()
    return max(int(row[0]), 0) if row else 0
