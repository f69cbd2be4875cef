"""POST /api/v1/events/: up to 1,000 mixed events in one call, each applied on its own.

Every event is validated by the same input serializer as its single-resource endpoint and
decided by the same rules (`leads.rules`), so it gets the answer and the rows that sending it
alone would give, in the order the batch applies them (contacts, touches, purchases, then
refunds and engagement; each in input order: a refund may name a purchase of the same batch).
Plain events take the batch door (`leads.bulk`: references preloaded per phase, rows written
in bulk); the others the per-event door, each in its own savepoint. A bad event is reported
in its result and written nowhere; the good ones land. Results come back in input order.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.errors import DomainError
from campaigns.inputs import storable
from campaigns.models import EngagementStat
from campaigns.serializers import EngagementSerializer
from campaigns.services import ENGAGEMENT_FIELDS, engagement_upsert
from config.api import exception_handler as api_exception_handler
from leads.apis import record_contact, record_purchase, record_refund, record_touch
from leads.bulk import (
    BatchRaced,
    BatchRefs,
    BulkContactInput,
    BulkPurchaseInput,
    BulkTouchInput,
    contacts_create_bulk,
    purchases_record_bulk,
    touchpoints_record_bulk,
)
from leads.models import Via

MAX_EVENTS = 1000
PERMISSIONS = {
    "contact": "leads.add_contact",
    "touch": "leads.add_touchpoint",
    "purchase": "leads.add_purchase",
    "refund": "leads.add_refund",
    "engagement": "campaigns.add_engagementstat",
}


class EventBatchInput(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.JSONField(allow_null=True),
        min_length=1,
        max_length=MAX_EVENTS,
        help_text=(
            'Each: {"type": contact|touch|purchase|refund|engagement, "external_id": ..., '
            "...fields}."
        ),
    )


class EventResult(serializers.Serializer):
    index = serializers.IntegerField()
    type = serializers.CharField(allow_null=True)
    external_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["created", "unchanged", "error"])
    id = serializers.IntegerField(allow_null=True)
    code = serializers.IntegerField(help_text="The HTTP status the event alone would have had.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class EventBatchOutput(serializers.Serializer):
    results = EventResult(many=True)
    created = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = serializers.IntegerField()


BATCH_EXAMPLE = OpenApiExample(
    "Followers, a touch and a purchase",
    request_only=True,
    value={
        "events": [
            {
                "type": "contact",
                "external_id": "ig-1001",
                "email": "ada@example.com",
                "utm_source": "ig",
                "entered_at": "2026-03-02T10:00:00Z",
            },
            {
                "type": "touch",
                "external_id": "click-1",
                "email": "ada@example.com",
                "channel": "instagram",
                "kind": "click",
                "occurred_at": "2026-03-03T12:00:00Z",
            },
            {
                "type": "purchase",
                "external_id": "order-1001",
                "email": "ada@example.com",
                "amount": "85.00",
                "coupon": "INSTA10",
                "occurred_at": "2026-03-20T16:45:00Z",
            },
            {
                "type": "engagement",
                "campaign": 1,
                "date": "2026-03-02",
                "impressions": 12000,
                "clicks": 115,
            },
        ]
    },
)


# What the batch above answers on a first run: one result per event, in input order, and the
# counts. (A second run answers "unchanged" for the three events with an external_id.)
BATCH_RESULT_EXAMPLE = OpenApiExample(
    "Followers, a touch and a purchase",
    response_only=True,
    status_codes=["200"],
    value={
        "results": [
            {
                "index": 0,
                "type": "contact",
                "external_id": "ig-1001",
                "status": "created",
                "id": 41,
                "code": 201,
            },
            {
                "index": 1,
                "type": "touch",
                "external_id": "click-1",
                "status": "created",
                "id": 310,
                "code": 201,
            },
            {
                "index": 2,
                "type": "purchase",
                "external_id": "order-1001",
                "status": "created",
                "id": 87,
                "code": 201,
            },
            {
                "index": 3,
                "type": "engagement",
                "external_id": None,
                "status": "created",
                "id": 12,
                "code": 201,
            },
        ],
        "created": 4,
        "unchanged": 0,
        "errors": 0,
    },
)


def _errors(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()
        }
    if isinstance(detail, list):
        return {"non_field_errors": [str(m) for m in detail]}
    return {"non_field_errors": [str(detail)]}


def apply_engagement(event: dict, user, via: str = Via.API) -> tuple[Any, bool]:
    serializer = EngagementSerializer(data=event)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    existed = EngagementStat.objects.filter(campaign=data["campaign"], date=data["date"]).exists()
    row = engagement_upsert(
        campaign=data["campaign"],
        date=data["date"],
        **{k: data.get(k, 0) for k in ENGAGEMENT_FIELDS},
    )
    return row, not existed


APPLY = {
    "contact": record_contact,
    "touch": record_touch,
    "purchase": record_purchase,
    "refund": record_refund,
    "engagement": apply_engagement,
}


def _preflight(index: int, event: Any, user) -> dict:
    """The checks every event passes first; returns its result, still "pending" when they pass."""
    result = {
        "index": index,
        "type": None,
        "external_id": None,
        "status": "pending",
        "id": None,
        "code": 400,
    }
    if not isinstance(event, dict):
        result.update(
            status="error", errors={"non_field_errors": ["Each event must be a JSON object."]}
        )
        return result
    kind = event.get("type")
    # Echoed back only when it is text we could store (a lone surrogate cannot even be encoded).
    result["type"] = kind if isinstance(kind, str) and storable(kind) else None
    external_id = event.get("external_id")
    storable_id = isinstance(external_id, str) and storable(external_id)
    result["external_id"] = external_id if storable_id else None
    if not isinstance(kind, str) or kind not in APPLY:
        result.update(status="error", errors={"type": [f"Must be one of: {', '.join(APPLY)}."]})
    elif kind != "engagement" and not (isinstance(external_id, str) and external_id.strip()):
        result.update(
            status="error",
            errors={
                "external_id": [
                    "Every contact, touch, purchase and refund event needs an external_id."
                ]
            },
        )
    elif not user.has_perm(PERMISSIONS[kind]):
        result.update(
            status="error", code=403, errors={"type": [f"You may not send {kind} events."]}
        )
    return result


def apply_event(result: dict, event: dict, user, via: str = Via.API) -> None:
    """One event through its single-resource path, in its own savepoint."""
    try:
        with transaction.atomic():
            row, created = APPLY[event["type"]](
                {k: v for k, v in event.items() if k != "type"}, user, via
            )
    except DRFValidationError as exc:
        result.update(status="error", code=400, errors=_errors(exc.detail))
    except DomainError as exc:
        result.update(status="error", code=exc.status_code, errors=exc.as_dict())
    except IntegrityError as exc:
        # What the single endpoint answers (the API's one mapping of errors).
        response = api_exception_handler(exc, {})
        result.update(status="error", code=response.status_code, errors=_errors(response.data))
    else:
        result.update(
            status="created" if created else "unchanged", id=row.pk, code=201 if created else 200
        )


BULK = {
    # type: (input serializer, bulk service)
    "contact": (
        BulkContactInput,
        lambda items, refs, user, via: contacts_create_bulk(items, refs=refs, by=user, via=via),
    ),
    "touch": (
        BulkTouchInput,
        lambda items, refs, user, via: touchpoints_record_bulk(items, refs=refs),
    ),
    "purchase": (
        BulkPurchaseInput,
        lambda items, refs, user, via: purchases_record_bulk(items, refs=refs, by=user, via=via),
    ),
}
PHASES = ("contact", "touch", "purchase", None)


def apply_batch(events: list, user, via: str = Via.API) -> list[dict]:
    """Contacts first, then touches, then purchases, then refunds and engagement, so that a
    batch may create a contact and report its touches, orders and refunds together. Contacts,
    touches and purchases go phase by phase through the batch door; refunds and engagement
    through the per-event door (refunds are few, and each locks its purchase). `via` is the
    door the history records (the API, or an import)."""
    results = [_preflight(i, event, user) for i, event in enumerate(events)]
    for phase in PHASES:
        todo = [
            r
            for r in results
            if r["status"] == "pending"
            and (r["type"] == phase or (phase is None and r["type"] not in BULK))
        ]
        if phase in BULK:
            _apply_phase(phase, todo, events, results, user, via)
        else:
            for result in todo:
                apply_event(result, events[result["index"]], user, via)
    return results


def _apply_phase(
    phase: str, todo: list[dict], events: list, results: list[dict], user, via: str
) -> None:
    """One phase: every event validated against references preloaded once, the bulk service's
    writes, then what it deferred through the per-event door, in input order."""
    serializer, service = BULK[phase]
    payloads = {
        r["index"]: {k: v for k, v in events[r["index"]].items() if k != "type"} for r in todo
    }
    refs = BatchRefs(payloads.values())
    # One serializer validates every event of the phase: building a serializer's fields costs
    # more than validating one event with them.
    validator = serializer(context={"refs": refs})
    items = []
    for result in todo:
        try:
            items.append((result["index"], validator.run_validation(payloads[result["index"]])))
        except DRFValidationError as exc:
            result.update(status="error", code=400, errors=_errors(exc.detail))
    if not items:
        return
    try:
        with transaction.atomic():
            outcome = service(items, refs, user, via)
    except (IntegrityError, BatchRaced):
        # A writer raced us (an email, an external_id, a coupon's last redemptions): the phase
        # is rolled back and every event of it takes the careful path, in input order.
        outcome = {index: ("defer", None, 0, None) for index, _ in items}
    for index in sorted(outcome):
        status_, row_id, code, errors = outcome[index]
        if status_ == "defer":
            apply_event(results[index], events[index], user, via)
            continue
        results[index].update(status=status_, id=row_id, code=code)
        if errors:
            results[index]["errors"] = errors


class EventBatchView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=EventBatchInput,
        responses={200: EventBatchOutput},
        examples=[BATCH_EXAMPLE, BATCH_RESULT_EXAMPLE],
        summary="Send up to 1,000 contact, touch, purchase, refund and engagement events",
    )
    def post(self, request: Request) -> Response:
        if not any(request.user.has_perm(p) for p in PERMISSIONS.values()):
            raise PermissionDenied("You may not send events.")
        batch = EventBatchInput(data=request.data)
        batch.is_valid(raise_exception=True)
        with transaction.atomic():
            results = apply_batch(batch.validated_data["events"], request.user)
        counts = {
            s: sum(1 for r in results if r["status"] == s)
            for s in ("created", "unchanged", "error")
        }
        return Response(
            {
                "results": results,
                "created": counts["created"],
                "unchanged": counts["unchanged"],
                "errors": counts["error"],
            },
            status=status.HTTP_200_OK,
        )
