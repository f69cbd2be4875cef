"""Channels, campaigns, costs, coupons and engagement over the API; thin over models/services."""

from __future__ import annotations

from django.db.models.functions import Lower
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.filters import CampaignFilter, CostFilter, CouponFilter, EngagementFilter
from campaigns.models import Campaign, Channel, Cost, Coupon, EngagementStat
from campaigns.serializers import (
    CampaignSerializer,
    ChannelSerializer,
    CostSerializer,
    CouponSerializer,
    EngagementSerializer,
)
from campaigns.services import (
    ENGAGEMENT_FIELDS,
    campaign_create,
    campaign_delete,
    campaign_update,
    channel_save,
    cost_create,
    cost_delete,
    cost_update,
    coupon_delete,
    coupon_save,
    engagement_upsert,
)
from config.api import AtomicWritesMixin

CHANNEL_EXAMPLE = OpenApiExample(
    "Pinterest",
    value={"slug": "pinterest", "name": "Pinterest", "kind": "social", "aliases": ["pin.it"]},
)
CAMPAIGN_EXAMPLE = OpenApiExample(
    "A campaign",
    value={
        "name": "Spring pins",
        "channel": "pinterest",
        "objective": "sales",
        "starts_on": "2026-03-01",
        "ends_on": "2026-05-31",
        "budget": "4000.00",
        "target_leads": 300,
        "target_cost_per_lead": "12.00",
        "utm_campaign": "spring-pins",
        "tracking_phone": None,
    },
)
COST_EXAMPLE = OpenApiExample(
    "Staff time",
    value={
        "campaign": 1,
        "incurred_on": "2026-03-02",
        "amount": "480.00",
        "category": "staff_time",
        "note": "Community manager, 12 h",
    },
)
COUPON_EXAMPLE = OpenApiExample(
    "Social-only code",
    value={
        "code": "PIN15",
        "campaign": 1,
        "valid_from": "2026-03-01T00:00:00Z",
        "valid_until": "2026-05-31T23:59:59Z",
        "max_redemptions": 500,
        "active": True,
    },
)
ENGAGEMENT_EXAMPLE = OpenApiExample(
    "One day",
    value={
        "campaign": 1,
        "date": "2026-03-02",
        "impressions": 12000,
        "reach": 8000,
        "reactions": 300,
        "comments": 40,
        "shares": 25,
        "clicks": 115,
        "followers_gained": 31,
    },
)


def _examples(example: OpenApiExample) -> dict:
    return {"examples": [example]}


@extend_schema_view(
    list=extend_schema(summary="List channels", **_examples(CHANNEL_EXAMPLE)),
    retrieve=extend_schema(summary="Read a channel", **_examples(CHANNEL_EXAMPLE)),
    create=extend_schema(summary="Add a channel", **_examples(CHANNEL_EXAMPLE)),
    update=extend_schema(summary="Replace a channel", **_examples(CHANNEL_EXAMPLE)),
    partial_update=extend_schema(
        summary="Change some of a channel's fields", **_examples(CHANNEL_EXAMPLE)
    ),
)
class ChannelViewSet(
    AtomicWritesMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Channel.objects.prefetch_related("aliases").order_by("slug")
    serializer_class = ChannelSerializer
    lookup_field = "slug"
    lookup_value_regex = "[-a-zA-Z0-9_]+"

    def perform_create(self, serializer) -> None:
        serializer.instance = channel_save(**serializer.validated_data)

    def perform_update(self, serializer) -> None:
        serializer.instance = channel_save(channel=serializer.instance, **serializer.validated_data)


@extend_schema_view(
    list=extend_schema(summary="List campaigns", **_examples(CAMPAIGN_EXAMPLE)),
    retrieve=extend_schema(summary="Read a campaign", **_examples(CAMPAIGN_EXAMPLE)),
    create=extend_schema(summary="Create a campaign", **_examples(CAMPAIGN_EXAMPLE)),
    update=extend_schema(summary="Replace a campaign", **_examples(CAMPAIGN_EXAMPLE)),
    partial_update=extend_schema(
        summary="Change some of a campaign's fields", **_examples(CAMPAIGN_EXAMPLE)
    ),
    destroy=extend_schema(summary="Delete a campaign", **_examples(CAMPAIGN_EXAMPLE)),
)
class CampaignViewSet(AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Campaign.objects.select_related("channel").order_by("-starts_on", "-id")
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter

    def perform_create(self, serializer) -> None:
        serializer.instance = campaign_create(**serializer.validated_data)

    def perform_update(self, serializer) -> None:
        serializer.instance = campaign_update(
            campaign=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Campaign) -> None:
        campaign_delete(campaign=instance)


@extend_schema_view(
    list=extend_schema(summary="List costs", **_examples(COST_EXAMPLE)),
    retrieve=extend_schema(summary="Read a cost", **_examples(COST_EXAMPLE)),
    create=extend_schema(summary="Record a cost", **_examples(COST_EXAMPLE)),
    update=extend_schema(summary="Replace a cost", **_examples(COST_EXAMPLE)),
    partial_update=extend_schema(
        summary="Change some of a cost's fields", **_examples(COST_EXAMPLE)
    ),
    destroy=extend_schema(summary="Delete a cost", **_examples(COST_EXAMPLE)),
)
class CostViewSet(AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Cost.objects.order_by("-incurred_on", "-id")
    serializer_class = CostSerializer
    filterset_class = CostFilter

    def perform_create(self, serializer) -> None:
        serializer.instance = cost_create(**serializer.validated_data)

    def perform_update(self, serializer) -> None:
        serializer.instance = cost_update(cost=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance: Cost) -> None:
        cost_delete(cost=instance)


@extend_schema_view(
    list=extend_schema(summary="List coupons", **_examples(COUPON_EXAMPLE)),
    retrieve=extend_schema(
        summary="Read a coupon (by code, any case)", **_examples(COUPON_EXAMPLE)
    ),
    create=extend_schema(summary="Create a coupon", **_examples(COUPON_EXAMPLE)),
    update=extend_schema(summary="Replace a coupon", **_examples(COUPON_EXAMPLE)),
    partial_update=extend_schema(
        summary="Change some of a coupon's fields", **_examples(COUPON_EXAMPLE)
    ),
    destroy=extend_schema(summary="Delete a coupon", **_examples(COUPON_EXAMPLE)),
)
class CouponViewSet(AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Coupon.objects.order_by("code")
    serializer_class = CouponSerializer
    filterset_class = CouponFilter
    lookup_field = "code"
    lookup_value_regex = "[^/]+"

    def get_object(self) -> Coupon:
        # Codes are case-insensitive: /coupons/link10/ finds LINK10 (through the lower(code) index).
        coupon = get_object_or_404(
            self.get_queryset().annotate(code_lower=Lower("code")),
            code_lower=self.kwargs["code"].strip().lower(),
        )
        self.check_object_permissions(self.request, coupon)
        return coupon

    def perform_create(self, serializer) -> None:
        serializer.instance = coupon_save(**serializer.validated_data)

    def perform_update(self, serializer) -> None:
        serializer.instance = coupon_save(coupon=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance: Coupon) -> None:
        coupon_delete(coupon=instance)


@extend_schema_view(
    list=extend_schema(
        summary="List engagement figures (one row per campaign-day)",
        **_examples(ENGAGEMENT_EXAMPLE),
    ),
    retrieve=extend_schema(
        summary="Read one campaign-day of engagement", **_examples(ENGAGEMENT_EXAMPLE)
    ),
)
class EngagementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = EngagementStat.objects.order_by("-date", "campaign_id")
    serializer_class = EngagementSerializer
    filterset_class = EngagementFilter

    @extend_schema(
        summary="Write one campaign-day of engagement (replaces that day's figures)",
        responses={201: EngagementSerializer, 200: EngagementSerializer},
        **_examples(ENGAGEMENT_EXAMPLE),
    )
    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        existed = EngagementStat.objects.filter(
            campaign=data["campaign"], date=data["date"]
        ).exists()
        row = engagement_upsert(
            campaign=data["campaign"],
            date=data["date"],
            **{k: data.get(k, 0) for k in ENGAGEMENT_FIELDS},
        )
        return Response(
            self.get_serializer(row).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )
