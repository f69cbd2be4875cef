"""Parameters and shapes of the report endpoints."""

from __future__ import annotations

from rest_framework import serializers

from campaigns.inputs import DayField, StrictInput
from campaigns.models import Channel
from reports.glossary import definition
from reports.metrics import MAX_LOOKBACK_DAYS, MAX_PERIOD_DAYS
from reports.models import Attribution, Granularity, GroupBy, Report
from reports.paths import MAX_TOP_PATHS, TOP_PATHS
from reports.payback import DEFAULT_MONTHS, MAX_MONTHS


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
    label = serializers.CharField(
        help_text="The channel's or campaign's name; a channel's touches without a campaign are "
        "named '<Channel> (no campaign)'; 'Unattributed' for sources unknown."
    )
    channel = serializers.CharField(allow_null=True)
    cost = serializers.CharField(help_text=definition("cost"))
    # Null only under a data-driven model with too few conversions (`data_driven` says why).
    revenue = serializers.CharField(allow_null=True, help_text=definition("revenue"))
    revenue_low = serializers.CharField(
        required=False, allow_null=True, help_text=definition("revenue_low")
    )
    revenue_high = serializers.CharField(
        required=False, allow_null=True, help_text=definition("revenue_high")
    )
    roi_low = serializers.CharField(
        required=False, allow_null=True, help_text=definition("roi_low")
    )
    roi_high = serializers.CharField(
        required=False, allow_null=True, help_text=definition("roi_high")
    )
    roi = serializers.CharField(allow_null=True, help_text=definition("roi"))
    roas = serializers.CharField(allow_null=True, help_text=definition("roas"))
    followers = serializers.IntegerField(help_text=definition("followers"))
    leads = serializers.IntegerField(help_text=definition("leads"))
    qualified = serializers.IntegerField(help_text=definition("qualified"))
    customers = serializers.CharField(allow_null=True, help_text=definition("customers"))
    cost_per_lead = serializers.CharField(allow_null=True, help_text=definition("cost_per_lead"))
    cost_per_customer = serializers.CharField(
        allow_null=True, help_text=definition("cost_per_customer")
    )
    assisted_conversions = serializers.IntegerField(help_text=definition("assisted_conversions"))
    assisted_revenue = serializers.CharField(help_text=definition("assisted_revenue"))
    impressions = serializers.IntegerField(help_text=definition("impressions"))
    interactions = serializers.IntegerField(help_text=definition("interactions"))
    engagement_rate = serializers.CharField(
        allow_null=True, help_text=definition("engagement_rate")
    )
    followers_gained = serializers.IntegerField(help_text=definition("followers_gained"))
    discounts = serializers.CharField(help_text=definition("discounts"))
    target_leads = serializers.IntegerField(allow_null=True, help_text=definition("target_leads"))
    target_cost_per_lead = serializers.CharField(
        allow_null=True, help_text=definition("target_cost_per_lead")
    )


class RoiTotals(RoiRow):
    key = None
    label = None
    channel = None


class DataDrivenStatus(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["ok", "insufficient_data"],
        help_text="insufficient_data: fewer conversions with a touch than the minimum; every "
        "group's credited figures (revenue, ROI, ROAS, customers, CAC) are then null.",
    )
    conversions = serializers.IntegerField(
        help_text="Conversions (first purchases) of the period with at least one touch."
    )
    minimum_conversions = serializers.IntegerField(
        help_text="The setting DATA_DRIVEN_MIN_CONVERSIONS (default 50)."
    )
    interval_level = serializers.FloatField(help_text="The intervals' level: 0.95.")
    reason = serializers.CharField(help_text="Why there are no figures; empty when ok.")


class RoiDocument(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    group_by = serializers.CharField()
    attribution = serializers.CharField()
    lookback_days = serializers.IntegerField()
    currency = serializers.CharField()
    rows = RoiRow(many=True)
    totals = RoiTotals()
    data_driven = DataDrivenStatus(
        required=False, help_text="Only under the data-driven models (markov, shapley)."
    )


class FunnelRow(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField(
        help_text="The channel's or campaign's name; a channel's touches without a campaign are "
        "named '<Channel> (no campaign)'; 'Unattributed' for sources unknown."
    )
    channel = serializers.CharField(allow_null=True)
    followers = serializers.IntegerField(help_text=definition("followers", "funnel"))
    leads = serializers.IntegerField(help_text=definition("leads", "funnel"))
    qualified = serializers.IntegerField(help_text=definition("qualified", "funnel"))
    customers = serializers.IntegerField(help_text=definition("customers", "funnel"))
    cohort_size = serializers.IntegerField(help_text=definition("cohort_size", "funnel"))
    reached_lead_share = serializers.CharField(
        allow_null=True, help_text=definition("reached_lead_share", "funnel")
    )
    reached_customer_share = serializers.CharField(
        allow_null=True, help_text=definition("reached_customer_share", "funnel")
    )
    median_days_to_lead = serializers.CharField(
        allow_null=True, help_text=definition("median_days_to_lead", "funnel")
    )
    median_days_to_customer = serializers.CharField(
        allow_null=True, help_text=definition("median_days_to_customer", "funnel")
    )


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


# --- conversion paths -----------------------------------------------------------------------------


class PathParams(ReportParams):
    """`GET /api/v1/reports/paths/`: the period, and optionally a channel the paths go through."""

    group_by = None
    attribution = None
    channel = serializers.SlugRelatedField(
        slug_field="slug", queryset=Channel.objects.all(), required=False, default=None
    )
    top = serializers.IntegerField(min_value=1, max_value=MAX_TOP_PATHS, default=TOP_PATHS)


class PathStep(serializers.Serializer):
    slug = serializers.CharField(help_text="The channel's slug.")
    name = serializers.CharField(help_text="The channel's name.")
    count = serializers.IntegerField(help_text="Touches in a row on this channel.")


class PathRow(serializers.Serializer):
    key = serializers.CharField(
        help_text='The steps as "slug*count" joined by ">" ("facebook*3>email*1"); "" for no '
        'touches, "other" for the other paths, "totals".'
    )
    label = serializers.CharField(help_text=definition("path", "paths"))
    steps = PathStep(many=True)
    paths = serializers.IntegerField(help_text="Distinct paths in the row.")
    conversions = serializers.IntegerField(help_text=definition("conversions", "paths"))
    revenue = serializers.CharField(help_text=definition("revenue", "paths"))
    touches_per_conversion = serializers.CharField(
        allow_null=True, help_text=definition("touches_per_conversion", "paths")
    )
    average_days_to_convert = serializers.CharField(
        allow_null=True, help_text=definition("average_days_to_convert", "paths")
    )
    median_days_to_convert = serializers.CharField(
        allow_null=True, help_text=definition("median_days_to_convert", "paths")
    )


class PathsDocument(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    channel = serializers.CharField(allow_null=True)
    top = serializers.IntegerField()
    lookback_days = serializers.IntegerField()
    rows = PathRow(many=True)
    other = PathRow(allow_null=True, help_text=definition("other_paths", "paths"))
    totals = PathRow()


class PaybackParams(StrictInput):
    """`GET /api/v1/reports/payback/`: how many cohort months (the current one included) and
    the grouping."""

    months = serializers.IntegerField(min_value=1, max_value=MAX_MONTHS, default=DEFAULT_MONTHS)
    group_by = serializers.ChoiceField(choices=GroupBy.choices, default=GroupBy.CHANNEL)


class PaybackRow(serializers.Serializer):
    month = serializers.SerializerMethodField(help_text="The cohort's month (YYYY-MM, local).")
    key = serializers.CharField(
        help_text="The channel's slug or the campaign's id; \"none:<slug>\" for a channel's "
        'contacts without a campaign; "unattributed" for contacts with no source.'
    )
    label = serializers.CharField()
    channel = serializers.CharField(allow_null=True)
    entrants = serializers.IntegerField(help_text=definition("entrants", "payback"))
    cost = serializers.CharField(help_text=definition("cost", "payback"))
    revenue_30 = serializers.CharField(help_text=definition("revenue", "payback"))
    ratio_30 = serializers.CharField(allow_null=True, help_text=definition("ratio", "payback"))
    closed_30 = serializers.BooleanField(help_text=definition("so_far", "payback"))
    revenue_60 = serializers.CharField()
    ratio_60 = serializers.CharField(allow_null=True)
    closed_60 = serializers.BooleanField()
    revenue_90 = serializers.CharField()
    ratio_90 = serializers.CharField(allow_null=True)
    closed_90 = serializers.BooleanField()
    revenue_180 = serializers.CharField()
    ratio_180 = serializers.CharField(allow_null=True)
    closed_180 = serializers.BooleanField()
    payback_day = serializers.IntegerField(
        allow_null=True, help_text=definition("payback_day", "payback")
    )
    payback_status = serializers.ChoiceField(
        choices=["paid_back", "not_yet", "not_within_180_days", "no_cost"]
    )
    curve = serializers.ListField(
        child=serializers.CharField(),
        help_text="Cumulative revenue at the end of each day since entry (0, 1, ...), up to the "
        "last day the month's first entrants have reached (at most 180).",
    )

    def get_month(self, row: dict) -> str:
        return row["month"].strftime("%Y-%m")


class PaybackDocument(serializers.Serializer):
    months = serializers.IntegerField()
    group_by = serializers.CharField()
    as_of = serializers.DateField(help_text="Today (local): what is open and closed is as of it.")
    horizons = serializers.ListField(child=serializers.IntegerField())
    rows = PaybackRow(many=True)
