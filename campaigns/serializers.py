"""API shapes of channels, campaigns, costs, coupons and engagement (SPEC §4)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models.functions import Lower
from rest_framework import serializers

from campaigns.inputs import MoneyField, StorableCharField, StrictInput, strict_field
from campaigns.models import Campaign, Channel, Cost, Coupon, EngagementStat
from campaigns.numbers import ratio
from campaigns.services import ENGAGEMENT_FIELDS

ZERO = Decimal("0.00")


NoNulCharField = StorableCharField  # the name the other apps import

INT_MAX = 2_147_483_647


class StrictModelSerializer(StrictInput, serializers.ModelSerializer):
    """Model serializers that refuse what the database would choke on (NUL characters, huge
    ints, days outside the calendar the product handles) and amounts that are not plain."""

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = strict_field(*super().build_standard_field(field_name, model_field))
        if field_class is serializers.IntegerField:
            # The same bound on every database (SQLite would take 64-bit values PostgreSQL refuses).
            kwargs["max_value"] = min(kwargs.get("max_value", INT_MAX), INT_MAX)
        return field_class, kwargs


class ChannelSerializer(StrictModelSerializer):
    aliases = serializers.SlugRelatedField(many=True, read_only=True, slug_field="alias")

    class Meta:
        model = Channel
        fields = ("slug", "name", "kind", "aliases")


class CampaignSerializer(StrictModelSerializer):
    channel = serializers.SlugRelatedField(slug_field="slug", queryset=Channel.objects.all())
    budget = MoneyField(min_value=ZERO, required=False)
    target_cost_per_lead = MoneyField(min_value=ZERO, required=False, allow_null=True)

    class Meta:
        model = Campaign
        fields = (
            "id",
            "name",
            "channel",
            "objective",
            "starts_on",
            "ends_on",
            "budget",
            "target_leads",
            "target_cost_per_lead",
            "utm_campaign",
            "tracking_phone",
            "created_at",
        )
        read_only_fields = ("id", "created_at")

    def validate(self, attrs: dict) -> dict:
        starts = attrs.get("starts_on", getattr(self.instance, "starts_on", None))
        ends = attrs.get("ends_on", getattr(self.instance, "ends_on", None))
        if starts and ends and ends < starts:
            raise serializers.ValidationError({"ends_on": ["Must be on or after starts_on."]})
        phone = attrs.get("tracking_phone")
        if phone:
            from campaigns.models import normalize_phone

            normalized = normalize_phone(phone)
            if not normalized:
                raise serializers.ValidationError({"tracking_phone": ["Must contain digits."]})
            clash = Campaign.objects.filter(tracking_phone=normalized)
            if self.instance is not None:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                raise serializers.ValidationError(
                    {"tracking_phone": ["Another campaign uses this phone line."]}
                )
        return attrs


class CostSerializer(StrictModelSerializer):
    amount = MoneyField(min_value=ZERO)

    class Meta:
        model = Cost
        fields = (
            "id",
            "campaign",
            "incurred_on",
            "amount",
            "category",
            "note",
            "external_id",
            "created_at",
        )
        read_only_fields = ("id", "created_at")


class CouponSerializer(StrictModelSerializer):
    class Meta:
        model = Coupon
        fields = (
            "code",
            "campaign",
            "valid_from",
            "valid_until",
            "max_redemptions",
            "redemptions",
            "active",
            "created_at",
        )
        read_only_fields = ("redemptions", "created_at")
        validators = []  # the case-insensitive uniqueness is checked below, with a clear message

    def validate_code(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("Must not be blank.")
        clash = Coupon.objects.annotate(code_lower=Lower("code")).filter(code_lower=value.lower())
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(
                "A coupon with this code already exists (codes ignore case)."
            )
        return value

    def validate(self, attrs: dict) -> dict:
        start = attrs.get("valid_from", getattr(self.instance, "valid_from", None))
        end = attrs.get("valid_until", getattr(self.instance, "valid_until", None))
        if start and end and end < start:
            raise serializers.ValidationError({"valid_until": ["Must be after valid_from."]})
        return attrs


class EngagementSerializer(StrictModelSerializer):
    interactions = serializers.IntegerField(read_only=True)
    engagement_rate = serializers.SerializerMethodField()

    class Meta:
        model = EngagementStat
        fields = ("id", "campaign", "date", *ENGAGEMENT_FIELDS, "interactions", "engagement_rate")
        read_only_fields = ("id",)
        validators = []  # an upsert: a second write for the same day replaces the first

    def get_engagement_rate(self, obj: EngagementStat) -> str | None:
        return ratio(obj.interactions, obj.impressions)
