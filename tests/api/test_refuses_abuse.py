"""Issue 10's audit of bad input: each probe that answered 500 now answers a 4xx with a message
and writes nothing (or, inside a batch, fails its own event only)."""

from __future__ import annotations

import base64
import json

import pytest
from django.apps import apps

from leads.models import Contact, Purchase, StageChange, Via
from leads.services import contact_create
from tests.factories import CampaignFactory, UserFactory

pytestmark = pytest.mark.django_db

NUL = "\x00"


def row_counts() -> dict[str, int]:
    """Rows of every model of the project's apps: a refused request changes none of them."""
    return {
        model._meta.label: model.objects.count()
        for app in ("campaigns", "leads", "reports")
        for model in apps.get_app_config(app).get_models()
    }


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(username="boss", is_superuser=True, is_staff=True))
    return client


# --- NUL characters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,body,field",
    [
        (
            "/api/v1/contacts/",
            {"email": "a@example.com", "source_channel": "a" + NUL},
            "source_channel",
        ),
        ("/api/v1/contacts/", {"email": "a@example.com", "coupon": "A" + NUL}, "coupon"),
        ("/api/v1/contacts/", {"email": "a@example.com", "utm_source": "fb" + NUL}, "utm_source"),
        ("/api/v1/touchpoints/", {"email": "a" + NUL + "@example.com", "channel": "x"}, "email"),
        ("/api/v1/touchpoints/", {"contact": 1, "channel": "x" + NUL}, "channel"),
        ("/api/v1/purchases/", {"email": "b@example.com", "amount": "5", "coupon": NUL}, "coupon"),
        (
            "/api/v1/campaigns/",
            {"name": "n", "channel": "x" + NUL, "starts_on": "2026-03-01"},
            "channel",
        ),
        ("/api/v1/coupons/", {"code": "A" + NUL, "campaign": 1}, "code"),
        ("/api/v1/contacts/", {"email": "a@example.com", "first_name": "\ud800"}, "first_name"),
    ],
)
def test_nul_and_lone_surrogates_in_json_are_field_errors(api, path, body, field):
    counts = row_counts()
    response = api.generic("POST", path, json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert row_counts() == counts


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/coupons/a%00b/",
        "/api/v1/channels/a%00/",
        "/api/v1/contacts/1%00/",
    ],
)
def test_nul_in_a_path_is_not_found(api, url):
    response = api.get(url)
    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "url,param",
    [
        ("/api/v1/contacts/?source_channel=a%00", "source_channel"),
        ("/api/v1/contacts/?coupon=a%00", "coupon"),
        ("/api/v1/contacts/?search=a%00", "search"),
        ("/api/v1/touchpoints/?channel=fb%00", "channel"),
        ("/api/v1/campaigns/?channel=fb%00", "channel"),
        ("/api/v1/purchases/?coupon=%00", "coupon"),
    ],
)
def test_nul_in_a_query_string_is_a_400_naming_the_parameter(api, url, param):
    response = api.get(url)
    assert response.status_code == 400
    assert param in response.json()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/leads/contact/?q=a%00",
        "/admin/leads/contact/?source_channel__id__exact=%00",
        "/admin/leads/touchpoint/?q=%00&kind=%00",
        "/admin/leads/purchase/?q=x%00",
        "/admin/leads/purchase/?coupon__id__exact=1%00",
        "/reports/?preset=custom&start=2026-01-01%00",
    ],
)
def test_nul_in_the_admin_and_pages_is_a_400(admin_client, url):
    assert admin_client.get(url).status_code == 400


# --- extreme dates ----------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01"])
@pytest.mark.parametrize(
    "path", ["/api/v1/reports/roi/", "/api/v1/reports/funnel/", "/api/v1/reports/paths/"]
)
def test_report_periods_at_the_edges_of_the_calendar_are_400(api, path, day):
    for start, end in ((day, day), ("2026-01-01", day) if day > "2026" else (day, "2026-01-01")):
        response = api.get(path, {"start": start, "end": end})
        assert response.status_code == 400, (start, end, response.content)
        assert set(response.json()) & {"start", "end"}, response.json()


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_saved_report_at_the_edge_of_the_calendar_is_refused(api, day):
    counts = row_counts()
    response = api.post(
        "/api/v1/reports/", {"start": day, "end": day, "group_by": "channel"}, format="json"
    )
    assert response.status_code == 400 and "start" in response.json()
    assert row_counts() == counts


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
@pytest.mark.parametrize(
    "path,params",
    [
        (
            "/api/v1/contacts/",
            (
                "entered_after",
                "entered_before",
                "lead_after",
                "lead_before",
                "customer_after",
                "customer_before",
            ),
        ),
        ("/api/v1/touchpoints/", ("occurred_after", "occurred_before")),
        ("/api/v1/purchases/", ("occurred_after", "occurred_before")),
        ("/api/v1/costs/", ("incurred_after", "incurred_before")),
        ("/api/v1/engagement/", ("date_after", "date_before")),
        ("/api/v1/campaigns/", ("active_on",)),
    ],
)
def test_date_filters_at_the_edges_are_400(api, path, params, day):
    for param in params:
        response = api.get(path, {param: day})
        assert response.status_code == 400, (param, response.content)
        assert param in response.json()


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
@pytest.mark.parametrize(
    "page",
    [
        "/reports/",
        "/reports/attribution/",
        "/reports/export/channels.csv",
        "/reports/export/attribution.csv",
    ],
)
def test_report_pages_refuse_days_at_the_edges(admin_client, page, day):
    response = admin_client.get(page, {"preset": "custom", "start": day, "end": day})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00-14:00",
        "1899-12-31T23:59:59Z",
        "9999-12-31T23:59:59-14:00",
    ],
)
@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/api/v1/contacts/", {"email": "a@example.com"}, "entered_at"),
        ("/api/v1/touchpoints/", {"contact": "CONTACT", "channel": "x"}, "occurred_at"),
        ("/api/v1/purchases/", {"contact": "CONTACT", "amount": "5"}, "occurred_at"),
        ("/api/v1/coupons/", {"code": "EDGE", "campaign": "CAMPAIGN"}, "valid_until"),
    ],
)
def test_datetimes_at_the_edges_are_400(api, path, body, field, moment):
    contact = contact_create(email="c@example.com", via=Via.API)
    campaign = CampaignFactory()
    body = {
        k: contact.pk if v == "CONTACT" else campaign.pk if v == "CAMPAIGN" else v
        for k, v in body.items()
    } | {field: moment}
    counts = row_counts()
    response = api.post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert row_counts() == counts


# --- deep JSON, cursors, bodies over the cap --------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/contacts/", "/api/v1/events/", "/api/v1/touchpoints/"])
def test_json_nested_a_thousand_deep_is_a_400(api, path):
    deep = "[" * 1000 + "]" * 1000
    counts = row_counts()
    response = api.generic(
        "POST",
        path,
        '{"email": "a@example.com", "metadata": ' + deep + "}",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "detail" in response.json()
    deeper = '{"a":' * 100_000 + "1" + "}" * 100_000
    response = api.generic("POST", path, deeper, content_type="application/json")
    assert response.status_code == 400
    assert row_counts() == counts


def _cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "path", ["/api/v1/contacts/", "/api/v1/touchpoints/", "/api/v1/purchases/"]
)
@pytest.mark.parametrize(
    "cursor",
    [
        "cD1hYmM=",
        _cursor("p=abc"),
        _cursor("p=1e5"),
        _cursor("p=" + "9" * 40),
        _cursor("p=-5&r=1"),
        _cursor("o=99999999999999999999&p=1"),
        _cursor("p=\x00"),
        _cursor("o=-1"),
        "%%%",
        "",
    ],
)
def test_forged_cursors_are_refused(api, path, cursor):
    response = api.get(path, {"cursor": cursor})
    assert response.status_code in (200, 400, 404), response.content
    if response.status_code != 200:
        assert response.json()["detail"]


def test_a_body_over_the_cap_is_a_json_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    counts = row_counts()
    response = api.post(
        "/api/v1/contacts/", {"email": "a@example.com", "notes": "x" * 5000}, format="json"
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()
    response = api.post("/api/v1/events/", {"events": [{"notes": "x" * 5000}]}, format="json")
    assert response.status_code == 413 and "detail" in response.json()
    assert row_counts() == counts


# --- the batch: a bad event fails alone -------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"type": ["contact"], "external_id": "x"},
        {"type": {"a": 1}, "external_id": "x"},
        {"type": 7, "external_id": "x"},
        {"type": None},
        [1, 2],
        "contact",
        None,
        {"type": "contact", "external_id": "n1", "email": "n" + NUL + "@example.com"},
        {"type": "contact", "external_id": "n2", "email": "n2@example.com", "coupon": "A" + NUL},
        {"type": "contact", "external_id": "n3", "email": "n3@example.com", "source_channel": NUL},
        {"type": "purchase", "external_id": "n4", "email": "n4@example.com", "amount": "1_000"},
        {"type": "touch", "external_id": "n5", "contact": 10**30, "channel": "x"},
        {
            "type": "contact",
            "external_id": "n6",
            "entered_at": "0001-01-01T00:00:00+14:00",
            "email": "n6@example.com",
        },
        {"type": "contact", "external_id": "n7"},
        {"type": "engagement", "campaign": 1, "date": "9999-12-31"},
    ],
)
def test_a_bad_event_fails_alone_and_the_good_ones_land(api, bad):
    good = {"type": "contact", "external_id": "good-1", "email": "good@example.com"}
    response = api.post("/api/v1/events/", {"events": [bad, good]}, format="json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert results[0]["status"] == "error" and results[0]["errors"], results[0]
    assert results[1]["status"] == "created"
    assert Contact.objects.filter(email="good@example.com").exists()
    assert Contact.objects.count() == 1


@pytest.mark.parametrize("events", [{"a": 1}, "x", None, 5])
def test_events_that_are_not_a_list_are_a_400(api, events):
    response = api.post("/api/v1/events/", {"events": events}, format="json")
    assert response.status_code == 400 and "events" in response.json()


# --- a contact must say who it is -------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"source_channel": "facebook"}, {"notes": "hi"}, {"email": ""}, {"first_name": "  "}],
)
def test_a_contact_without_identity_is_refused(api, body):
    counts = row_counts()
    response = api.post("/api/v1/contacts/", body, format="json")
    assert response.status_code == 400, response.content
    assert "non_field_errors" in response.json()
    assert "email" in response.json()["non_field_errors"][0]
    assert row_counts() == counts


def test_a_contact_event_without_identity_fails_alone(api):
    response = api.post(
        "/api/v1/events/",
        {"events": [{"type": "contact", "external_id": "blank", "utm_source": "fb"}]},
        format="json",
    )
    result = response.json()["results"][0]
    assert result["status"] == "error" and "non_field_errors" in result["errors"]
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{"phone": "+15550100"}, {"handle": "@ada"}, {"first_name": "Ada"}, {"last_name": "L"}],
)
def test_one_identifying_field_is_enough(api, body):
    assert api.post("/api/v1/contacts/", body, format="json").status_code == 201


# --- money --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount", ["1_000", "1_0.00", "\u0663", "\uff11\uff12", " 1 000", "0x10", "1,5"]
)
@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/api/v1/purchases/", {"contact": "CONTACT"}, "amount"),
        ("/api/v1/purchases/", {"contact": "CONTACT", "amount": "5"}, "discount"),
        ("/api/v1/costs/", {"campaign": "CAMPAIGN", "incurred_on": "2026-03-01"}, "amount"),
        ("/api/v1/campaigns/", {"name": "n", "channel": "x", "starts_on": "2026-03-01"}, "budget"),
        (
            "/api/v1/campaigns/",
            {"name": "n", "channel": "x", "starts_on": "2026-03-01"},
            "target_cost_per_lead",
        ),
    ],
)
def test_amounts_must_be_plain_decimals(api, path, body, field, amount):
    contact = contact_create(email="c@example.com", via=Via.API)
    campaign = CampaignFactory()
    body = {
        k: contact.pk if v == "CONTACT" else campaign.pk if v == "CAMPAIGN" else v
        for k, v in body.items()
    } | {field: amount}
    counts = row_counts()
    response = api.post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert row_counts() == counts


def test_a_batch_purchase_with_an_underscored_amount_fails_alone(api):
    contact_create(email="c@example.com", via=Via.API)
    events = [
        {"type": "purchase", "external_id": "o1", "email": "c@example.com", "amount": "1_000"},
        {"type": "purchase", "external_id": "o2", "email": "c@example.com", "amount": "10.00"},
    ]
    results = api.post("/api/v1/events/", {"events": events}, format="json").json()["results"]
    assert results[0]["status"] == "error" and "amount" in results[0]["errors"]
    assert results[1]["status"] == "created"
    assert list(Purchase.objects.values_list("amount", flat=True)) == [10]


def test_the_service_refuses_underscored_amounts_too():
    from campaigns.errors import InvalidInput
    from leads.rules import money

    with pytest.raises(InvalidInput):
        money("1_000", field="amount", positive=True)


# --- unicode case in emails ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "İSTANBUL@ex.com",
        "\u0131stanbul@ex.com",  # dotless i
        "STRASSE@ex.com".replace("SS", "ß"),
        "ΟΔΟΣ@ex.com",
        "οδος@ex.com",
    ],
)
def test_non_ascii_local_parts_are_refused_at_every_door(api, email):
    counts = row_counts()
    doors = [
        ("/api/v1/contacts/", {"email": email}),
        ("/api/v1/purchases/", {"email": email, "amount": "5"}),
        ("/api/v1/touchpoints/", {"email": email, "channel": "x"}),
    ]
    for path, body in doors:
        response = api.post(path, body, format="json")
        assert response.status_code == 400 and "email" in response.json(), (path, response.json())
    events = [
        {"type": "contact", "external_id": "c", "email": email},
        {"type": "purchase", "external_id": "p", "email": email, "amount": "5"},
        {"type": "touch", "external_id": "t", "email": email, "channel": "x"},
    ]
    results = api.post("/api/v1/events/", {"events": events}, format="json").json()["results"]
    assert [r["status"] for r in results] == ["error"] * 3
    assert all("email" in r["errors"] for r in results), results
    assert row_counts() == counts


@pytest.mark.parametrize(
    "stored,sent",
    [
        ("ada@BÜCHER.de", "ADA@bücher.DE"),
        ("ada@İSTANBUL.com", "Ada@i̇stanbul.com"),
        ("x@ΟΔΟΣ.gr", "X@οδος.gr"),
        ("x@ΟΔΟΣ.gr", "x@οδοσ.gr"),
    ],
)
def test_international_domains_match_whatever_their_case_at_every_door(api, stored, sent):
    response = api.post("/api/v1/contacts/", {"email": stored}, format="json")
    assert response.status_code == 201, response.content
    contact = Contact.objects.get()
    assert contact.email.isascii()
    response = api.post("/api/v1/purchases/", {"email": sent, "amount": "5"}, format="json")
    assert response.status_code == 201, response.content
    assert Purchase.objects.get().contact_id == contact.pk
    response = api.post("/api/v1/touchpoints/", {"email": sent, "channel": "x"}, format="json")
    assert response.status_code == 201, response.content
    events = [
        {"type": "purchase", "external_id": "p2", "email": sent, "amount": "6"},
        {"type": "contact", "external_id": "c2", "email": sent},
    ]
    results = api.post("/api/v1/events/", {"events": events}, format="json").json()["results"]
    assert results[0]["status"] == "created"
    assert results[1]["code"] == 409  # the same person: the email is taken
    assert Contact.objects.count() == 1
    assert api.get("/api/v1/contacts/", {"search": sent}).json()["results"][0]["id"] == contact.pk


# --- history matches its schema -----------------------------------------------------------------


def test_history_rows_match_the_schema(api):
    from drf_spectacular.generators import SchemaGenerator

    contact = contact_create(email="h@example.com", via=Via.IMPORT)  # no user: changed_by null
    rows = api.get(f"/api/v1/contacts/{contact.pk}/history/").json()
    assert rows[0]["from_stage"] == "" and rows[0]["changed_by"] is None
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    props = schemas["StageChangeOutput"]["properties"]
    assert props["changed_by"].get("nullable") is True
    allowed = set()
    for option in props["from_stage"].get("oneOf", [props["from_stage"]]):
        target = schemas[option["$ref"].rsplit("/", 1)[1]] if "$ref" in option else option
        allowed |= set(target.get("enum", []))
    assert allowed == {"", "follower", "lead", "qualified", "customer"}
    assert StageChange.objects.count() == 1


def test_an_event_whose_type_is_a_lone_surrogate_fails_alone(api):
    body = {"events": [{"type": "\ud800", "external_id": "\udfff"}, {"type": "contact"}]}
    response = api.generic("POST", "/api/v1/events/", json.dumps(body), "application/json")
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first["type"] is None and first["external_id"] is None and "type" in first["errors"]
    assert second["status"] == "error" and "external_id" in second["errors"]
