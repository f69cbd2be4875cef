"""Call tracking: Twilio's voice status callback and CallRail's post-call webhook record a `call`
touch on the campaign owning the called tracking number, the caller matched in E.164 or created
as a lead; verified by each provider's signature, idempotent on the delivery and on the call."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from campaigns.models import Campaign, Channel
from campaigns.services import campaign_update
from connectors import secrets
from connectors.calls import person_name, twilio_signature
from connectors.models import Connector, Delivery
from connectors.services import connector_create, connector_send_test, delivery_replay
from leads.models import Contact, ContactPhone, Stage, StageChange, Touchpoint
from leads.services import contact_create
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
AUTH_TOKEN = "9f3c2b1a0e8d7c6b5a4f3e2d1c0b9a87"
ACCOUNT_SID = "AC3f8b2c1d4e5a69788796a5b4c3d2e1f0"
SIGNING_KEY = "6a1f0c2e9b8d47f3a5c6e7d8f9a0b1c2"
COMPANY = "COM8154748ae6bd4e278a7cddd38a662f4f"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def url(connector: Connector) -> str:
    return f"/api/v1/hooks/{connector.kind}/{connector.key}/"


@pytest.fixture
def twilio(reference_data) -> Connector:
    connector, shown = connector_create(
        kind=Connector.Kind.TWILIO, name="Twilio", account=ACCOUNT_SID, secret=AUTH_TOKEN
    )
    assert shown == ""  # Twilio makes the Auth Token; it is pasted in, never shown back
    return connector


@pytest.fixture
def callrail(reference_data) -> Connector:
    connector, _ = connector_create(
        kind=Connector.Kind.CALLRAIL, name="CallRail", account=COMPANY, secret=SIGNING_KEY
    )
    return connector


@pytest.fixture
def ads(reference_data) -> Campaign:
    """Google's spring search campaign, its ads showing the tracking number 512-555-0100."""
    return CampaignFactory(
        name="Spring search",
        channel=Channel.objects.get(slug="google"),
        tracking_phone="(512) 555-0100",
    )


def post_twilio(
    client,
    connector: Connector,
    params: dict[str, str],
    *,
    secret: str | None = AUTH_TOKEN,
    signed_url: str | None = None,
):
    """A status callback as Twilio sends it: a form post, signed over the address it called
    (the test client's is http://testserver/…) and the sorted parameters."""
    address = signed_url or f"http://testserver{url(connector)}"
    headers = {}
    if secret is not None:
        headers["X-Twilio-Signature"] = twilio_signature(secret, address, list(params.items()))
    return client.post(
        url(connector),
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def post_callrail(
    client,
    connector: Connector,
    payload: dict[str, Any] | bytes,
    *,
    secret: str | None = SIGNING_KEY,
    event: str = "",
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {}
    if secret is not None:
        headers["Signature"] = secrets.hmac_base64(secret, body, "sha1")
    address = url(connector) + (f"?event={event}" if event else "")
    return client.post(address, data=body, content_type="application/json", headers=headers)


def status(params: dict[str, str], call_status: str, **changes: str) -> dict[str, str]:
    """The same call at another status: Twilio sends one callback per status asked for."""
    other = {**params, "CallStatus": call_status, **changes}
    if call_status != "completed":
        other.pop("CallDuration", None)
    return other


# --- the signatures, against the providers' own published examples ----------------------------


def test_twilio_signature_matches_twilios_documented_examples():
    """Twilio's request-validation examples (its docs and its helper libraries' docs): this
    address, these parameters and the Auth Token 12345 sign to these values."""
    address = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    assert twilio_signature("12345", address, list(params.items())) == (
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )
    params.update(Caller="+12349013030", From="+12349013030")
    # The parameters' order as sent does not matter: they are sorted by name.
    assert twilio_signature("12345", address, list(reversed(params.items()))) == (
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )


def test_callrail_signature_matches_callrails_documented_example(client, reference_data):
    """CallRail's API documentation ("Validating Payloads") signs this body with the key
    072e77e426f92738a72fe23c4d1953b4 to UZAHbUdfm3GqL7qzilGozGzWV64= (base64 HMAC-SHA1 of the
    raw body). The same body through the webhook door verifies and records its call."""
    body = (FIXTURES / "callrail_docs_vector.json").read_bytes().rstrip(b"\n")
    key = "072e77e426f92738a72fe23c4d1953b4"
    assert secrets.hmac_base64(key, body, "sha1") == "UZAHbUdfm3GqL7qzilGozGzWV64="
    connector, _ = connector_create(kind=Connector.Kind.CALLRAIL, name="Docs", secret=key)
    CampaignFactory(channel=Channel.objects.get(slug="google"), tracking_phone="404-555-8514")
    response = client.post(
        url(connector),
        data=body,
        content_type="application/json",
        headers={"Signature": "UZAHbUdfm3GqL7qzilGozGzWV64="},
    )
    assert response.status_code == 200, response.content
    assert Delivery.objects.get().delivery_id == "766970532:post_call"  # its old numeric id


# --- Twilio -----------------------------------------------------------------------------------


def test_twilio_call_records_a_call_touch_and_a_new_lead(
    client, twilio, ads, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_twilio(client, twilio, fixture("twilio_status_completed.json"))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "recorded"
    delivery = Delivery.objects.get()
    assert (delivery.delivery_id, delivery.topic) == (
        "CA5d1e2f3a4b5c6d7e8f9a0b1c2d3e4f50:completed",
        "voice/completed",
    )
    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    touch = Touchpoint.objects.select_related("contact", "campaign", "channel").get()
    assert (touch.kind, touch.campaign, touch.channel.slug) == ("call", ads, "google")
    assert touch.external_id == "twilio:CA5d1e2f3a4b5c6d7e8f9a0b1c2d3e4f50"
    # The completed callback came at 19:06:14 after a 74 s call: it began at 19:05:00.
    assert touch.occurred_at == dt.datetime(2026, 3, 10, 19, 5, 0, tzinfo=dt.UTC)
    assert touch.metadata == {
        "provider": "twilio",
        "status": "completed",
        "duration": 74,
        "tracking_phone": "+15125550100",
    }
    caller = touch.contact
    assert (caller.phone, caller.phone_e164) == ("+15125550142", "+15125550142")
    assert (caller.first_name, caller.last_name) == ("Ana", "Lopez")  # caller id, title-cased
    assert caller.stage == Stage.LEAD
    assert caller.entered_at == touch.occurred_at
    assert (caller.source_channel.slug, caller.source_campaign) == ("google", ads)
    assert list(StageChange.objects.values_list("from_stage", "to_stage", "via")) == [
        ("", "lead", "connector")
    ]
    assert delivery.result == {
        "touch": touch.pk,
        "contact": caller.pk,
        "created": True,
        "new_contact": True,
    }


def test_a_known_contact_is_matched_by_a_differently_written_number(
    client, twilio, ads, django_capture_on_commit_callbacks
):
    ana = contact_create(
        email="ana@example.com",
        phone="(512) 555-0142",
        stage=Stage.FOLLOWER,
        entered_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
        source_channel=Channel.objects.get(slug="instagram"),
        via="api",
    )
    assert ana.phone_e164 == "+15125550142"
    with django_capture_on_commit_callbacks(execute=True):
        post_twilio(client, twilio, fixture("twilio_status_completed.json"))
    touch = Touchpoint.objects.get(kind="call")
    assert touch.contact == ana
    assert Contact.objects.count() == 1
    ana.refresh_from_db()
    # A follower who calls becomes a lead at the call's time; where they came from stays.
    assert ana.stage == Stage.LEAD
    assert ana.source_channel.slug == "instagram"
    assert (ana.first_name, ana.phone) == ("", "(512) 555-0142")  # nothing overwritten


def test_a_known_contact_is_matched_by_a_secondary_phone(
    client, twilio, ads, django_capture_on_commit_callbacks
):
    ana = contact_create(email="ana@example.com", phone="+1 512 555 0199", via="api")
    ContactPhone.objects.create(contact=ana, phone="512.555.0142", phone_e164="+15125550142")
    with django_capture_on_commit_callbacks(execute=True):
        post_twilio(client, twilio, fixture("twilio_status_completed.json"))
    assert Touchpoint.objects.get(kind="call").contact == ana
    assert Contact.objects.count() == 1


@pytest.mark.parametrize(
    "secret", [None, "wrong-token", ""], ids=["missing", "bad", "empty-secret"]
)
def test_twilio_bad_or_missing_signature_is_401_and_records_nothing(client, twilio, ads, secret):
    response = post_twilio(client, twilio, fixture("twilio_status_completed.json"), secret=secret)
    assert response.status_code == 401
    assert not Delivery.objects.exists()
    assert not Touchpoint.objects.exists()
    assert not Contact.objects.exists()


def test_twilio_signature_covers_every_parameter_and_the_address(client, twilio, ads):
    params = fixture("twilio_status_completed.json")
    signature = twilio_signature(
        AUTH_TOKEN, f"http://testserver{url(twilio)}", list(params.items())
    )
    tampered = {**params, "From": "+15125550999"}
    response = client.post(
        url(twilio),
        data=urlencode(tampered),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 401
    # Signed for another address (another connector's, or another site's).
    other = post_twilio(
        client, twilio, params, signed_url="https://elsewhere.example/api/v1/hooks/twilio/x/"
    )
    assert other.status_code == 401
    assert not Delivery.objects.exists()


def test_another_accounts_callback_is_refused(client, twilio, ads):
    params = {**fixture("twilio_status_completed.json"), "AccountSid": "AC" + "0" * 32}
    assert post_twilio(client, twilio, params).status_code == 401
    assert not Delivery.objects.exists()


def test_behind_a_proxy_the_address_is_the_one_twilio_called(client, twilio, ads, settings):
    """Behind a TLS proxy (DJANGO_BEHIND_PROXY) Twilio signed https://; the app sees http
    plus X-Forwarded-Proto. An address typed with its port (:443) verifies too."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    params = fixture("twilio_status_completed.json")
    https = f"https://testserver{url(twilio)}"
    seen = post_twilio(client, twilio, params, signed_url=https)
    assert seen.status_code == 401  # no X-Forwarded-Proto: the app sees http://, not https://

    def signed(address: str, call_status: str):
        changed = status(params, call_status)
        signature = twilio_signature(AUTH_TOKEN, address, list(changed.items()))
        return client.post(
            url(twilio),
            data=urlencode(changed),
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": signature, "X-Forwarded-Proto": "https"},
        )

    assert signed(https, "completed").status_code == 200
    with_port = f"https://testserver:443{url(twilio)}"
    assert signed(with_port, "ringing").status_code == 200
    assert Delivery.objects.count() == 2


def test_replayed_delivery_and_every_status_of_a_call_make_one_touch(
    client, twilio, ads, django_capture_on_commit_callbacks
):
    completed = fixture("twilio_status_completed.json")
    with django_capture_on_commit_callbacks(execute=True):
        ringing = post_twilio(client, twilio, status(completed, "ringing", SequenceNumber="1"))
        answered = post_twilio(client, twilio, status(completed, "in-progress", SequenceNumber="2"))
        first = post_twilio(client, twilio, completed)
        again = post_twilio(client, twilio, completed)  # Twilio retried: its answer timed out
    assert {r.status_code for r in (ringing, answered, first, again)} == {200}
    assert again.json() == {"status": "already recorded", "delivery": first.json()["delivery"]}
    statuses = dict(Delivery.objects.values_list("topic", "status"))
    assert statuses == {
        "voice/ringing": "ignored",
        "voice/in-progress": "ignored",
        "voice/completed": "processed",
    }
    assert "recorded when it ends" in Delivery.objects.get(topic="voice/ringing").error
    assert Touchpoint.objects.count() == 1
    assert Contact.objects.count() == 1


def test_out_of_order_callbacks_make_one_touch(
    client, twilio, ads, django_capture_on_commit_callbacks
):
    """The completed callback arrives before the ringing one (each is its own request)."""
    completed = fixture("twilio_status_completed.json")
    with django_capture_on_commit_callbacks(execute=True):
        post_twilio(client, twilio, completed)
        post_twilio(client, twilio, status(completed, "ringing", SequenceNumber="1"))
    assert dict(Delivery.objects.values_list("topic", "status")) == {
        "voice/completed": "processed",
        "voice/ringing": "ignored",
    }
    touch = Touchpoint.objects.get()
    assert touch.occurred_at == dt.datetime(2026, 3, 10, 19, 5, 0, tzinfo=dt.UTC)


def test_a_missed_call_is_a_touch_too(client, twilio, ads, django_capture_on_commit_callbacks):
    missed = status(fixture("twilio_status_completed.json"), "no-answer")
    with django_capture_on_commit_callbacks(execute=True):
        post_twilio(client, twilio, missed)
    touch = Touchpoint.objects.get()
    # No duration: the touch is at the callback's time.
    assert touch.occurred_at == dt.datetime(2026, 3, 10, 19, 6, 14, tzinfo=dt.UTC)
    assert touch.metadata["status"] == "no-answer"
    assert "duration" not in touch.metadata


def test_unknown_tracking_number_fails_then_replays_once_a_campaign_has_it(
    client, twilio, django_capture_on_commit_callbacks
):
    later = CampaignFactory(name="Radio", channel=Channel.objects.get(slug="google"))
    with django_capture_on_commit_callbacks(execute=True):
        post_twilio(client, twilio, fixture("twilio_status_completed.json"))
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.error == (
        "tracking_phone: No campaign has the tracking number +15125550100: set it as the "
        "campaign's tracking phone, then replay this delivery."
    )
    assert not Contact.objects.exists()
    # The number is typed as people write it; the call reported it in E.164.
    campaign_update(campaign=later, tracking_phone="512-555-0100")
    assert Campaign.objects.get(pk=later.pk).tracking_phone == "+15125550100"
    with django_capture_on_commit_callbacks(execute=True):
        delivery_replay(delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert delivery.attempts == 2
    assert Touchpoint.objects.get().campaign == later


def test_outbound_calls_and_withheld_callers_record_nothing(
    client, twilio, ads, django_capture_on_commit_callbacks
):
    completed = fixture("twilio_status_completed.json")
    outbound = {**completed, "CallSid": "CA" + "1" * 32, "Direction": "outbound-api"}
    hidden = {**completed, "CallSid": "CA" + "2" * 32, "From": "+266696687"}
    anonymous = {**completed, "CallSid": "CA" + "3" * 32, "From": "Anonymous"}
    with django_capture_on_commit_callbacks(execute=True):
        for params in (outbound, hidden, anonymous):
            assert post_twilio(client, twilio, params).status_code == 200
    assert set(Delivery.objects.values_list("status", flat=True)) == {"ignored"}
    assert not Touchpoint.objects.exists()
    assert not Contact.objects.exists()


def test_a_callback_without_its_call_id_is_400(client, twilio):
    params = {k: v for k, v in fixture("twilio_status_completed.json").items() if k != "CallSid"}
    response = post_twilio(client, twilio, params)
    assert response.status_code == 400
    assert not Delivery.objects.exists()


# --- CallRail ---------------------------------------------------------------------------------


@pytest.fixture
def search_ads(reference_data) -> Campaign:
    return CampaignFactory(
        name="Spring search",
        channel=Channel.objects.get(slug="google"),
        tracking_phone="512.555.0111",
    )


def test_callrail_call_records_a_call_touch_and_a_new_lead(
    client, callrail, search_ads, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_callrail(client, callrail, fixture("callrail_post_call.json"))
    assert response.status_code == 200, response.content
    delivery = Delivery.objects.get()
    assert (delivery.delivery_id, delivery.topic) == (
        "CALb14811eb573645c6989000cf426b9772:post_call",
        "post_call",
    )
    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    touch = Touchpoint.objects.select_related("contact").get()
    assert (touch.kind, touch.campaign, touch.channel.slug) == ("call", search_ads, "google")
    assert touch.external_id == "callrail:CALb14811eb573645c6989000cf426b9772"
    # start_time 09:15:02.395 at UTC-5 is 14:15:02.395 UTC.
    assert touch.occurred_at == dt.datetime(2026, 3, 11, 14, 15, 2, 395000, tzinfo=dt.UTC)
    assert touch.metadata == {
        "provider": "callrail",
        "answered": True,
        "duration": 187,
        "call_type": "first_call",
        "source_name": "Google Ads",
        "utm_source": "google",
        "utm_campaign": "spring-search",
        "gclid": "Cj0KCQjw_demo",
        "landing_page": "https://studio.example/classes?gclid=Cj0KCQjw_demo",
        "tracking_phone": "+15125550111",
    }
    caller = touch.contact
    assert (caller.first_name, caller.last_name) == ("Ben", "Ortiz")
    assert (caller.phone_e164, caller.stage) == ("+15125550173", Stage.LEAD)
    assert (caller.source_channel.slug, caller.source_campaign) == ("google", search_ads)


@pytest.mark.parametrize("secret", [None, "wrong-key", ""], ids=["missing", "bad", "empty-secret"])
def test_callrail_bad_or_missing_signature_is_401_and_records_nothing(
    client, callrail, search_ads, secret
):
    response = post_callrail(client, callrail, fixture("callrail_post_call.json"), secret=secret)
    assert response.status_code == 401
    assert not Delivery.objects.exists()
    assert not Touchpoint.objects.exists()
    assert not Contact.objects.exists()


def test_callrail_tampered_body_and_another_company_are_refused(client, callrail, search_ads):
    body = json.dumps(fixture("callrail_post_call.json")).encode()
    tampered = client.post(
        url(callrail),
        data=body.replace(b"+15125550173", b"+15125550999"),
        content_type="application/json",
        headers={"Signature": secrets.hmac_base64(SIGNING_KEY, body, "sha1")},
    )
    assert tampered.status_code == 401
    other = {**fixture("callrail_post_call.json"), "company_resource_id": "COMother"}
    assert post_callrail(client, callrail, other).status_code == 401
    assert not Delivery.objects.exists()


def test_callrail_replayed_and_modified_call_make_one_touch(
    client, callrail, search_ads, django_capture_on_commit_callbacks
):
    call = fixture("callrail_post_call.json")
    with django_capture_on_commit_callbacks(execute=True):
        first = post_callrail(client, callrail, call)
        again = post_callrail(client, callrail, call)
        modified = post_callrail(
            client, callrail, {**call, "tags": ["booked"]}, event="call_modified"
        )
    assert again.json() == {"status": "already recorded", "delivery": first.json()["delivery"]}
    assert modified.json()["status"] == "recorded"
    assert dict(Delivery.objects.values_list("topic", "status")) == {
        "post_call": "processed",
        "call_modified": "processed",
    }
    assert Delivery.objects.get(topic="call_modified").result["created"] is False
    assert Touchpoint.objects.count() == 1


def test_callrail_modified_before_post_call_makes_one_touch(
    client, callrail, search_ads, django_capture_on_commit_callbacks
):
    call = fixture("callrail_post_call.json")
    with django_capture_on_commit_callbacks(execute=True):
        post_callrail(client, callrail, call, event="call_modified")
        post_callrail(client, callrail, call)
    assert Delivery.objects.filter(status="processed").count() == 2
    assert Touchpoint.objects.count() == 1


def test_callrail_unknown_tracking_number_fails_then_replays(
    client, callrail, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_callrail(client, callrail, fixture("callrail_post_call.json"))
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert "+15125550111" in delivery.error
    CampaignFactory(channel=Channel.objects.get(slug="google"), tracking_phone="+1 512 555 0111")
    with django_capture_on_commit_callbacks(execute=True):
        delivery_replay(delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert Touchpoint.objects.count() == 1


def test_callrail_outbound_call_is_ignored(
    client, callrail, search_ads, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post_callrail(
            client, callrail, {**fixture("callrail_post_call.json"), "direction": "outbound"}
        )
    assert Delivery.objects.get().status == Delivery.Status.IGNORED
    assert not Touchpoint.objects.exists()


def test_callrail_body_that_is_not_a_call_is_400(client, callrail):
    assert post_callrail(client, callrail, b"[1, 2]").status_code == 400
    no_id = {"answered": True, "company_resource_id": COMPANY}
    assert post_callrail(client, callrail, no_id).status_code == 400
    assert not Delivery.objects.exists()


# --- the admin's test button, and the worker ----------------------------------------------------


@pytest.mark.parametrize("kind", ["twilio", "callrail"])
def test_send_test_verifies_and_records_nothing(
    kind, twilio, callrail, ads, django_capture_on_commit_callbacks
):
    connector = {"twilio": twilio, "callrail": callrail}[kind]
    with django_capture_on_commit_callbacks(execute=True):
        delivery = connector_send_test(connector=connector)
    delivery.refresh_from_db()
    assert delivery.test
    assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert delivery.result["test"] is True
    assert delivery.result["campaign"] is None  # the sample's number belongs to no campaign
    assert not Touchpoint.objects.exists()
    assert not Contact.objects.exists()


def test_send_test_with_a_wrong_secret_says_so(twilio):
    from campaigns.errors import InvalidInput
    from connectors.services import connector_update

    Connector.objects.filter(pk=twilio.pk).update(secret="not-a-token-this-key-reads")
    twilio.refresh_from_db()
    with pytest.raises(InvalidInput) as refused:
        connector_send_test(connector=twilio)
    assert refused.value.field == "secret"
    connector_update(connector=twilio, secret=AUTH_TOKEN)
    assert connector_send_test(connector=twilio).test


def test_the_worker_processes_what_the_door_recorded(client, twilio, ads):
    """Recorded at once, processed only after the commit (on a worker): without the commit
    callbacks, the delivery waits as received."""
    response = post_twilio(client, twilio, fixture("twilio_status_completed.json"))
    assert response.status_code == 200
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.RECEIVED
    assert not Touchpoint.objects.exists()
    from connectors.tasks import process_delivery

    process_delivery.delay(delivery.pk)  # eager in tests: the task runs here
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PROCESSED
    assert Touchpoint.objects.count() == 1
    process_delivery.delay(delivery.pk)  # a second worker given it: a no-op
    assert Touchpoint.objects.count() == 1


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Ana Lopez", ("Ana", "Lopez")),
        ("ANA MARIA LOPEZ", ("Ana", "Maria Lopez")),
        ("Cher", ("Cher", "")),
        ("WIRELESS CALLER", ("", "")),
        ("Unknown", ("", "")),
        ("+1 512-555-0142", ("", "")),
        ("", ("", "")),
    ],
)
def test_caller_names(given, expected):
    assert person_name(given) == expected


def test_the_admin_stores_a_tracking_number_in_e164_and_refuses_one_already_owned(
    client, superuser, ads
):
    """The campaign form compares the number as it will be stored: "512-555-0100" is the
    Spring search campaign's +15125550100 (a form error, not a database error)."""
    from django.urls import reverse

    client.force_login(superuser)
    form = {
        "name": "Radio",
        "channel": Channel.objects.get(slug="google").pk,
        "objective": "leads",
        "starts_on": "2026-03-01",
        "budget": "0.00",
        "utm_campaign": "",
        "tracking_phone": "512-555-0100",
        "costs-TOTAL_FORMS": "0",
        "costs-INITIAL_FORMS": "0",
        "coupons-TOTAL_FORMS": "0",
        "coupons-INITIAL_FORMS": "0",
    }
    refused = client.post(reverse("admin:campaigns_campaign_add"), form)
    assert refused.status_code == 200
    assert "tracking phone already exists" in refused.content.decode().lower()
    added = client.post(
        reverse("admin:campaigns_campaign_add"), {**form, "tracking_phone": "(512) 555-0177"}
    )
    assert added.status_code == 302
    assert Campaign.objects.get(name="Radio").tracking_phone == "+15125550177"


def test_recording_a_callback_costs_a_handful_of_queries(
    client, twilio, django_assert_max_num_queries
):
    """What Twilio waits for: the connector, the delivery's insert, the connector's stamp."""
    with django_assert_max_num_queries(6):
        response = post_twilio(client, twilio, fixture("twilio_status_completed.json"))
    assert response.status_code == 200


def test_processing_a_call_is_a_fixed_number_of_queries(
    client, twilio, ads, django_assert_max_num_queries
):
    """A new caller (a lead with its history and first touch) and a known one: a fixed set of
    statements whatever the size of the tables, about a third of them savepoints."""
    from connectors.services import delivery_process

    completed = fixture("twilio_status_completed.json")
    post_twilio(client, twilio, completed)
    with django_assert_max_num_queries(45):
        delivery_process(delivery_id=Delivery.objects.get().pk)
    post_twilio(client, twilio, {**completed, "CallSid": "CA" + "4" * 32})
    with django_assert_max_num_queries(45):
        delivery_process(delivery_id=Delivery.objects.latest("pk").pk)
    assert Touchpoint.objects.count() == 2
    assert Contact.objects.count() == 1
