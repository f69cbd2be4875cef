"""The report endpoints: live ROI and funnel figures, saved reports (SPEC §4, §5)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports.metrics import funnel_report, roi_report
from reports.models import Attribution, Report
from reports.paths import conversion_paths
from reports.payback import payback_report
from reports.serializers import (
    FunnelDocument,
    PathParams,
    PathsDocument,
    PaybackDocument,
    PaybackParams,
    ReportOutput,
    ReportParams,
    ReportRequest,
    RoiDocument,
)
from reports.services import report_request

PARAMETERS = [
    OpenApiParameter(
        "start", str, required=True, description="First day (YYYY-MM-DD, in TIME_ZONE)"
    ),
    OpenApiParameter("end", str, required=True, description="Last day, inclusive"),
    OpenApiParameter("group_by", str, enum=["channel", "campaign"], description="Default: channel"),
    OpenApiParameter(
        "attribution",
        str,
        enum=Attribution.values,
        description="Default: last_touch",
    ),
    OpenApiParameter("lookback_days", int, description="Default: 90"),
]
ROI_EXAMPLE = OpenApiExample(
    "March by campaign",
    value={
        "start": "2026-03-01",
        "end": "2026-03-31",
        "group_by": "campaign",
        "attribution": "last_touch",
        "lookback_days": 90,
        "currency": "USD",
        "rows": [
            {
                "key": "12",
                "label": "Spring pins",
                "channel": "pinterest",
                "cost": "400.00",
                "revenue": "1000.00",
                "roi": "1.5000",
                "roas": "2.5000",
                "followers": 9,
                "leads": 3,
                "qualified": 1,
                "customers": "2.00",
                "cost_per_lead": "133.33",
                "cost_per_customer": "200.00",
                "assisted_conversions": 1,
                "assisted_revenue": "80.00",
                "impressions": 12000,
                "interactions": 480,
                "engagement_rate": "0.0400",
                "followers_gained": 31,
                "discounts": "45.00",
                "target_leads": 5,
                "target_cost_per_lead": "100.00",
            }
        ],
        "totals": {
            "cost": "400.00",
            "revenue": "1000.00",
            "roi": "1.5000",
            "roas": "2.5000",
            "followers": 9,
            "leads": 3,
            "qualified": 1,
            "customers": "2.00",
            "cost_per_lead": "133.33",
            "cost_per_customer": "200.00",
            "assisted_conversions": 1,
            "assisted_revenue": "80.00",
            "impressions": 12000,
            "interactions": 480,
            "engagement_rate": "0.0400",
            "followers_gained": 31,
            "discounts": "45.00",
            "target_leads": None,
            "target_cost_per_lead": None,
        },
    },
)
PATH_FIGURES = {
    "conversions": 1,
    "revenue": "80.00",
    "touches_per_conversion": "2.00",
    "average_days_to_convert": "2.5",
    "median_days_to_convert": "2.5",
}
PATHS_EXAMPLE = OpenApiExample(
    "March, paths through email",
    value={
        "start": "2026-03-01",
        "end": "2026-03-31",
        "channel": "email",
        "top": 50,
        "lookback_days": 90,
        "rows": [
            {
                "key": "email*1>pinterest*1",
                "label": "Email \N{RIGHTWARDS ARROW} Pinterest",
                "steps": [
                    {"slug": "email", "name": "Email", "count": 1},
                    {"slug": "pinterest", "name": "Pinterest", "count": 1},
                ],
                "paths": 1,
                **PATH_FIGURES,
            }
        ],
        "other": None,
        "totals": {"key": "totals", "label": "Totals", "steps": [], "paths": 1, **PATH_FIGURES},
    },
    response_only=True,
    status_codes=["200"],
)
REPORT_EXAMPLE = OpenApiExample(
    "Ask for last month by channel",
    value={
        "start": "2026-03-01",
        "end": "2026-03-31",
        "group_by": "channel",
        "attribution": "linear",
    },
)


class CanReadReports(BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("reports.view_dashboard")


class CanAskForReports(CanReadReports):
    def has_permission(self, request, view) -> bool:
        if request.method == "POST":
            return request.user.has_perm("reports.add_report")
        return super().has_permission(request, view)


def _params(request: Request) -> dict:
    serializer = ReportParams(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class RoiView(APIView):
    permission_classes = [IsAuthenticated, CanReadReports]

    @extend_schema(
        parameters=PARAMETERS,
        responses=RoiDocument,
        examples=[ROI_EXAMPLE],
        summary="ROI per channel or campaign for a period, live",
    )
    def get(self, request: Request) -> Response:
        return Response(roi_report(**_params(request)))


class FunnelView(APIView):
    permission_classes = [IsAuthenticated, CanReadReports]

    @extend_schema(
        parameters=PARAMETERS,
        responses=FunnelDocument,
        examples=[
            OpenApiExample(
                "Funnel",
                value={
                    "start": "2026-03-01",
                    "end": "2026-03-31",
                    "group_by": "channel",
                    "attribution": "last_touch",
                    "as_of": "2026-04-01T06:00:00Z",
                    "rows": [],
                    "totals": {
                        "followers": 0,
                        "leads": 0,
                        "qualified": 0,
                        "customers": 0,
                        "cohort_size": 0,
                        "reached_lead_share": None,
                        "reached_customer_share": None,
                        "median_days_to_lead": None,
                        "median_days_to_customer": None,
                    },
                },
            )
        ],
        summary="Funnel counts and cohort figures for a period, live",
    )
    def get(self, request: Request) -> Response:
        return Response(funnel_report(**_params(request)))


class ReportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Report.objects.select_related("requested_by").order_by("-created_at", "-id")
    serializer_class = ReportOutput
    permission_classes = [IsAuthenticated, CanAskForReports]

    @extend_schema(
        request=ReportRequest,
        responses={202: ReportOutput},
        examples=[REPORT_EXAMPLE],
        summary="Ask for a saved report; a Celery job fills it",
    )
    def create(self, request: Request) -> Response:
        serializer = ReportRequest(data=request.data)
        serializer.is_valid(raise_exception=True)
        report = report_request(**serializer.validated_data, by=request.user)
        report.refresh_from_db()
        return Response(ReportOutput(report).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="List saved reports", examples=[REPORT_EXAMPLE])
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="Read a saved report and its figures", examples=[REPORT_EXAMPLE])
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return super().retrieve(request, *args, **kwargs)


class PathsView(APIView):
    """The conversion paths report (`reports.paths`): the same figures as the page, from the
    day cache, not the page cache."""

    permission_classes = [IsAuthenticated, CanReadReports]

    @extend_schema(
        parameters=[
            *PARAMETERS[:2],
            OpenApiParameter(
                "channel", str, description="A channel's slug: only the paths through it"
            ),
            PARAMETERS[-1],
            OpenApiParameter("top", int, description="Paths shown one by one (default 50)"),
        ],
        responses=PathsDocument,
        examples=[PATHS_EXAMPLE],
        summary="Conversion paths before first purchases for a period",
    )
    def get(self, request: Request) -> Response:
        params = PathParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(PathsDocument(conversion_paths(**params.validated_data)).data)


class PaybackView(APIView):
    """Cohort payback (`reports.payback`): the page's figures, read-only."""

    permission_classes = [IsAuthenticated, CanReadReports]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "months", int, description="Cohort months, the current one included (default 12)"
            ),
            PARAMETERS[2],
        ],
        responses=PaybackDocument,
        summary="Cohort payback: revenue against cost at 30, 60, 90 and 180 days",
    )
    def get(self, request: Request) -> Response:
        params = PaybackParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(PaybackDocument(payback_report(**params.validated_data)).data)
