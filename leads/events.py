"""POST /api/v1/events/: up to 1,000 mixed events in one call, each applied on its own.

Every event goes through the same input serializer and service as its single-resource endpoint,
inside its own savepoint: a bad event is reported in its result and rolled back alone, the good
ones land. Results come back in input order.
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
from campaigns.models import EngagementStat
from campaigns.serializers import EngagementSerializer
from campaigns.services import ENGAGEMENT_FIELDS, engagement_upsert
from leads.apis import contact_replay
from leads.models import Contact, Via
from leads.serializers import ContactInput, PurchaseInput, TouchpointInput
from leads.services import contact_create, purchase_record, touchpoint_record

MAX_EVENTS = 1000
PERMISSIONS = {
    "contact": "leads.add_contact",
    "touch": "leads.add_touchpoint",
    "purchase": "leads.add_purchase",
    "engagement": "campaigns.add_engagementstat",
}


class EventBatchInput(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.JSONField(),
        min_length=1,
        max_length=MAX_EVENTS,
        help_text='Each: {"type": contact|touch|purchase|engagement, "external_id": ..., ...fields}.',
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


def _errors(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()
        }
    if isinstance(detail, list):
        return {"non_field_errors": [str(m) for m in detail]}
    return {"non_field_errors": [str(detail)]}


def apply_contact(event: dict, user) -> tuple[Any, bool]:
    serializer = ContactInput(data=event)
    serializer.is_valid(raise_exception=True)
    data = dict(serializer.validated_data)
    external_id = data.pop("external_id", "") or None
    source = data.pop("utm_source", "")
    if external_id and (existing := Contact.objects.filter(external_id=external_id).first()):
        return contact_replay(existing, data), False
    return contact_create(
        **data, source=source, external_id=external_id, by=user, via=Via.API
    ), True


def apply_touch(event: dict, user) -> tuple[Any, bool]:
    serializer = TouchpointInput(data=event)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    return touchpoint_record(
        contact=data["contact"],
        kind=data["kind"],
        occurred_at=data.get("occurred_at"),
        channel=data.get("channel"),
        campaign=data.get("campaign"),
        source=data.get("utm_source", ""),
        utm_campaign=data.get("utm_campaign", ""),
        tracking_phone=data.get("tracking_phone", ""),
        external_id=data.get("external_id") or None,
        metadata=data.get("metadata"),
    )


def apply_purchase(event: dict, user) -> tuple[Any, bool]:
    serializer = PurchaseInput(data=event)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    walk_in = {k: data[k] for k in ("first_name", "last_name", "phone") if data.get(k)}
    return purchase_record(
        contact=data["contact"],
        email=data.get("email", ""),
        amount=data["amount"],
        discount=data.get("discount") or 0,
        occurred_at=data.get("occurred_at"),
        coupon=data.get("coupon"),
        external_id=data.get("external_id") or None,
        note=data.get("note", ""),
        contact_fields=walk_in,
        by=user,
        via=Via.API,
    )


def apply_engagement(event: dict, user) -> tuple[Any, bool]:
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
    "contact": apply_contact,
    "touch": apply_touch,
    "purchase": apply_purchase,
    "engagement": apply_engagement,
}


def apply_event(index: int, event: Any, user) -> dict:
    """One event in its own savepoint; a failure is its result, never the batch's."""
    result = {
        "index": index,
        "type": None,
        "external_id": None,
        "status": "error",
        "id": None,
        "code": 400,
    }
    if not isinstance(event, dict):
        result["errors"] = {"non_field_errors": ["Each event must be a JSON object."]}
        return result
    kind = event.get("type")
    result["type"] = kind if isinstance(kind, str) else None
    external_id = event.get("external_id")
    result["external_id"] = external_id if isinstance(external_id, str) else None
    if kind not in APPLY:
        result["errors"] = {"type": [f"Must be one of: {', '.join(APPLY)}."]}
        return result
    if kind != "engagement" and not (isinstance(external_id, str) and external_id.strip()):
        result["errors"] = {
            "external_id": ["Every contact, touch and purchase event needs an external_id."]
        }
        return result
    if not user.has_perm(PERMISSIONS[kind]):
        result.update(code=403, errors={"type": [f"You may not send {kind} events."]})
        return result
    try:
        with transaction.atomic():
            row, created = APPLY[kind]({k: v for k, v in event.items() if k != "type"}, user)
    except DRFValidationError as exc:
        result["errors"] = _errors(exc.detail)
    except DomainError as exc:
        result.update(code=exc.status_code, errors=exc.as_dict())
    except IntegrityError:
        result.update(
            code=409,
            errors={"non_field_errors": ["Conflicts with stored data; nothing was written."]},
        )
    else:
        result.update(
            status="created" if created else "unchanged", id=row.pk, code=201 if created else 200
        )
    return result


class EventBatchView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=EventBatchInput,
        responses={200: EventBatchOutput},
        examples=[BATCH_EXAMPLE],
        summary="Send up to 1,000 contact, touch, purchase and engagement events",
    )
    def post(self, request: Request) -> Response:
        if not any(request.user.has_perm(p) for p in PERMISSIONS.values()):
            raise PermissionDenied("You may not send events.")
        batch = EventBatchInput(data=request.data)
        batch.is_valid(raise_exception=True)
        with transaction.atomic():
            results = [
                apply_event(i, event, request.user)
                for i, event in enumerate(batch.validated_data["events"])
            ]
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
