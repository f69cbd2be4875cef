"""Website capture: the public form-fill endpoint answers the site's allowed origins only, is
rate limited per address and per key, drops honeypot fills, sets no cookie, keeps no address,
records the consent it is sent, and a fill becomes a lead with its touches."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from typing import Any

import pytest
import time_machine
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from campaigns.inputs import NUL_MESSAGE
from campaigns.models import Channel
from config.env import env_rate
from connectors import capture
from connectors.models import Connector, Delivery
from connectors.services import connector_create
from leads.models import Contact, Stage, StageChange, Touchpoint
from tests.factories import CampaignFactory, ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/capture/"
SITE = "https://www.example.com"
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
ADDRESS = "198.51.100.23"


@pytest.fixture
def site(reference_data) -> Connector:
    connector, shown = connector_create(
        kind=Connector.Kind.SITE,
        name="Our website",
        allowed_origins=f"{SITE}\nhttp://localhost:8000",
    )
    assert shown == ""  # a site has no secret: its key is public
    return connector


@pytest.fixture
def spring(reference_data):
    """Instagram's spring campaign, tagged utm_campaign=spring."""
    return CampaignFactory(
        name="Spring", channel=Channel.objects.get(slug="instagram"), utm_campaign="spring"
    )


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def fill(site: Connector, **changes: Any) -> dict[str, Any]:
    payload = {
        "key": site.key,
        "submission_id": "7c1f4e7e-3b0e-4f5e-9c57-2f1b3c4d5e6f",
        "email": "Ana@Example.com",
        "first_name": "Ana",
        "last_name": "Lopez",
        "phone": "",
        "company": "",
        "heard_about": "A friend",
        "form": "contact",
        "consent": True,
        "hp": "",
        "first": {
            "utm_source": "ig",
            "utm_campaign": "spring",
            "landing_page": f"{SITE}/spring",
        },
        "latest": {
            "utm_source": "ig",
            "utm_campaign": "spring",
            "landing_page": f"{SITE}/spring",
        },
        "age_seconds": 300,
    }
    payload.update(changes)
    return payload


def post(
    client,
    payload: dict[str, Any] | bytes | str,
    *,
    origin: str | None = SITE,
    content_type: str = "text/plain;charset=UTF-8",
    address: str = ADDRESS,
    **headers: str,
):
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    if origin is not None:
        headers["Origin"] = origin
    return client.post(
        URL, data=body, content_type=content_type, headers=headers, REMOTE_ADDR=address
    )


def no_cookie(response) -> None:
    assert "Set-Cookie" not in response.headers
    assert not response.cookies


def cors_for(response, origin: str) -> None:
    assert response["Access-Control-Allow-Origin"] == origin
    assert "Origin" in response["Vary"]
    assert response["Access-Control-Allow-Methods"] == "POST"
    assert response["Access-Control-Allow-Headers"] == "Content-Type"
    assert response["Access-Control-Max-Age"] == "7200"


def no_cors(response) -> None:
    assert not any(name.lower().startswith("access-control-") for name in response.headers)


# --- a fill becomes a lead ----------------------------------------------------------------------


def test_a_fill_becomes_a_lead_with_an_instagram_form_touch_on_spring(
    client, site, spring, frozen, django_capture_on_commit_callbacks
):
    payload = fill(site)
    payload["first"]["landing_page"] = payload["latest"]["landing_page"] = (
        f"{SITE}/spring?utm_source=ig&utm_campaign=spring&email=ana@example.com#top"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, payload)
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "recorded"}
    cors_for(response, SITE)
    no_cookie(response)
    assert response["Cache-Control"] == "no-store"

    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert (delivery.topic, delivery.delivery_id) == ("form", payload["submission_id"])
    assert delivery.meta == {"origin": SITE, "consent": True}
    lead = Contact.objects.get()
    # The email as typed (contacts are found by it in any case).
    assert (lead.email, lead.first_name, lead.last_name) == ("Ana@Example.com", "Ana", "Lopez")
    assert lead.stage == Stage.LEAD
    assert lead.entered_at == NOW
    assert (lead.source_channel.slug, lead.source_campaign) == ("instagram", spring)
    # First and latest are the same landing: one touch, the form fill, at the submission.
    touch = Touchpoint.objects.get()
    assert (touch.kind, touch.channel.slug, touch.campaign) == ("form", "instagram", spring)
    assert touch.occurred_at == NOW
    assert touch.source == "ig"
    assert touch.external_id == f"capture:{site.pk}:{payload['submission_id']}:form"
    # The landing page's path only: its query and fragment may carry personal data.
    assert touch.metadata == {
        "utm_source": "ig",
        "utm_campaign": "spring",
        "landing_page": f"{SITE}/spring",
        "consent": True,
        "form": "contact",
    }
    assert "email=" not in delivery.body
    assert "#top" not in delivery.body
    assert list(StageChange.objects.values_list("from_stage", "to_stage", "via")) == [
        ("", "lead", "connector")
    ]
    assert delivery.result == {"contact": lead.pk, "touch": touch.pk, "created": True}


def test_a_first_visit_from_elsewhere_is_a_visit_touch_at_the_visits_start(
    client, site, spring, frozen, django_capture_on_commit_callbacks
):
    # Landed from Instagram's spring post ten minutes ago, came back through a Google ad
    # (gclid), then filled the form: the visit is credited to Instagram at 11:50, the form
    # fill to Google at 12:00.
    payload = fill(
        site,
        latest={"gclid": "Cj0KCQ", "referrer": "https://www.google.com/search?q=ana"},
        age_seconds=600,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, payload).status_code == 200
    form = Touchpoint.objects.get(kind="form")
    assert (form.channel.slug, form.campaign, form.occurred_at) == ("google", None, NOW)
    # The referrer is kept as its host (touch) and origin (delivery): never its query.
    assert form.metadata == {
        "gclid": "Cj0KCQ",
        "referrer": "www.google.com",
        "consent": True,
        "form": "contact",
    }
    visit = Touchpoint.objects.get(kind="visit")
    assert (visit.channel.slug, visit.campaign) == ("instagram", spring)
    assert visit.occurred_at == NOW - dt.timedelta(minutes=10)
    assert visit.external_id.endswith(":visit")
    assert "q=ana" not in Delivery.objects.get().body
    lead = Contact.objects.get()
    # The lead is sourced from the touch that made them one (the form fill); first-touch
    # attribution still credits Instagram through the earlier visit touch.
    assert lead.source_channel.slug == "google"


def test_a_fill_with_no_source_is_a_direct_form_touch(
    client, site, frozen, django_capture_on_commit_callbacks
):
    payload = fill(site, first={"landing_page": f"{SITE}/"}, latest={}, consent=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, payload).status_code == 200
    touch = Touchpoint.objects.get()
    assert (touch.kind, touch.channel.slug, touch.campaign) == ("form", "direct", None)
    # No consent box on the form: recorded as not asked (null), not as refused.
    assert touch.metadata["consent"] is None
    assert Delivery.objects.get().meta["consent"] is None


def test_the_sites_own_pages_as_referrer_are_no_source(
    client, site, frozen, django_capture_on_commit_callbacks
):
    payload = fill(site, first={"referrer": "https://WWW.example.com/blog"}, latest={})
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, payload).status_code == 200
    assert Touchpoint.objects.get().channel.slug == "direct"


def test_a_known_follower_who_fills_the_form_becomes_a_lead(
    client, site, spring, frozen, django_capture_on_commit_callbacks
):
    follower = ContactFactory(
        email="ana@example.com",
        stage=Stage.FOLLOWER,
        entered_at=NOW - dt.timedelta(days=3),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, fill(site)).status_code == 200
    follower.refresh_from_db()
    assert follower.stage == Stage.LEAD
    assert Contact.objects.count() == 1
    # Sourced as before (Facebook, the factory's); the fill is a touch on Instagram's spring.
    assert follower.source_channel.slug == "facebook"
    touch = Touchpoint.objects.get()
    assert (touch.contact, touch.campaign, touch.kind) == (follower, spring, "form")
    assert list(
        StageChange.objects.filter(contact=follower).values_list("to_stage", "at", "via")
    ) == [("lead", NOW, "connector")]


def test_a_retried_submission_records_once(
    client, site, spring, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, fill(site))
        again = post(client, fill(site))
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == {"status": "recorded"}
    assert Delivery.objects.count() == 1
    assert Contact.objects.count() == 1
    assert Touchpoint.objects.count() == 1
    # Another submission by the same person: a second fill, a second form touch.
    with django_capture_on_commit_callbacks(execute=True):
        post(client, fill(site, submission_id=str(uuid.uuid4())))
    assert (Delivery.objects.count(), Contact.objects.count()) == (2, 1)
    assert Touchpoint.objects.filter(kind="form").count() == 2


def test_consent_is_recorded_as_sent(client, site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post(client, fill(site, consent=False))
    assert Delivery.objects.get().meta["consent"] is False
    assert Touchpoint.objects.get().metadata["consent"] is False
    assert json.loads(Delivery.objects.get().body)["consent"] is False


def test_heard_about_reaches_the_lead(client, site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post(client, fill(site, heard_about="saw you on Insta"))
    body = json.loads(Delivery.objects.get().body)
    assert body["heard_about"] == "saw you on Insta"
    lead = Contact.objects.get()
    # The person's words, and the channel they name through the aliases (insta: Instagram).
    assert (lead.heard_about, lead.heard_channel.slug) == ("saw you on Insta", "instagram")
    # Neither the key nor the honeypot is kept: only the validated fill.
    assert "key" not in body
    assert "hp" not in body


def test_the_age_of_the_visit_is_clamped_to_a_day(
    client, site, spring, frozen, django_capture_on_commit_callbacks
):
    payload = fill(site, latest={"utm_source": "newsletter"}, age_seconds=10**9)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, payload)
    assert Touchpoint.objects.get(kind="visit").occurred_at == NOW - dt.timedelta(days=1)
    assert json.loads(Delivery.objects.get().body)["age_seconds"] == 86400


def test_a_negative_age_is_the_submission_time(
    client, site, spring, frozen, django_capture_on_commit_callbacks
):
    payload = fill(site, latest={"utm_source": "newsletter"}, age_seconds=-50)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, payload)
    assert Touchpoint.objects.get(kind="visit").occurred_at == NOW


def test_json_sent_as_application_json_is_read_too(
    client, site, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, fill(site), content_type="application/json")
    assert response.status_code == 200
    assert Contact.objects.filter(email__iexact="ana@example.com", stage=Stage.LEAD).exists()


def test_a_fill_costs_a_few_queries(client, site, django_assert_max_num_queries):
    # The connector; the delivery's savepoint, insert and release; the connector's last
    # delivery time. Processing happens on a worker, after the answer.
    with django_assert_max_num_queries(6):
        assert post(client, fill(site)).status_code == 200


# --- origins and CORS ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [SITE, "https://WWW.EXAMPLE.COM", "https://www.example.com:443", "http://localhost:8000"],
)
def test_an_allowed_origin_is_answered_with_cors_headers(client, site, origin):
    response = post(client, fill(site), origin=origin)
    assert response.status_code == 200
    cors_for(response, origin)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://www.example.com",  # another scheme
        "https://www.example.com:8443",  # another port
        "https://shop.www.example.com",  # another host
        "null",  # a sandboxed frame, a file
        None,  # no Origin: not a browser on the site
    ],
    ids=["other-site", "http", "port", "subdomain", "null", "missing"],
)
def test_another_or_no_origin_is_403_without_cors_and_records_nothing(client, site, origin):
    response = post(client, fill(site), origin=origin)
    assert response.status_code == 403
    no_cors(response)
    no_cookie(response)
    assert not Delivery.objects.exists()


def test_the_preflight_answers_an_allowed_origin(client, site):
    headers = {
        "Origin": SITE,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    response = client.options(f"{URL}?key={site.key}", headers=headers)
    assert response.status_code == 204
    cors_for(response, SITE)
    no_cookie(response)
    refused = client.options(f"{URL}?key={site.key}", headers={**headers, "Origin": "https://x.y"})
    assert refused.status_code == 403
    no_cors(refused)
    unknown = client.options(f"{URL}?key=nope", headers=headers)
    assert unknown.status_code == 404
    no_cors(unknown)


def test_an_unknown_inactive_or_other_kind_of_key_is_404_without_cors(client, site):
    for key in ("no-such-key", "", None, ["list"], "bad\x00key", "x" * 41):
        response = post(client, fill(site, key=key))
        assert response.status_code == 404, key
        no_cors(response)
    shop, _ = connector_create(kind=Connector.Kind.WOOCOMMERCE, name="Shop", account="https://s.e/")
    assert post(client, fill(site, key=shop.key)).status_code == 404
    Connector.objects.filter(pk=site.pk).update(active=False)
    assert post(client, fill(site)).status_code == 404
    assert not Delivery.objects.exists()


def test_the_key_may_come_in_the_query(client, site):
    payload = fill(site)
    del payload["key"]
    response = client.post(
        f"{URL}?key={site.key}",
        data=json.dumps(payload),
        content_type="text/plain",
        headers={"Origin": SITE},
    )
    assert response.status_code == 200


def test_only_post_and_options(client, site):
    assert client.get(URL, headers={"Origin": SITE}).status_code == 405


# --- bots and rate limits -----------------------------------------------------------------------


def test_a_honeypot_fill_is_answered_like_a_success_and_recorded_nowhere(client, site):
    response = post(client, fill(site, hp="http://cheap-pills.example"))
    assert response.status_code == 200
    assert response.json() == {"status": "recorded"}
    cors_for(response, SITE)
    assert not Delivery.objects.exists()
    assert not Contact.objects.exists()
    # Even when the rest is nonsense: a bot learns nothing from the answer.
    assert post(client, fill(site, hp="x", email="not-an-email")).status_code == 200


@override_settings(CAPTURE_RATE_PER_ADDRESS=(2, 60), CAPTURE_RATE_PER_KEY=(100, 3600))
def test_one_address_is_limited_per_key(client, site, frozen):
    for _ in range(2):
        assert post(client, fill(site, submission_id=str(uuid.uuid4()))).status_code == 200
    refused = post(client, fill(site, submission_id=str(uuid.uuid4())))
    assert refused.status_code == 429
    # The window is the minute from 12:00:00: the next one starts in 60 s.
    assert refused["Retry-After"] == "60"
    cors_for(refused, SITE)  # the site's page may read why
    no_cookie(refused)
    # Another address is not held back.
    assert (
        post(client, fill(site, submission_id=str(uuid.uuid4())), address="203.0.113.9").status_code
        == 200
    )
    assert Delivery.objects.count() == 3
    # The next minute, the address may send again.
    with time_machine.travel(NOW + dt.timedelta(seconds=61), tick=False):
        assert post(client, fill(site, submission_id=str(uuid.uuid4()))).status_code == 200


@override_settings(CAPTURE_RATE_PER_ADDRESS=(100, 60), CAPTURE_RATE_PER_KEY=(3, 3600))
def test_a_key_is_limited_across_addresses(client, site, frozen):
    for n in range(3):
        response = post(client, fill(site, submission_id=str(uuid.uuid4())), address=f"192.0.2.{n}")
        assert response.status_code == 200
    refused = post(client, fill(site, submission_id=str(uuid.uuid4())), address="192.0.2.200")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "3600"  # the hour from 12:00
    # Another site keeps its own budget.
    other, _ = connector_create(kind=Connector.Kind.SITE, name="Blog", allowed_origins=SITE)
    assert post(client, fill(other), address="192.0.2.200").status_code == 200


@override_settings(CAPTURE_RATE_PER_ADDRESS=(1, 60))
def test_the_rate_counters_keep_no_address(client, site):
    post(client, fill(site))
    post(client, fill(site))
    keys = " ".join(str(key) for key in cache._cache)  # the test settings' local memory cache
    assert "capture-rate" in keys
    assert ADDRESS not in keys
    assert capture.address_hash(ADDRESS) in keys


def test_bad_rate_settings_stop_the_process(monkeypatch):
    monkeypatch.setenv("CAPTURE_RATE_PER_KEY", "lots")
    with pytest.raises(ImproperlyConfigured, match="CAPTURE_RATE_PER_KEY"):
        env_rate("CAPTURE_RATE_PER_KEY", "600/hour")
    monkeypatch.setenv("CAPTURE_RATE_PER_KEY", "0/min")
    with pytest.raises(ImproperlyConfigured):
        env_rate("CAPTURE_RATE_PER_KEY", "600/hour")
    monkeypatch.setenv("CAPTURE_RATE_PER_KEY", "30/hour")
    assert env_rate("CAPTURE_RATE_PER_KEY", "600/hour") == (30, 3600)


# --- no cookie, no address ----------------------------------------------------------------------


def test_no_cookie_is_set_even_for_a_signed_in_browser(client, site):
    # A business owner signed in to the admin, filling their own site's form in the same
    # browser: the fill neither reads their session nor sets anything.
    client.force_login(UserFactory(username="owner", is_superuser=True))
    for payload in (fill(site), fill(site, email="bad"), fill(site, hp="bot")):
        response = post(client, payload)
        no_cookie(response)
        assert "Cookie" not in response.get("Vary", "")


def test_the_clients_address_is_stored_nowhere(
    client, site, spring, django_capture_on_commit_callbacks
):
    forwarded = "192.0.2.77"
    with override_settings(BEHIND_PROXY=True), django_capture_on_commit_callbacks(execute=True):
        response = post(client, fill(site), HTTP_X_FORWARDED_FOR=forwarded)
    assert response.status_code == 200
    assert Touchpoint.objects.exists()
    out = io.StringIO()
    call_command("dumpdata", "connectors", "leads", "campaigns", stdout=out)
    dump = out.getvalue()
    assert "Ana@Example.com" in dump  # the dump holds the fill...
    assert ADDRESS not in dump  # ...and neither address
    assert forwarded not in dump


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": None}, "email"),
        ({"email": ""}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": ["ana@example.com"]}, "email"),
        ({"first_name": "A" * 101}, "first_name"),
        ({"phone": "1" * 33}, "phone"),
        ({"company": {"name": "Acme"}}, "company"),
        ({"consent": "yes"}, "consent"),
        ({"consent": 1}, "consent"),
        ({"first": "ig"}, "first"),
        ({"latest": ["ig"]}, "latest"),
        ({"latest": {"utm_source": {"a": 1}}}, "latest"),
        ({"age_seconds": "soon"}, "age_seconds"),
        ({"submission_id": "1234"}, "submission_id"),
        ({"submission_id": None}, "submission_id"),
    ],
)
def test_bad_input_is_400_with_the_fields_message(client, site, changes, field):
    payload = fill(site, **changes)
    if changes.get("email") is None and "email" in changes:
        del payload["email"]
    response = post(client, payload)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    cors_for(response, SITE)
    assert not Delivery.objects.exists()


@pytest.mark.parametrize("field", ["first_name", "email", "heard_about"])
def test_a_nul_character_is_400_on_its_field(client, site, field):
    response = post(client, fill(site, **{field: "An\x00a"}))
    assert response.status_code == 400
    assert response.json()[field] == [NUL_MESSAGE]


def test_a_nul_inside_the_attribution_is_400(client, site):
    response = post(client, fill(site, latest={"utm_campaign": "spr\x00ing"}))
    assert response.status_code == 400
    assert response.json() == {"latest": [NUL_MESSAGE]}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'"a string"',
        b"[" * 50_00 + b"]" * 50_00,
    ],
    ids=["text", "not-utf8", "array", "string", "deep-array"],
)
def test_a_body_that_is_no_json_object_is_400(client, site, body):
    response = post(client, body)
    assert response.status_code == 400
    assert "detail" in response.json()
    assert not Delivery.objects.exists()


def test_deep_json_is_400(client, site):
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(10):
        node["a"] = {}
        node = node["a"]
    response = post(client, fill(site, first=deep))
    assert response.status_code == 400
    assert response.json() == {"detail": "The body nests deeper than a form fill does."}


def test_a_body_over_the_cap_is_413(client, site):
    with override_settings(CAPTURE_MAX_BODY_BYTES=1024):
        response = post(client, fill(site, company="x" * 2000))
    assert response.status_code == 413
    assert not Delivery.objects.exists()


def test_a_click_id_longer_than_a_touch_keeps_is_clipped_not_refused(
    client, site, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, fill(site, latest={"fbclid": "F" * 600}))
    assert response.status_code == 200
    assert Touchpoint.objects.get(kind="form").metadata["fbclid"] == "F" * 200


# --- the script and its snippet -----------------------------------------------------------------


def test_the_script_is_small_and_keeps_no_cookie():
    path = finders.find("connectors/capture.js")
    assert path is not None
    with open(path, encoding="utf-8") as script:
        source = script.read()
    assert len(source.encode()) < 10 * 1024
    assert "document.cookie" not in source
    assert "localStorage" not in source  # the visit only: sessionStorage
    assert 'credentials: "omit"' in source


def test_the_admin_shows_the_snippet_of_a_site(client, site):
    client.force_login(UserFactory(username="root", is_superuser=True))
    response = client.get(reverse("admin:connectors_connector_change", args=[site.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/connectors/capture.js" in page
    assert f'data-key="{site.key}"' in page
    assert "/api/v1/capture/" in page


def test_a_site_is_set_up_in_the_admin(client, reference_data):
    client.force_login(UserFactory(username="root", is_superuser=True))
    add = reverse("admin:connectors_connector_add")
    assert client.get(add).status_code == 200
    response = client.post(
        add,
        {
            "kind": "site",
            "name": "Shop front",
            "account": "",
            "allowed_origins": "https://www.example.com\nhttps://example.com",
            "secret": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    made = Connector.objects.get(name="Shop front")
    assert made.origins() == ["https://www.example.com", "https://example.com"]
    assert made.secret == ""


def test_a_site_has_no_test_delivery(client, site):
    client.force_login(UserFactory(username="root", is_superuser=True))
    response = client.post(reverse("admin:connectors_connector_test", args=[site.pk]), follow=True)
    assert response.status_code == 200
    assert "A website has no test delivery" in response.content.decode()
    assert not Delivery.objects.exists()


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("https://WWW.Example.com", "https://www.example.com"),
        ("https://www.example.com:443/", "https://www.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://[::1]:80", "http://[::1]"),
        ("null", ""),
        ("https://www.example.com/contact", ""),
        ("https://user@www.example.com", ""),
        ("ftp://www.example.com", ""),
        ("https://www.example.com:99999", ""),
        ("", ""),
    ],
)
def test_origins_compare_by_scheme_host_and_port(given, key):
    assert capture.origin_key(given) == key
