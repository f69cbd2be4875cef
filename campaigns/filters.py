"""Filters of the campaigns side of the API."""

import django_filters

from campaigns.inputs import DayFilter
from campaigns.models import Campaign, Cost, Coupon, EngagementStat
from config.api import IdFilter


class CampaignFilter(django_filters.FilterSet):
    channel = django_filters.CharFilter(field_name="channel__slug")
    active_on = DayFilter(method="filter_active_on", label="Running on this date")

    class Meta:
        model = Campaign
        fields = ("channel", "objective")

    def filter_active_on(self, queryset, name, value):
        return queryset.filter(starts_on__lte=value).exclude(ends_on__lt=value)


class CostFilter(django_filters.FilterSet):
    campaign = IdFilter(field_name="campaign_id")
    incurred_after = DayFilter(field_name="incurred_on", lookup_expr="gte")
    incurred_before = DayFilter(field_name="incurred_on", lookup_expr="lte")

    class Meta:
        model = Cost
        fields = ("campaign", "category")


class CouponFilter(django_filters.FilterSet):
    campaign = IdFilter(field_name="campaign_id")

    class Meta:
        model = Coupon
        fields = ("campaign", "active")


class EngagementFilter(django_filters.FilterSet):
    campaign = IdFilter(field_name="campaign_id")
    date_after = DayFilter(field_name="date", lookup_expr="gte")
    date_before = DayFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = EngagementStat
        fields = ("campaign",)
