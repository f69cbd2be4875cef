"""The webhook door: verify, record, answer. Processing happens on a worker
(`connectors.tasks.process_delivery`), so a shop or a phone provider gets its answer at once
and never times out into a retry storm."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from connectors import services
from connectors.models import Connector
from connectors.providers import BadDelivery, provider_for

WEBHOOK_KINDS = (
    Connector.Kind.SHOPIFY,
    Connector.Kind.WOOCOMMERCE,
    Connector.Kind.TWILIO,
    Connector.Kind.CALLRAIL,
)


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, kind: str, key: str) -> JsonResponse:
    """POST /api/v1/hooks/<kind>/<key>/: one delivery from a shop or a phone provider.

    401 when the signature is bad or missing (nothing is recorded); 200 once the delivery is
    recorded, or when it was recorded already (a retry); 404 for a key that names no active
    connector of that kind."""
    connector = Connector.objects.filter(kind=kind, key=key, active=True).first()
    provider = provider_for(kind) if kind in WEBHOOK_KINDS else None
    if connector is None or provider is None:
        return JsonResponse({"detail": "No such connector."}, status=404)
    body = request.body
    if getattr(provider, "is_ping", None) and provider.is_ping(request, body):
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
