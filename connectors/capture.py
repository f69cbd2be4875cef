"""Website capture: the form fills the capture script sends from the business's own site
(SPEC §10 "Website capture").

The script (`connectors/static/connectors/capture.js`) keeps, for the visit, where it first
came from and where it came from latest (UTM parameters, click ids, the referring site) and
sends a form fill that carries an email, with both. The endpoint (`connectors.views.capture`)
answers the site's allowed origins only, counts requests per key and per client address in the
cache, drops honeypot submissions, validates the fill and records it as a delivery (the client's
submission id is its delivery id, so a retried POST records once); a worker processes it here:
the person becomes a lead (or is found, and a follower moves up to lead) with a `form` touch at
the submission on the latest attribution, and a `visit` touch at the visit's start on the first
one when it says something else.

Nothing here stores the client's address or sets a cookie: the address is only hashed into a
rate counter's cache key, and the delivery keeps the validated fill, its origin and its consent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache as default_cache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework import serializers

from campaigns.errors import InvalidInput
from campaigns.inputs import StrictInput
from connectors import services
from connectors.landing import CLICK_IDS, LIMIT, UTM, params, touch_from
from connectors.models import Connector, Delivery
from connectors.providers import Incoming, Provider, Sample, register
from leads.models import Touchpoint, Via
from leads.serializers import EmailAddress, text
from leads.services import contact_touched, touchpoint_record

TOPIC = "form"
# The field the script fills from its honeypot input: people never see it, bots fill it.
HONEYPOT = "hp"
# A visit's first touch is at most this long before the fill (the script's sessionStorage
# lives as long as the tab; a clock that says more is wrong, not a week-long visit).
MAX_AGE_SECONDS = 24 * 3600
# The payload nests two levels (the fill, its attribution objects); anything deeper is not one.
MAX_NESTING = 3
# Browsers cap a preflight's cache anyway (Chromium at two hours).
PREFLIGHT_MAX_AGE = 7200
DEFAULT_PORTS = {"http": 80, "https": 443}


# --- origins ------------------------------------------------------------------------------------


def origin_key(value: str) -> str:
    """An origin as browsers send it, compared exactly: scheme://host[:port], lower case, the
    scheme's default port left out; "" for anything that is not an http(s) origin ("null",
    a path, credentials)."""
    try:
        parts = urlsplit(str(value or "").strip())
        port = parts.port
    except ValueError:
        return ""
    if (
        parts.scheme.lower() not in DEFAULT_PORTS
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        return ""
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6
    if port is not None and port != DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def origin_allowed(connector: Connector, origin: str) -> bool:
    """Whether the site connector lists this request's Origin (exact scheme, host and port)."""
    key = origin_key(origin)
    return bool(key) and key in {origin_key(allowed) for allowed in connector.origins()}


def own_hosts(connector: Connector) -> tuple[str, ...]:
    """The site's own hosts: a referrer from one of them is a page of the visit, not a source."""
    return tuple(
        host
        for allowed in connector.origins()
        if (host := (urlsplit(origin_key(allowed)).hostname or ""))
    )


# --- rate limits --------------------------------------------------------------------------------

# Counters while the shared cache is away: per process (like the API's throttle, config.api).
_LOCAL_COUNTERS = LocMemCache("capture-rate-fallback", {"OPTIONS": {"MAX_ENTRIES": 10_000}})


def _counters():
    return default_cache if getattr(default_cache, "available", True) else _LOCAL_COUNTERS


def address_hash(address: str) -> str:
    """The client's address as a keyed hash: what the rate counter's cache key holds instead
    of the address (which is never stored, in the cache or the database)."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"capture:{address}".encode(), hashlib.sha256
    ).hexdigest()
    return digest[:32]


def _count(name: str, rate: tuple[int, int], now: float) -> int | None:
    """Count one request in the fixed window `rate` names; the seconds to wait when over it."""
    limit, window = rate
    start = int(now // window) * window
    key = f"capture-rate:{name}:{start}"
    cache = _counters()
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr, or the cache just went away
        count = 1
    if count > limit:
        return max(1, int(start + window - now + 0.999))
    return None


def throttle_wait(*, connector: Connector, address: str) -> int | None:
    """None when this request may go on; else the seconds until it may (Retry-After). The
    address's own limit is checked first, so a flood from one address is refused without
    eating the rest of the site's budget."""
    now = time.time()
    wait = _count(
        f"{connector.pk}:a:{address_hash(address or '-')}",
        settings.CAPTURE_RATE_PER_ADDRESS,
        now,
    )
    if wait is None:
        wait = _count(f"{connector.pk}:k", settings.CAPTURE_RATE_PER_KEY, now)
    return wait


# --- input --------------------------------------------------------------------------------------


class Clipped(serializers.CharField):
    """Attribution text: clipped to the length a touch keeps rather than refused (a long click
    id must not lose the lead); the body's size cap bounds what arrives."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, allow_blank=True, trim_whitespace=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        return super().to_internal_value(data)[:LIMIT]


def _page(url: str, *, path: bool = True) -> str:
    """A page's address without its query and fragment (they may carry personal data), or
    only its origin; "" when it is not an http(s) address."""
    try:
        parts = urlsplit(str(url or "").strip())
        origin = origin_key(f"{parts.scheme}://{parts.netloc}") if parts.netloc else ""
    except ValueError:
        return ""
    if not origin:
        return ""
    return f"{origin}{parts.path or '/'}"[:LIMIT] if path else origin


class AttributionInput(serializers.Serializer):
    """Where the visit came from, as the script read it off the page's address and referrer."""

    utm_source = Clipped()
    utm_medium = Clipped()
    utm_campaign = Clipped()
    utm_content = Clipped()
    utm_term = Clipped()
    fbclid = Clipped()
    gclid = Clipped()
    li_fat_id = Clipped()
    ttclid = Clipped()
    msclkid = Clipped()
    referrer = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    landing_page = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        landing = attrs.get("landing_page", "")
        # Tags the script missed on the landing address still count; the ones it sent win.
        tags = {**params(landing), **{k: v for k, v in attrs.items() if k in (*UTM, *CLICK_IDS)}}
        cleaned = {name: value for name, value in tags.items() if value}
        # Kept: the referring site's origin (its path and query may carry personal data) and
        # the landing page's path.
        if referrer := _page(attrs.get("referrer", ""), path=False):
            cleaned["referrer"] = referrer
        if page := _page(landing):
            cleaned["landing_page"] = page
        return cleaned


class StrictBoolean(serializers.Field):
    """true, false or null (no consent box on the form): nothing a JSON boolean is not."""

    default_error_messages = {"invalid": "Must be true, false or null."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class CaptureInput(StrictInput):
    """A form fill, as the capture script sends it (`key` and the honeypot are read before)."""

    submission_id = serializers.UUIDField(
        help_text="Made by the script for this submission: a retried POST records once."
    )
    email = EmailAddress(max_length=254)
    first_name = text(100)
    last_name = text(100)
    phone = text(32)
    company = text(200)
    heard_about = text(200)
    form = text(100)
    consent = StrictBoolean(required=False, allow_null=True, default=None)
    first = AttributionInput(required=False)
    latest = AttributionInput(required=False)
    age_seconds = serializers.IntegerField(required=False, default=0)

    def validate_age_seconds(self, value: int) -> int:
        return min(max(value, 0), MAX_AGE_SECONDS)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["submission_id"] = str(attrs["submission_id"])
        return attrs


def is_bot(data: dict[str, Any]) -> bool:
    """The honeypot is filled: answered like a success, recorded nowhere."""
    value = data.get(HONEYPOT)
    return bool(value) and (not isinstance(value, str) or bool(value.strip()))


def receive(*, connector: Connector, fill: dict[str, Any], origin: str) -> tuple[Delivery, bool]:
    """Record a validated fill as a delivery, processed on a worker; returns (delivery,
    created). The delivery keeps the fill and the site's origin: no address, no headers."""
    body = json.dumps(fill, ensure_ascii=False, sort_keys=True).encode()
    return services.delivery_receive(
        connector=connector,
        incoming=Incoming(
            topic=TOPIC,
            delivery_id=fill["submission_id"],
            meta={"origin": origin_key(origin), "consent": fill.get("consent")},
        ),
        body=body,
        content_type="application/json",
    )


# --- processing ---------------------------------------------------------------------------------


def _touch(attribution: dict[str, Any], connector: Connector) -> dict[str, Any] | None:
    given = {name: attribution[name] for name in (*UTM, *CLICK_IDS) if attribution.get(name)}
    return touch_from(
        given, referrer=attribution.get("referrer", ""), own_hosts=own_hosts(connector)
    )


class Site(Provider):
    """A website's capture script: deliveries are form fills (`connectors.views.capture`)."""

    kind = Connector.Kind.SITE

    def sample(self, connector: Connector, secret: str) -> Sample:
        raise InvalidInput(
            "A website has no test delivery: submit a form marked data-social-roi on the site "
            "and see it in the connector's deliveries."
        )

    def process(self, delivery: Delivery) -> dict[str, Any]:
        """The lead and its touches. A fill with no source at all (typed in, a bookmark) is a
        `direct` form touch: the person came to the site by themselves."""
        fill = json.loads(delivery.body)
        connector = delivery.connector
        first = fill.get("first") or {}
        latest = fill.get("latest") or first
        at = delivery.received_at
        common = {"consent": fill.get("consent")}
        if fill.get("form"):
            common["form"] = fill["form"]
        made = _touch(latest, connector) or {"source": "", "utm_campaign": "", "metadata": {}}
        made["metadata"] = {
            **made["metadata"],
            **({"landing_page": latest["landing_page"]} if latest.get("landing_page") else {}),
            **common,
        }
        person = {
            "email": fill["email"],
            "phone": fill.get("phone", ""),
            "first_name": fill.get("first_name", ""),
            "last_name": fill.get("last_name", ""),
            "company": fill.get("company", ""),
        }
        if fill.get("heard_about"):
            person["heard_about"] = fill["heard_about"]
        key = f"capture:{connector.pk}:{fill['submission_id']}"
        contact, touch, created = contact_touched(
            **person,
            touch={
                **made,
                "kind": Touchpoint.Kind.FORM,
                "occurred_at": at,
                "external_id": f"{key}:form",
            },
            via=Via.CONNECTOR,
        )
        written: dict[str, Any] = {"contact": contact.pk, "touch": touch.pk, "created": created}
        landed = _touch(first, connector)
        if landed is not None and landed != _touch(latest, connector):
            landed["metadata"] = {
                **landed["metadata"],
                **({"landing_page": first["landing_page"]} if first.get("landing_page") else {}),
                **common,
            }
            visit, _ = touchpoint_record(
                contact=contact,
                kind=Touchpoint.Kind.VISIT,
                occurred_at=at - dt.timedelta(seconds=int(fill.get("age_seconds") or 0)),
                external_id=f"{key}:visit",
                **landed,
            )
            written["visit"] = visit.pk
        return written


SITE = register(Site())
