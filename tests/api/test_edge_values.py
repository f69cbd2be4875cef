"""Edge values at every door (Hypothesis): no 5xx, and a refused request writes no row.

Every write operation of the API gets one of its fields (or the whole body, or a path
parameter) replaced by an edge value; every filter and query parameter of the API, the report
pages' parameters and the admin changelists' search and filters get one as well. The edges are
the ones that used to reach the database or the date arithmetic: NUL and other control
characters, lone surrogates, years 1 and 9999 with extreme offsets, deep JSON, values of the
wrong type, huge and negative numbers, letters whose case folds differently in Python and the
databases, very long strings.

Derandomized with a fixed number of examples per test, so CI time stays put;
`EDGE_EXAMPLES=2000` runs more.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote, urlencode

import pytest
from django.apps import apps
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.api import MAX_NESTING, nesting
from leads.models import Via
from leads.services import contact_create
from tests.factories import (
    CampaignFactory,
    CostFactory,
    CouponFactory,
    EngagementStatFactory,
    UserFactory,
    channel,
)

EXAMPLES = int(os.environ.get("EDGE_EXAMPLES", "100"))
EDGE_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CASE_FOLDING = ["İ", "ı", "ß", "ẞ", "Σ", "ς", "σ", "K", "ﬁ", "\u0307"]  # noqa: RUF001
EDGE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x1f\x7f",
    "\t\r\n",
    "\ud800",
    "a\udfffb",
    "\u202e",
    "\ufeff",
    "İSTANBUL@ex.com",
    "ıstanbul@ex.com",  # noqa: RUF001
    "straße@ex.com",
    "ΟΔΟΣ@ex.com",
    "x@ΟΔΟΣ.gr",
    "a@b",
    "1_000",
    "1e999",
    "-0",
    "NaN",
    "Infinity",
    "0x10",
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999+14:00",
    "2026-02-30",
    "1899-12-31",
    "3000-01-01T00:00:00Z",
    "x" * 10_000,
    "é" * 300,
    "%00",
    "../",
    "cD1hYmM=",
]
EDGE_NUMBERS = [0, -1, 1, 2**31, 2**63, 2**64, -(2**63), 10**30, 1.5, -0.0, 1e308]


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


json_scalars = st.one_of(
    st.sampled_from(EDGE_TEXT),
    st.sampled_from(EDGE_NUMBERS),
    st.booleans(),
    st.none(),
    st.text(
        alphabet=st.one_of(
            st.characters(codec=None, categories=["Cc", "Cs", "Lu", "Ll", "Nd", "Zs"]),
            st.sampled_from(CASE_FOLDING),
        ),
        max_size=40,
    ),
    st.integers(min_value=-(2**70), max_value=2**70),
)
edge_values = st.one_of(
    json_scalars,
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.sampled_from(["a", "\x00", "type", "email"]), json_scalars, max_size=3),
    st.sampled_from([nested(40), nested(500), {"a": nested(31)}]),
)


# The report caches fill on reads by design.
CACHES = {
    "reports.AttributedDay",
    "reports.ContactDay",
    "reports.DurationDay",
    "reports.PathDay",
    "reports.MonthRollup",
    "reports.DayChange",
}


def row_counts() -> dict[str, int]:
    """Rows of every model that holds data (not the caches a read may fill)."""
    return {
        model._meta.label: model.objects.count()
        for app in ("campaigns", "leads", "reports")
        for model in apps.get_app_config(app).get_models()
        if model._meta.label not in CACHES
    }


def as_query(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def url(path: str, params: dict[str, str]) -> str:
    """`path?params` as a client's bytes: a lone surrogate goes as its (invalid) UTF-8 bytes."""
    return f"{path}?{urlencode(params, errors='surrogatepass')}"


@pytest.fixture
def world(db):
    """One of each row the operations name."""
    campaign = CampaignFactory(channel=channel("pinterest"), utm_campaign="spring")
    cost = CostFactory(campaign=campaign)
    CouponFactory(code="PIN10", campaign=campaign)
    EngagementStatFactory(campaign=campaign)
    contact = contact_create(email="edge@example.com", source="fb", via=Via.API)
    other = contact_create(email="other@example.com", via=Via.API)
    return {"campaign": campaign.pk, "cost": cost.pk, "contact": contact.pk, "other": other.pk}


@pytest.fixture
def boss(client, db):
    client.force_login(UserFactory(username="boss", is_superuser=True, is_staff=True))
    return client


def writes(w: dict) -> list[tuple[str, str, dict]]:
    """(method, path, a valid body) of every write operation."""
    c, k, p = w["campaign"], w["contact"], w["cost"]
    return [
        ("post", "/api/v1/channels/", {"slug": "edge", "name": "Edge", "kind": "social"}),
        ("patch", "/api/v1/channels/x/", {"name": "X"}),
        (
            "post",
            "/api/v1/campaigns/",
            {"name": "n", "channel": "x", "starts_on": "2026-03-01", "budget": "10.00"},
        ),
        ("patch", f"/api/v1/campaigns/{c}/", {"target_cost_per_lead": "1.00", "ends_on": None}),
        (
            "put",
            f"/api/v1/campaigns/{c}/",
            {"name": "m", "channel": "pinterest", "starts_on": "2026-01-01"},
        ),
        ("post", "/api/v1/costs/", {"campaign": c, "incurred_on": "2026-03-01", "amount": "1.00"}),
        ("patch", f"/api/v1/costs/{p}/", {"amount": "2.00", "category": "tools"}),
        ("post", "/api/v1/coupons/", {"code": "EDGE1", "campaign": c, "max_redemptions": 3}),
        ("patch", "/api/v1/coupons/pin10/", {"valid_until": "2030-01-01T00:00:00Z"}),
        ("post", "/api/v1/engagement/", {"campaign": c, "date": "2026-03-01", "clicks": 3}),
        ("post", "/api/v1/contacts/", {"email": "new@example.com", "utm_source": "fb"}),
        ("patch", f"/api/v1/contacts/{k}/", {"first_name": "Ada", "email": "edge@example.com"}),
        ("post", f"/api/v1/contacts/{k}/transition/", {"stage": "lead"}),
        ("post", f"/api/v1/contacts/{k}/merge/", {"other": w["other"]}),
        ("post", "/api/v1/touchpoints/", {"contact": k, "channel": "x", "kind": "click"}),
        ("post", "/api/v1/purchases/", {"email": "edge@example.com", "amount": "5.00"}),
        ("post", "/api/v1/reports/", {"start": "2026-03-01", "end": "2026-03-31"}),
    ]


EVENT_BODIES = {
    "contact": {"external_id": "e1", "email": "ev@example.com", "utm_source": "ig"},
    "touch": {"external_id": "e2", "email": "edge@example.com", "channel": "x"},
    "purchase": {"external_id": "e3", "email": "edge@example.com", "amount": "3.00"},
    "engagement": {"campaign": 1, "date": "2026-03-02", "impressions": 10},
}
FIELDS = [
    "email", "amount", "discount", "occurred_at", "entered_at", "source_channel", "channel",
    "coupon", "campaign", "contact", "utm_source", "utm_campaign", "tracking_phone", "metadata",
    "external_id", "stage", "kind", "date", "impressions", "first_name", "phone", "handle",
    "budget", "starts_on", "ends_on", "name", "slug", "code", "valid_from", "valid_until",
    "incurred_on", "category", "max_redemptions", "target_leads", "target_cost_per_lead", "at",
    "force", "other", "owner", "referred_by", "start", "end", "group_by", "attribution",
    "granularity", "type", "events", "note", "notes", "objective",
]  # fmt: skip


@pytest.mark.django_db
@given(data=st.data())
@EDGE_SETTINGS
def test_writes_refuse_edge_values_without_a_5xx_or_a_row(api, world, data):
    method, path, body = data.draw(st.sampled_from(writes(world)), label="operation")
    mode = data.draw(st.sampled_from(["field", "field", "two", "body", "path"]), label="mode")
    value = data.draw(edge_values, label="value")
    if mode == "body":
        body = value
    elif mode == "path":
        path = (
            path.rstrip("/").rsplit("/", 1)[0]
            + "/"
            + quote(as_query(value), safe="", errors="surrogatepass")
            + "/"
        )
        if path.endswith("//"):
            path = path[:-1]
    else:
        for _ in range(1 if mode == "field" else 2):
            field = data.draw(st.sampled_from(FIELDS), label="field")
            body = {**body, field: data.draw(edge_values) if mode == "two" else value}
    before = row_counts()
    response = api.generic(method.upper(), path, json.dumps(body), content_type="application/json")
    assert response.status_code < 500, (method, path, body, response.content[:300])
    if response.status_code >= 400:
        assert row_counts() == before, (method, path, body)


@pytest.mark.django_db
@given(data=st.data())
@EDGE_SETTINGS
def test_batch_events_with_edge_values_fail_alone(api, world, data):
    kind = data.draw(st.sampled_from([*EVENT_BODIES, "odd"]), label="type")
    event = {"type": kind, **EVENT_BODIES.get(kind, {})}
    if kind == "engagement":
        event["campaign"] = world["campaign"]
    for _ in range(data.draw(st.integers(1, 2), label="fields")):
        event[data.draw(st.sampled_from(FIELDS), label="field")] = data.draw(edge_values)
    if data.draw(st.booleans(), label="whole event"):
        event = data.draw(edge_values, label="event")
    good = {"type": "contact", "external_id": "good", "email": "good@example.com"}
    before = row_counts()
    body = {"events": [event, good]}
    response = api.generic("POST", "/api/v1/events/", json.dumps(body), "application/json")
    if nesting(body) > MAX_NESTING:
        # JSON this deep is refused by the parser, before any event is read.
        assert response.status_code == 400 and row_counts() == before
        return
    assert response.status_code == 200, (event, response.content[:300])
    bad, ok = response.json()["results"]
    assert ok["status"] in ("created", "unchanged")
    if bad["status"] == "error":
        assert bad["errors"] and 400 <= bad["code"] < 500, bad
        after = row_counts()
        created = {k: after[k] - before[k] for k in after if after[k] != before[k]}
        # Only the good contact's rows: itself and its entry in the history.
        assert set(created) <= {"leads.Contact", "leads.StageChange"}, created
        assert created.get("leads.Contact", 0) == (ok["status"] == "created")


QUERIES = {
    "/api/v1/channels/": ["page", "page_size"],
    "/api/v1/campaigns/": ["channel", "objective", "active_on", "page", "page_size"],
    "/api/v1/costs/": ["campaign", "category", "incurred_after", "incurred_before", "page"],
    "/api/v1/coupons/": ["campaign", "active", "page"],
    "/api/v1/engagement/": ["campaign", "date_after", "date_before", "page"],
    "/api/v1/contacts/": [
        "stage", "source_channel", "source_campaign", "coupon", "owner", "search",
        "entered_after", "entered_before", "lead_after", "lead_before", "customer_after",
        "customer_before", "cursor", "page_size",
    ],
    "/api/v1/touchpoints/": [
        "contact", "channel", "campaign", "kind", "occurred_after", "occurred_before", "cursor",
        "page_size",
    ],
    "/api/v1/purchases/": [
        "contact", "coupon", "occurred_after", "occurred_before", "cursor", "page_size",
    ],
    "/api/v1/reports/": ["page", "page_size"],
    "/api/v1/reports/roi/": ["start", "end", "group_by", "attribution", "lookback_days"],
    "/api/v1/reports/funnel/": ["start", "end", "group_by", "attribution", "lookback_days"],
    "/api/v1/reports/paths/": ["start", "end", "channel", "lookback_days", "top"],
}  # fmt: skip
PERIOD = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.mark.django_db
@given(data=st.data())
@EDGE_SETTINGS
def test_api_queries_take_edge_values_without_a_5xx(api, world, data):
    path = data.draw(st.sampled_from(sorted(QUERIES)), label="path")
    params = dict(PERIOD) if "/reports/" in path and path.count("/") > 4 else {}
    for _ in range(data.draw(st.integers(1, 3), label="params")):
        params[data.draw(st.sampled_from(QUERIES[path]), label="param")] = as_query(
            data.draw(edge_values)
        )
    response = api.get(url(path, params))
    assert response.status_code < 500, (path, params, response.content[:300])
    if response.status_code >= 400:
        assert response.json(), (path, params)


PAGES = [
    "/reports/",
    "/reports/attribution/",
    "/reports/export/channels.csv",
    "/reports/export/attribution.csv",
]
PAGE_PARAMS = ["preset", "start", "end", "attribution", "reference", "group_by", "page"]
ADMIN = {
    "/admin/leads/contact/": [
        "q", "stage__exact", "source_channel__id__exact", "source_campaign__id__exact",
        "coupon__id__exact", "owner__id__exact", "o", "p",
    ],
    "/admin/leads/touchpoint/": [
        "q", "kind__exact", "channel__id__exact", "campaign__id__exact", "occurred_at__gte",
        "occurred_at__lt", "o", "p",
    ],
    "/admin/leads/purchase/": [
        "q", "coupon__id__exact", "occurred_at__gte", "occurred_at__lt", "occurred_at__isnull",
        "o", "p",
    ],
}  # fmt: skip


@pytest.mark.django_db
@given(data=st.data())
@EDGE_SETTINGS
def test_pages_and_admin_lists_take_edge_values_without_a_5xx(boss, world, data):
    targets = {**dict.fromkeys(PAGES, PAGE_PARAMS), **ADMIN}
    targets[f"/reports/campaigns/{world['campaign']}/"] = PAGE_PARAMS
    targets["/reports/campaigns/"] = [*PAGE_PARAMS, "sort"]
    targets["/reports/paths/"] = [*PAGE_PARAMS, "channel"]
    targets["/reports/paths/export.csv"] = [*PAGE_PARAMS, "channel"]
    path = data.draw(st.sampled_from(sorted(targets)), label="path")
    params = {}
    for _ in range(data.draw(st.integers(1, 3), label="params")):
        params[data.draw(st.sampled_from(targets[path]), label="param")] = as_query(
            data.draw(edge_values)
        )
    if path.startswith("/reports/") and "preset" not in params:
        params["preset"] = "custom"
    before = row_counts()
    response = boss.get(url(path, params))
    assert response.status_code < 500, (path, params)
    assert row_counts() == before
