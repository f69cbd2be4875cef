"""Call-tracking connectors: Twilio's voice status callback and CallRail's post-call webhook.

A call to a tracking number is a `call` touch on the campaign that owns the number (tracking
numbers and callers compared in E.164, `campaigns.phones`). The caller is the contact with that
phone, their own or a secondary one, else a new lead sourced from the call's campaign
(`leads.services.contact_touched`). The touch keeps the provider's call id as its external id,
so the several callbacks of one call, a retried delivery and a replay make one touch.
A number that no campaign owns fails the delivery with the reason; setting the number on the
campaign and replaying the delivery records it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import json
from base64 import b64encode
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from campaigns.errors import InvalidInput
from campaigns.models import Campaign
from campaigns.phones import normalize_phone, phone_e164
from campaigns.services import campaign_by_tracking_phone
from connectors import secrets
from connectors.models import Connector, Delivery
from connectors.providers import BadDelivery, Ignored, Incoming, Sample, WebhookProvider, register
from connectors.shops import provider_time
from leads.models import Stage, Touchpoint, Via

# What providers put in the caller's name when they have none (compared lower-cased).
NO_NAME = {
    "anonymous",
    "private",
    "private caller",
    "restricted",
    "unavailable",
    "unknown",
    "unknown caller",
    "unknown name",
    "wireless caller",
    "toll free call",
    "toll free caller",
}


@dataclass
class Call:
    """A call to a tracking number, read off a provider's payload."""

    key: str  # the touch's external id: "twilio:CA…", "callrail:CAL…"
    at: dt.datetime
    caller: str
    tracking: str
    name: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def _text(value: Any, limit: int = 100) -> str:
    return str(value if value is not None else "").replace("\x00", "").strip()[:limit]


def _when(parsed: dt.datetime | None, delivery: Delivery) -> dt.datetime:
    """The call's time: the provider's, else when the delivery arrived (never "now", so a
    replay next week records the same moment). A provider's clock a little ahead is now."""
    if parsed is None:
        return delivery.received_at
    return provider_time(parsed)


def _seconds(value: Any) -> int | None:
    text = _text(value, 20)
    return int(text) if text.isdigit() else None


def person_name(name: str) -> tuple[str, str]:
    """(first, last) from a caller's name as the provider gives it ("Ana Lopez"); nothing for a
    placeholder ("WIRELESS CALLER") or a number. Caller-id names come in capitals: title-cased."""
    name = " ".join(_text(name, 200).split())
    if not name or name.lower() in NO_NAME or any(ch.isdigit() for ch in name):
        return "", ""
    if name.isupper():
        name = name.title()
    first, _, last = name.partition(" ")
    return first[:100], last[:100]


def tracking_campaign(number: str) -> Campaign:
    """The campaign that owns the tracking number called, or a failure that says what to do."""
    if not normalize_phone(number):
        raise InvalidInput("The call names no tracking number.", field="tracking_phone")
    try:
        return campaign_by_tracking_phone(number)
    except InvalidInput:
        raise InvalidInput(
            f"No campaign has the tracking number {phone_e164(number) or number}: set it as "
            "the campaign's tracking phone, then replay this delivery.",
            field="tracking_phone",
        ) from None


def record_call(call: Call, *, delivery: Delivery) -> dict[str, Any]:
    """Record a call as a touch of its caller on the tracking number's campaign; returns what
    it wrote. A test delivery checks the call and records nothing."""
    from leads.services import contact_touched

    if delivery.test:
        try:
            campaign = tracking_campaign(call.tracking).name
        except InvalidInput:
            campaign = None
        return {
            "test": True,
            "call": call.key,
            "tracking_phone": call.tracking,
            "campaign": campaign,
        }
    existing = Touchpoint.objects.filter(external_id=call.key).first()
    if existing is not None:
        # Another callback of the same call (a status, a modification): recorded already.
        return {"touch": existing.pk, "contact": existing.contact_id, "created": False}
    campaign = tracking_campaign(call.tracking)
    if not phone_e164(call.caller):
        raise Ignored("The caller's number is withheld: there is no one to record the call for.")
    first, last = person_name(call.name)
    contact, touch, created = contact_touched(
        phone=call.caller,
        first_name=first,
        last_name=last,
        stage=Stage.LEAD,
        touch={
            "kind": Touchpoint.Kind.CALL,
            "campaign": campaign,
            "occurred_at": call.at,
            "external_id": call.key,
            "metadata": {**call.metadata, "tracking_phone": phone_e164(call.tracking)},
        },
        via=Via.CONNECTOR,
    )
    return {"touch": touch.pk, "contact": contact.pk, "created": True, "new_contact": created}


# --- Twilio --------------------------------------------------------------------------------------

# A call's last status callback; the others (queued, initiated, ringing, in-progress) say the
# call is not over: ignored, the final one records it.
TWILIO_FINAL = ("completed", "busy", "no-answer", "failed", "canceled")
# What Twilio puts in From for a caller who hides their number.
TWILIO_WITHHELD = {"+266696687", "+86282452253", "+8656696", "+2562533", "+7378742833"}


def twilio_signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """X-Twilio-Signature as Twilio computes it: the base64 HMAC-SHA1, keyed with the account's
    Auth Token, of the full address Twilio called followed by each POST parameter's name and
    value, sorted by name."""
    signed = url + "".join(name + value for name, value in sorted(params))
    mac = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1)
    return b64encode(mac.digest()).decode()


def _addresses(url: str) -> list[str]:
    """The address without a port, with its own, and with its scheme's default one: Twilio's
    libraries accept either, since the port Twilio signs with depends on how the number's
    webhook address was typed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    ports = dict.fromkeys(p for p in (parts.port, default) if p)
    return [
        urlunsplit(parts._replace(netloc=host)),
        *(urlunsplit(parts._replace(netloc=f"{host}:{port}")) for port in ports),
    ]


def _form(body: bytes) -> list[tuple[str, str]] | None:
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None


class Twilio(WebhookProvider):
    """Twilio's voice status callback: a form post of the call (CallSid, CallStatus, From, To,
    Direction, Timestamp…), signed in X-Twilio-Signature with the account's Auth Token over the
    address Twilio called and the parameters (`twilio_signature`)."""

    kind = Connector.Kind.TWILIO

    def verify(self, connector: Connector, request: HttpRequest, body: bytes) -> bool:
        from connectors.services import connector_secret

        secret = connector_secret(connector)
        given = request.headers.get("X-Twilio-Signature")
        params = _form(body)
        if not secret or not given or params is None:
            return False
        # The address as Twilio called it: scheme and host as the proxy saw them
        # (DJANGO_BEHIND_PROXY, docs/connectors.md), path and query as sent.
        url = request.build_absolute_uri()
        if not any(
            secrets.same(given, twilio_signature(secret, address, params))
            for address in _addresses(url)
        ):
            return False
        account = dict(params).get("AccountSid", "")
        return not connector.account or account == connector.account.strip()

    def describe(self, connector: Connector, request: HttpRequest, body: bytes) -> Incoming:
        params = dict(_form(body) or [])
        sid, status = _text(params.get("CallSid")), _text(params.get("CallStatus"))
        if not sid or not status:
            raise BadDelivery("A voice status callback names its CallSid and CallStatus.")
        return Incoming(
            topic=f"voice/{status}",
            delivery_id=f"{sid}:{status}",
            meta={"account": _text(params.get("AccountSid"))},
        )

    def call(self, delivery: Delivery, params: dict[str, str]) -> Call:
        sid = _text(params.get("CallSid"), 64)
        if not sid:
            raise InvalidInput("The callback has no CallSid.", field="CallSid")
        status = _text(params.get("CallStatus"), 20)
        if _text(params.get("Direction"), 20) != "inbound":
            raise Ignored("An outbound call: only calls to a tracking number are recorded.")
        if status not in TWILIO_FINAL:
            raise Ignored(f"The call is {status or 'in an unknown state'}: recorded when it ends.")
        stamp = _text(params.get("Timestamp"), 64)
        try:
            at = email.utils.parsedate_to_datetime(stamp) if stamp else None
        except (TypeError, ValueError):
            raise InvalidInput(f"{stamp!r} is not a time.", field="Timestamp") from None
        duration = _seconds(params.get("CallDuration"))
        if at is not None and duration:
            # The final callback is sent when the call ends; the touch is when it began.
            at -= dt.timedelta(seconds=duration)
        caller = _text(params.get("From") or params.get("Caller"), 32)
        metadata: dict[str, Any] = {"provider": "twilio", "status": status}
        if duration is not None:
            metadata["duration"] = duration
        return Call(
            key=f"twilio:{sid}",
            at=_when(at, delivery),
            caller="" if caller in TWILIO_WITHHELD else caller,
            tracking=_text(params.get("To") or params.get("Called"), 32),
            name=_text(params.get("CallerName")),
            metadata=metadata,
        )

    def process(self, delivery: Delivery) -> dict[str, Any]:
        params = dict(_form(delivery.body.encode()) or [])
        return record_call(self.call(delivery, params), delivery=delivery)

    def sample(self, connector: Connector, secret: str) -> Sample:
        path = reverse("connector-webhook", kwargs={"kind": self.kind, "key": connector.key})
        params = [
            ("AccountSid", connector.account or "AC00000000000000000000000000000000"),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", "CA00000000000000000000000000000000"),
            ("CallStatus", "completed"),
            ("CallDuration", "30"),
            ("Direction", "inbound"),
            ("From", "+15005550006"),
            ("To", "+15005550001"),
            ("Timestamp", email.utils.format_datetime(timezone.now().astimezone(dt.UTC))),
        ]
        # The test request is built here, not sent over the network: it is addressed to
        # localhost (always an allowed host) and signed for that address.
        return Sample(
            body=urlencode(params).encode(),
            content_type="application/x-www-form-urlencoded",
            headers={
                "Host": "localhost",
                "X-Twilio-Signature": twilio_signature(secret, f"http://localhost{path}", params),
            },
            path=path,
        )


# --- CallRail ------------------------------------------------------------------------------------


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadDelivery("The body is not JSON.") from None
    if not isinstance(data, dict):
        raise BadDelivery("The body is not a JSON object.")
    return data


# The call webhooks CallRail sends; the address may name which one with ?event= (each has its
# own address field in CallRail). Any of them records the call once.
CALLRAIL_EVENTS = ("pre_call", "call_routing_complete", "post_call", "call_modified")


class CallRail(WebhookProvider):
    """CallRail's call webhooks (post-call above all): the call as JSON, signed in the
    `Signature` header with the company's webhook signing key: the base64 HMAC-SHA1 of the
    body."""

    kind = Connector.Kind.CALLRAIL

    def verify(self, connector: Connector, request: HttpRequest, body: bytes) -> bool:
        from connectors.services import connector_secret

        secret = connector_secret(connector)
        given = request.headers.get("Signature")
        if not secrets.same(given, secrets.hmac_base64(secret, body, "sha1") if secret else ""):
            return False
        if not connector.account:
            return True
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return True  # described as a bad delivery (400) next
        if not isinstance(data, dict):
            return True
        companies = {_text(data.get("company_resource_id")), _text(data.get("company_id"))}
        return connector.account.strip() in companies - {""}

    def describe(self, connector: Connector, request: HttpRequest, body: bytes) -> Incoming:
        data = _json(body)
        call_id = _text(data.get("resource_id") or data.get("id"), 64)
        if not call_id:
            raise BadDelivery("The call has no resource_id.")
        event = request.GET.get("event", "")
        topic = event if event in CALLRAIL_EVENTS else "post_call"
        return Incoming(
            topic=topic,
            delivery_id=f"{call_id}:{topic}",
            meta={"company": _text(data.get("company_resource_id") or data.get("company_id"))},
        )

    def call(self, delivery: Delivery, data: dict[str, Any]) -> Call:
        call_id = _text(data.get("resource_id") or data.get("id"), 64)
        if not call_id:
            raise InvalidInput("The call has no resource_id.", field="resource_id")
        if _text(data.get("direction"), 20) == "outbound":
            raise Ignored("An outbound call: only calls to a tracking number are recorded.")
        start = _text(data.get("start_time"), 64)
        at = parse_datetime(start) if start else None
        if start and at is None:
            raise InvalidInput(f"{start!r} is not a time.", field="start_time")
        metadata: dict[str, Any] = {"provider": "callrail"}
        if isinstance(data.get("answered"), bool):
            metadata["answered"] = data["answered"]
        duration = _seconds(data.get("duration"))
        if duration is not None:
            metadata["duration"] = duration
        for name in ("call_type", "source_name", "utm_source", "utm_campaign", "gclid"):
            if _text(data.get(name)):
                metadata[name] = _text(data.get(name), 200)
        if _text(data.get("landing_page_url")):
            metadata["landing_page"] = _text(data.get("landing_page_url"), 200)
        return Call(
            key=f"callrail:{call_id}",
            at=_when(at, delivery),
            caller=_text(data.get("customer_phone_number") or data.get("callernum"), 32),
            tracking=_text(data.get("tracking_phone_number") or data.get("trackingnum"), 32),
            name=_text(data.get("customer_name")),
            metadata=metadata,
        )

    def process(self, delivery: Delivery) -> dict[str, Any]:
        data = _json(delivery.body.encode())
        return record_call(self.call(delivery, data), delivery=delivery)

    def sample(self, connector: Connector, secret: str) -> Sample:
        body = json.dumps(
            {
                "resource_id": "CAL00000000000000000000000000000000",
                "company_resource_id": connector.account or "COM00000000000000000000000000000000",
                "answered": True,
                "direction": "inbound",
                "duration": "30",
                "start_time": timezone.now().isoformat(),
                "customer_name": "Test Caller",
                "customer_phone_number": "+15005550006",
                "tracking_phone_number": "+15005550001",
                "source_name": "Test",
            }
        ).encode()
        return Sample(
            body=body,
            content_type="application/json",
            headers={"Signature": secrets.hmac_base64(secret, body, "sha1")},
        )


TWILIO = register(Twilio())
CALLRAIL = register(CallRail())
