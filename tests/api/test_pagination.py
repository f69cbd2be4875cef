"""Lists: stable order, cursor pages, page sizes clamped, queries independent of page size."""

from __future__ import annotations

import pytest

from tests.factories import ContactFactory, PurchaseFactory, TouchpointFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/api/v1/contacts/", "/api/v1/touchpoints/", "/api/v1/purchases/"]
)
def test_cursor_pages_walk_every_row_once(api, path):
    for _ in range(7):
        PurchaseFactory(contact=TouchpointFactory().contact)
    seen, url = [], f"{path}?page_size=3"
    while url:
        page = api.get(url).json()
        assert "count" not in page  # a cursor never counts the table
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    "path",
    ["/api/v1/contacts/", "/api/v1/touchpoints/", "/api/v1/purchases/", "/api/v1/campaigns/"],
)
def test_query_count_does_not_depend_on_page_size(api, path, django_assert_max_num_queries):
    for _ in range(30):
        PurchaseFactory(contact=TouchpointFactory().contact)
    with django_assert_max_num_queries(8) as small:
        api.get(f"{path}?page_size=2")
    with django_assert_max_num_queries(len(small.captured_queries)):
        api.get(f"{path}?page_size=30")


def test_page_size_is_clamped(api, monkeypatch):
    from config.api import MAX_PAGE_SIZE, NewestFirstCursor, PagePagination

    assert NewestFirstCursor.max_page_size == PagePagination.max_page_size == MAX_PAGE_SIZE == 500
    ContactFactory.create_batch(3)
    response = api.get("/api/v1/contacts/?page_size=100000")
    assert response.status_code == 200 and len(response.json()["results"]) == 3
    # With a ceiling of 2 the same request gets 2 rows and a next page: the ceiling is applied.
    monkeypatch.setattr(NewestFirstCursor, "max_page_size", 2)
    page = api.get("/api/v1/contacts/?page_size=100000").json()
    assert len(page["results"]) == 2 and page["next"]
