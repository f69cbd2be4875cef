"""The /api/v1/ routes."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from campaigns.apis import (
    CampaignViewSet,
    ChannelViewSet,
    CostViewSet,
    CouponViewSet,
    EngagementViewSet,
)
from leads.apis import ContactViewSet, PurchaseViewSet, RefundViewSet, TouchpointViewSet
from leads.events import EventBatchView
from reports.apis import FunnelView, PathsView, PaybackView, ReportViewSet, RoiView

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("channels", ChannelViewSet, basename="channel")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("costs", CostViewSet, basename="cost")
router.register("coupons", CouponViewSet, basename="coupon")
router.register("engagement", EngagementViewSet, basename="engagement")
router.register("contacts", ContactViewSet, basename="contact")
router.register("touchpoints", TouchpointViewSet, basename="touchpoint")
router.register("purchases", PurchaseViewSet, basename="purchase")
router.register("refunds", RefundViewSet, basename="refund")
router.register("reports", ReportViewSet, basename="report")

urlpatterns = [
    path("events/", EventBatchView.as_view(), name="events"),
    path("", include("connectors.urls")),
    path("reports/roi/", RoiView.as_view(), name="report-roi"),
    path("reports/funnel/", FunnelView.as_view(), name="report-funnel"),
    path("reports/paths/", PathsView.as_view(), name="report-paths"),
    path("reports/payback/", PaybackView.as_view(), name="report-payback"),
    *router.urls,
]
