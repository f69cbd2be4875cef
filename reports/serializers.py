"""Parameters and shapes of the report endpoints."""

from __future__ import annotations

from rest_framework import serializers

from campaigns.inputs import DayField, StrictInput
from reports.metrics import MAX_LOOKBACK_DAYS, MAX_PERIOD_DAYS
from reports.models import Attribution, Granularity, GroupBy, Report


class ReportParams(StrictInput):
    start = DayField()
    end = DayField()
    group_by = serializers.ChoiceField(choices=GroupBy.choices, default=GroupBy.CHANNEL)
    attribution = serializers.ChoiceField(
        choices=Attribution.choices, default=Attribution.LAST_TOUCH
    )
    lookback_days = serializers.IntegerField(min_value=1, max_value=MAX_LOOKBACK_DAYS, default=90)

    def validate(self, attrs: dict) -> dict:
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["Must be on or after start."]})
        if (attrs["end"] - attrs["start"]).days + 1 > MAX_PERIOD_DAYS:
            raise serializers.ValidationError({"end": ["A period covers at most three years."]})
        return attrs


class ReportRequest(ReportParams):
    granularity = serializers.ChoiceField(choices=Granularity.choices, default=Granularity.CUSTOM)
    lookback_days = None


class ReportOutput(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Report
        fields = (
            "id",
            "start",
            "end",
            "granularity",
            "attribution",
            "group_by",
            "status",
            "stale",
            "error",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "emailed_at",
            "data",
        )
        read_only_fields = fields


class RoiRow(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    channel = serializers.CharField(allow_null=True)
    cost = serializers.CharField()
    revenue = serializers.CharField()
    roi = serializers.CharField(allow_null=True)
    roas = serializers.CharField(allow_null=True)
    followers = serializers.IntegerField()
    leads = serializers.IntegerField()
    qualified = serializers.IntegerField()
    customers = serializers.CharField()
    cost_per_lead = serializers.CharField(allow_null=True)
    cost_per_customer = serializers.CharField(allow_null=True)
    assisted_conversions = serializers.IntegerField()
    assisted_revenue = serializers.CharField()
    impressions = serializers.IntegerField()
    interactions = serializers.IntegerField()
    engagement_rate = serializers.CharField(allow_null=True)
    followers_gained = serializers.IntegerField()
    discounts = serializers.CharField()
    target_leads = serializers.IntegerField(allow_null=True)
    target_cost_per_lead = serializers.CharField(allow_null=True)


class RoiTotals(RoiRow):
    key = None
    label = None
    channel = None


class RoiDocument(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    group_by = serializers.CharField()
    attribution = serializers.CharField()
    lookback_days = serializers.IntegerField()
    currency = serializers.CharField()
    rows = RoiRow(many=True)
    totals = RoiTotals()


class FunnelRow(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    channel = serializers.CharField(allow_null=True)
    followers = serializers.IntegerField()
    leads = serializers.IntegerField()
    qualified = serializers.IntegerField()
    customers = serializers.IntegerField()
    cohort_size = serializers.IntegerField()
    reached_lead_share = serializers.CharField(allow_null=True)
    reached_customer_share = serializers.CharField(allow_null=True)
    median_days_to_lead = serializers.CharField(allow_null=True)
    median_days_to_customer = serializers.CharField(allow_null=True)


class FunnelTotals(FunnelRow):
    key = None
    label = None
    channel = None


class FunnelDocument(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    group_by = serializers.CharField()
    attribution = serializers.CharField()
    as_of = serializers.DateTimeField()
    rows = FunnelRow(many=True)
    totals = FunnelTotals()
