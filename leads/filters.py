"""Filters of the contacts, touchpoints, purchases and refunds lists (each backed by an index)."""

from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from campaigns.inputs import DayFilter
from config.api import IdFilter
from leads.models import Contact, Purchase, Refund, Stage, Touchpoint
from leads.selectors import contacts_search


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in TIME_ZONE: date filters mean whole local days."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _after(field: str):
    def method(queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(**{f"{field}__gte": day_start(value)})

    return method


def _before(field: str):
    def method(queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return queryset.filter(**{f"{field}__lt": day_start(value + dt.timedelta(days=1))})

    return method


def after(field: str, label: str) -> DayFilter:
    return DayFilter(method=_after(field), label=f"{label} on or after this local day")


def before(field: str, label: str) -> DayFilter:
    return DayFilter(method=_before(field), label=f"{label} on or before this local day")


class ContactFilter(django_filters.FilterSet):
    stage = django_filters.ChoiceFilter(choices=Stage.choices)
    source_channel = django_filters.CharFilter(
        method="filter_source_channel",
        label='Channel slug, or "unattributed" for contacts whose source is unknown',
    )
    source_campaign = IdFilter(field_name="source_campaign_id")
    heard_channel = django_filters.CharFilter(
        method="filter_heard_channel",
        label="Channel slug the person says they heard about us through",
    )
    owner = IdFilter(field_name="owner_id")
    coupon = django_filters.CharFilter(method="filter_coupon", label="Coupon code (any case)")
    search = django_filters.CharFilter(
        method="filter_search",
        label="Every word in a name, any part of an email (secondary ones too), a phone in any "
        "format, a company or a handle",
    )
    entered_after = after("entered_at", "Entered")
    entered_before = before("entered_at", "Entered")
    lead_after = after("became_lead_at", "Became a lead")
    lead_before = before("became_lead_at", "Became a lead")
    customer_after = after("became_customer_at", "Became a customer")
    customer_before = before("became_customer_at", "Became a customer")

    class Meta:
        model = Contact
        fields = ("stage", "source_channel", "source_campaign", "heard_channel", "coupon", "owner")

    def filter_heard_channel(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # NOT NULL in so many words: the (heard_channel, -id) index is partial on it, and the
        # planner must see that it holds before it uses the index for a joined channel.
        return queryset.filter(
            heard_channel__isnull=False, heard_channel__slug=value.strip().lower()
        )

    def filter_source_channel(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value.strip().lower() == "unattributed":
            return queryset.filter(source_channel__isnull=True)
        return queryset.filter(source_channel__slug=value)

    def filter_coupon(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.annotate(coupon_code_lower=Lower("coupon__code")).filter(
            coupon_code_lower=value.strip().lower()
        )

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return contacts_search(queryset, value)


class TouchpointFilter(django_filters.FilterSet):
    contact = IdFilter(field_name="contact_id")
    campaign = IdFilter(field_name="campaign_id")
    channel = django_filters.CharFilter(field_name="channel__slug")
    occurred_after = after("occurred_at", "Occurred")
    occurred_before = before("occurred_at", "Occurred")

    class Meta:
        model = Touchpoint
        fields = ("contact", "channel", "campaign", "kind")


class PurchaseFilter(django_filters.FilterSet):
    contact = IdFilter(field_name="contact_id")
    coupon = django_filters.CharFilter(method="filter_coupon", label="Coupon code (any case)")
    occurred_after = after("occurred_at", "Occurred")
    occurred_before = before("occurred_at", "Occurred")

    class Meta:
        model = Purchase
        fields = ("contact", "coupon")

    def filter_source_channel(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value.strip().lower() == "unattributed":
            return queryset.filter(source_channel__isnull=True)
        return queryset.filter(source_channel__slug=value)

    def filter_coupon(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.annotate(coupon_code_lower=Lower("coupon__code")).filter(
            coupon_code_lower=value.strip().lower()
        )


class RefundFilter(django_filters.FilterSet):
    purchase = IdFilter(field_name="purchase_id")
    purchase_external_id = django_filters.CharFilter(
        field_name="purchase__external_id", label="The purchase's external_id"
    )
    contact = IdFilter(field_name="purchase__contact_id")
    occurred_after = after("occurred_at", "Refunded")
    occurred_before = before("occurred_at", "Refunded")

    class Meta:
        model = Refund
        fields = ("purchase", "external_id")
