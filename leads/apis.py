"""Contacts, stage moves, history, touchpoints, purchases and refunds over the API (SPEC §4).

Views parse input with the input serializers, call `leads.services`, and answer with the
output serializers; domain errors become 4xx in `config.api.exception_handler`.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.errors import IdempotencyConflict
from config.api import AtomicWritesMixin, NewestFirstCursor, require
from leads.filters import ContactFilter, PurchaseFilter, RefundFilter, TouchpointFilter
from leads.models import Contact, Purchase, Refund, StageChange, Touchpoint, Via
from leads.rules import contact_replay
from leads.selectors import with_refunds
from leads.serializers import (
    ContactInput,
    ContactOutput,
    ContactUpdate,
    MergeInput,
    PurchaseInput,
    PurchaseOutput,
    RefundInput,
    RefundOutput,
    StageChangeOutput,
    TouchpointInput,
    TouchpointOutput,
    TransitionInput,
    contact_arguments,
    purchase_arguments,
    refund_arguments,
    touch_arguments,
)
from leads.services import (
    contact_create,
    contact_erase,
    contact_merge,
    contact_move_stage,
    contact_update,
    purchase_record,
    refund_delete,
    refund_record,
    touchpoint_record,
)

CONTACT_EXAMPLE = OpenApiExample(
    "A follower from Pinterest",
    value={
        "email": "ada@example.com",
        "first_name": "Ada",
        "source_channel": "pinterest",
        "source_campaign": 1,
        "entered_at": "2026-03-02T10:00:00Z",
        "external_id": "form-123",
    },
)
TRANSITION_EXAMPLE = OpenApiExample(
    "Became a lead", value={"stage": "lead", "at": "2026-03-05T09:30:00Z"}
)
MERGE_EXAMPLE = OpenApiExample("Merge contact 42 into this one", value={"other": 42})
TOUCH_EXAMPLE = OpenApiExample(
    "A click from a utm-tagged link",
    value={
        "email": "ada@example.com",
        "utm_source": "l.facebook.com",
        "utm_campaign": "spring-pins",
        "kind": "click",
        "occurred_at": "2026-03-03T12:00:00Z",
        "external_id": "click-9f2",
    },
)
PURCHASE_EXAMPLE = OpenApiExample(
    "An order with a coupon",
    value={
        "email": "ada@example.com",
        "amount": "85.00",
        "discount": "15.00",
        "coupon": "PIN15",
        "occurred_at": "2026-03-20T16:45:00Z",
        "external_id": "order-1001",
    },
)

REFUND_EXAMPLE = OpenApiExample(
    "Part of an order given back",
    value={
        "purchase_external_id": "order-1001",
        "amount": "25.00",
        "occurred_at": "2026-03-24T11:00:00Z",
        "external_id": "refund-5001",
        "note": "one item returned",
    },
)


def record_contact(payload: dict, user, via: str = Via.API) -> tuple[Contact, bool]:
    """A contact from API input: the stored one when its external_id was seen, else a new one."""
    serializer = ContactInput(data=payload)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    arguments = contact_arguments(data)
    external_id = arguments["external_id"]
    if external_id and (existing := Contact.objects.filter(external_id=external_id).first()):
        return contact_replay(existing, data), False
    try:
        return contact_create(**arguments, by=user, via=via), True
    except IdempotencyConflict:
        # The same contact sent twice at once: the other copy committed between our look-up
        # and our insert. Its external_id is stored now, so this copy answers as a replay.
        if external_id and (existing := Contact.objects.filter(external_id=external_id).first()):
            return contact_replay(existing, data), False
        raise


def record_touch(payload: dict, user, via: str = Via.API) -> tuple[Touchpoint, bool]:
    serializer = TouchpointInput(data=payload)
    serializer.is_valid(raise_exception=True)
    return touchpoint_record(**touch_arguments(serializer.validated_data))


def record_purchase(payload: dict, user, via: str = Via.API) -> tuple[Purchase, bool]:
    serializer = PurchaseInput(data=payload)
    serializer.is_valid(raise_exception=True)
    return purchase_record(**purchase_arguments(serializer.validated_data), by=user, via=via)


def record_refund(payload: dict, user, via: str = Via.API) -> tuple[Refund, bool]:
    serializer = RefundInput(data=payload)
    serializer.is_valid(raise_exception=True)
    return refund_record(**refund_arguments(serializer.validated_data), by=user, via=via)


@extend_schema_view(
    list=extend_schema(summary="List and search contacts", examples=[CONTACT_EXAMPLE]),
    retrieve=extend_schema(summary="Read a contact", examples=[CONTACT_EXAMPLE]),
    partial_update=extend_schema(
        summary="Change some of a contact's fields (never its stage)",
        request=ContactUpdate,
        responses=ContactOutput,
        examples=[CONTACT_EXAMPLE],
    ),
    update=extend_schema(
        summary="Replace a contact's fields (never its stage)",
        request=ContactUpdate,
        responses=ContactOutput,
        examples=[CONTACT_EXAMPLE],
    ),
)
class ContactViewSet(
    AtomicWritesMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Contact.objects.select_related(
        "source_channel", "coupon", "heard_channel"
    ).prefetch_related("other_emails", "other_phones")
    serializer_class = ContactOutput
    filterset_class = ContactFilter
    pagination_class = NewestFirstCursor

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return ContactUpdate
        return ContactOutput

    def perform_update(self, serializer) -> None:
        contact_update(contact=serializer.instance, **serializer.validated_data)

    def update(self, request: Request, *args, **kwargs) -> Response:
        super().update(request, *args, **kwargs)
        return Response(ContactOutput(self.get_object()).data)

    @extend_schema(
        summary="Create a contact (idempotent by external_id)",
        request=ContactInput,
        responses={
            201: ContactOutput,
            200: OpenApiResponse(ContactOutput, "The same external_id again"),
        },
        examples=[CONTACT_EXAMPLE],
    )
    def create(self, request: Request) -> Response:
        contact, created = record_contact(request.data, request.user)
        return Response(
            ContactOutput(contact).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Move a contact to another stage",
        request=TransitionInput,
        responses={200: ContactOutput, 409: OpenApiResponse(description="A refused move")},
        examples=[TRANSITION_EXAMPLE],
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str | None = None) -> Response:
        """Move the contact along the funnel; backward only with `force` and its permission."""
        if not require(request.user, "leads.change_contact"):
            raise PermissionDenied
        contact = self.get_object()
        serializer = TransitionInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        contact_move_stage(
            contact=contact,
            stage=data["stage"],
            at=data.get("at"),
            force=data["force"],
            note=data.get("note", ""),
            by=request.user,
            via=Via.API,
        )
        contact.refresh_from_db()
        return Response(ContactOutput(contact).data)

    @extend_schema(
        summary="A contact's stage history",
        responses=StageChangeOutput(many=True),
        examples=[
            OpenApiExample(
                "History",
                value=[
                    {
                        "id": 1,
                        "from_stage": "",
                        "to_stage": "follower",
                        "at": "2026-03-02T10:00:00Z",
                        "changed_by": "shopbot",
                        "via": "api",
                        "forced": False,
                        "note": "",
                        "recorded_at": "2026-03-02T10:00:01Z",
                    }
                ],
            )
        ],
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def history(self, request: Request, pk: str | None = None) -> Response:
        """The contact's stage moves, oldest first (append-only)."""
        if not require(request.user, "leads.view_stagechange"):
            raise PermissionDenied
        contact = self.get_object()
        rows = (
            StageChange.objects.filter(contact=contact)
            .select_related("changed_by")
            .order_by("at", "id")
        )
        return Response(StageChangeOutput(rows, many=True).data)

    @extend_schema(
        summary="Merge another contact into this one",
        request=MergeInput,
        responses=ContactOutput,
        examples=[MERGE_EXAMPLE],
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str | None = None) -> Response:
        """Merge `other` into this contact (SPEC §9); needs the merge permission."""
        if not require(request.user, "leads.merge_contact"):
            raise PermissionDenied
        contact = self.get_object()
        serializer = MergeInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        kept = contact_merge(
            survivor=contact, other=serializer.validated_data["other"], by=request.user, via=Via.API
        )
        return Response(ContactOutput(kept).data)

    @extend_schema(
        summary="Erase a contact's personal data",
        request=None,
        responses=ContactOutput,
        examples=[CONTACT_EXAMPLE],
    )
    @action(detail=True, methods=["post"])
    def erase(self, request: Request, pk: str | None = None) -> Response:
        """Blank the contact's personal data for good; its figures stay (needs the erase permission)."""
        if not require(request.user, "leads.erase_contact"):
            raise PermissionDenied
        erased = contact_erase(contact=self.get_object(), by=request.user, via=Via.API)
        return Response(ContactOutput(erased).data)


class RecordViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Touchpoints and purchases: listed, read and recorded, never edited (history)."""

    pagination_class = NewestFirstCursor


@extend_schema_view(
    list=extend_schema(summary="List touchpoints", examples=[TOUCH_EXAMPLE]),
    retrieve=extend_schema(summary="Read a touchpoint", examples=[TOUCH_EXAMPLE]),
)
class TouchpointViewSet(RecordViewSet):
    queryset = Touchpoint.objects.select_related("channel")
    serializer_class = TouchpointOutput
    filterset_class = TouchpointFilter

    @extend_schema(
        summary="Record a touchpoint (idempotent by external_id)",
        request=TouchpointInput,
        responses={
            201: TouchpointOutput,
            200: OpenApiResponse(TouchpointOutput, "The same external_id again"),
        },
        examples=[TOUCH_EXAMPLE],
    )
    def create(self, request: Request) -> Response:
        touch, created = record_touch(request.data, request.user)
        touch = Touchpoint.objects.select_related("channel").get(pk=touch.pk)
        return Response(
            TouchpointOutput(touch).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema_view(
    list=extend_schema(summary="List purchases", examples=[PURCHASE_EXAMPLE]),
    retrieve=extend_schema(summary="Read a purchase", examples=[PURCHASE_EXAMPLE]),
)
class PurchaseViewSet(RecordViewSet):
    queryset = with_refunds(Purchase.objects.select_related("coupon"))
    serializer_class = PurchaseOutput
    filterset_class = PurchaseFilter

    @extend_schema(
        summary="Record a purchase (idempotent by external_id)",
        request=PurchaseInput,
        responses={
            201: PurchaseOutput,
            200: OpenApiResponse(PurchaseOutput, "The same external_id again"),
        },
        examples=[PURCHASE_EXAMPLE],
    )
    def create(self, request: Request) -> Response:
        purchase, created = record_purchase(request.data, request.user)
        purchase = self.get_queryset().get(pk=purchase.pk)
        return Response(
            PurchaseOutput(purchase).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema_view(
    list=extend_schema(summary="List refunds", examples=[REFUND_EXAMPLE]),
    retrieve=extend_schema(summary="Read a refund", examples=[REFUND_EXAMPLE]),
    destroy=extend_schema(summary="Delete a refund recorded by mistake"),
)
class RefundViewSet(AtomicWritesMixin, mixins.DestroyModelMixin, RecordViewSet):
    """Refunds of purchases: listed, read, recorded (idempotent on external_id) and, by who
    holds `leads.delete_refund` (superusers), deleted; never edited."""

    queryset = Refund.objects.select_related("purchase", "recorded_by")
    serializer_class = RefundOutput
    filterset_class = RefundFilter

    @extend_schema(
        summary="Record a refund of a purchase (idempotent by external_id)",
        request=RefundInput,
        responses={
            201: RefundOutput,
            200: OpenApiResponse(RefundOutput, "The same external_id again"),
            409: OpenApiResponse(description="The same external_id with other content"),
        },
        examples=[REFUND_EXAMPLE],
    )
    def create(self, request: Request) -> Response:
        refund, created = record_refund(request.data, request.user)
        refund = self.get_queryset().get(pk=refund.pk)
        return Response(
            RefundOutput(refund).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def perform_destroy(self, instance: Refund) -> None:
        refund_delete(refund=instance)
