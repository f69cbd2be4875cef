"""The webhook door: verify, record, answer. Processing happens on a worker
(`connectors.tasks.process_delivery`), so a shop or a phone provider gets its answer at once
and never times out into a retry storm."""

from __future__ import annotations

import json
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.lockout import client_ip
from config.api import nesting
from connectors import capture as site
from connectors import services
from connectors.models import Connector
from connectors.providers import BadDelivery, WebhookProvider, provider_for


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, kind: str, key: str) -> JsonResponse:
    """POST /api/v1/hooks/<kind>/<key>/: one delivery from a shop or a phone provider.

    401 when the signature is bad or missing (nothing is recorded); 200 once the delivery is
    recorded, or when it was recorded already (a retry); 404 for a key that names no active
    connector of that kind."""
    connector = Connector.objects.filter(kind=kind, key=key, active=True).first()
    provider = provider_for(kind)
    if connector is None or not isinstance(provider, WebhookProvider):
        return JsonResponse({"detail": "No such connector."}, status=404)
    body = request.body
    if provider.is_ping(request, body):
        return JsonResponse({"status": "pong"})
    if not provider.verify(connector, request, body):
        return JsonResponse({"detail": "The signature is missing or does not match."}, status=401)
    try:
        incoming = provider.describe(connector, request, body)
    except BadDelivery as bad:
        return JsonResponse({"detail": str(bad)}, status=400)
    if incoming.ping:
        return JsonResponse({"status": "pong"})
    delivery, created = services.delivery_receive(
        connector=connector,
        incoming=incoming,
        body=body,
        content_type=request.content_type or "",
    )
    return JsonResponse(
        {"status": "recorded" if created else "already recorded", "delivery": delivery.pk}
    )


# The shape of a publishable key (`secrets.new_key`): anything else names no site, and is never
# handed to the database (a NUL in it would be a 500 there).
SITE_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")


def _answer(payload: dict | None, status: int, origin: str = "") -> HttpResponse:
    """The capture endpoint's answers: never cached, varying by Origin; with the CORS headers
    only when `origin` is one the site allowed (a refused origin learns nothing, and its page
    cannot read the answer)."""
    response = (
        JsonResponse(payload, status=status) if payload is not None else HttpResponse(status=status)
    )
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ["Origin"])
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = str(site.PREFLIGHT_MAX_AGE)
    return response


def _site(key: object) -> Connector | None:
    if not isinstance(key, str) or not SITE_KEY.fullmatch(key):
        return None
    return Connector.objects.filter(kind=Connector.Kind.SITE, key=key, active=True).first()


RECORDED = {"status": "recorded"}


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def capture(request: HttpRequest) -> HttpResponse:
    """POST /api/v1/capture/: a form fill from a business's site, sent by the capture script.

    The body is JSON, sent as text/plain (a CORS "simple" request: no preflight) or
    application/json; the site's publishable key is its `key` (or `?key=`, which is how a
    preflight names the site). 404 for a key that names no active site; 403, without CORS
    headers, for an Origin the site does not list; 429 with Retry-After over the rate per
    address or per key; 400 with field messages for bad input; 200 once recorded, and the same
    200 for a retry and for a honeypot submission (recorded nowhere). It sets no cookie and
    keeps no address: it reads neither the session nor the CSRF token."""
    origin = request.headers.get("Origin", "")
    if request.method == "OPTIONS":
        connector = _site(request.GET.get("key"))
        if connector is None:
            return _answer({"detail": "No such site."}, 404)
        if not site.origin_allowed(connector, origin):
            return _answer({"detail": "This origin may not send to this site."}, 403)
        return _answer(None, 204, origin)
    limit = settings.CAPTURE_MAX_BODY_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit or len(body := request.body) > limit:
        return _answer({"detail": f"The request body is larger than {limit} bytes."}, 413)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _answer({"detail": "The body is not JSON."}, 400)
    if not isinstance(data, dict):
        return _answer({"detail": "The body is not a JSON object."}, 400)
    connector = _site(data.get("key", request.GET.get("key")))
    if connector is None:
        return _answer({"detail": "No such site."}, 404)
    if not site.origin_allowed(connector, origin):
        return _answer({"detail": "This origin may not send to this site."}, 403)
    wait = site.throttle_wait(connector=connector, address=client_ip(request) or "")
    if wait is not None:
        response = _answer({"detail": "Too many requests: slow down."}, 429, origin)
        response["Retry-After"] = str(wait)
        return response
    if nesting(data) > site.MAX_NESTING:
        return _answer({"detail": "The body nests deeper than a form fill does."}, 400, origin)
    if site.is_bot(data):
        return _answer(RECORDED, 200, origin)  # the same answer as a success: bots learn nothing
    fill = site.CaptureInput(data=data)
    if not fill.is_valid():
        return _answer(fill.errors, 400, origin)
    site.receive(connector=connector, fill=fill.validated_data, origin=origin)
    return _answer(RECORDED, 200, origin)
