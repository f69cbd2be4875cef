"""API shapes of contacts, stage moves, touchpoints and purchases: input and output apart.

Input serializers only parse and resolve references (slugs, codes, emails); the rules are the
services'. Output serializers read what `get_queryset` already joined.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.contrib.auth import get_user_model
from rest_framework import serializers

from campaigns.models import Campaign, Channel, Coupon
from campaigns.serializers import NoNulCharField
from campaigns.services import coupon_by_code
from leads.models import Contact, Purchase, Stage, StageChange, Touchpoint
from leads.services import contact_by_email

MONEY = {"max_digits": 14, "decimal_places": 2}
MAX_METADATA_BYTES = 8 * 1024


def text(max_length: int, **kwargs) -> NoNulCharField:
    return NoNulCharField(max_length=max_length, required=False, allow_blank=True, **kwargs)


class ContactOutput(serializers.ModelSerializer):
    email = serializers.CharField(read_only=True, help_text="Empty when unknown or erased.")
    source_channel = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="Null when the source is unknown (counted in the unattributed row).",
    )
    coupon = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Contact
        fields = (
            "id",
            "email",
            "phone",
            "handle",
            "first_name",
            "last_name",
            "company",
            "stage",
            "source_channel",
            "source_campaign",
            "coupon",
            "owner",
            "referred_by",
            "notes",
            "external_id",
            "entered_at",
            "became_lead_at",
            "became_qualified_at",
            "became_customer_at",
            "erased_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class ContactInput(serializers.Serializer):
    """A new contact. `source_channel` is a slug, `utm_source` any alias, `coupon` a code."""

    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = text(32)
    handle = text(100)
    first_name = text(100)
    last_name = text(100)
    company = text(200)
    notes = text(5000)
    source_channel = serializers.SlugRelatedField(
        slug_field="slug", queryset=Channel.objects.all(), required=False
    )
    source_campaign = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.select_related("channel"), required=False, allow_null=True
    )
    coupon = text(64)
    utm_source = text(200)
    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    entered_at = serializers.DateTimeField(required=False)
    touch_kind = serializers.ChoiceField(choices=Touchpoint.Kind.choices, required=False)
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), required=False, allow_null=True
    )
    referred_by = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.all(), required=False, allow_null=True
    )
    external_id = text(200)

    def validate_coupon(self, value: str) -> Coupon | None:
        return coupon_by_code(value) if value else None


class ContactUpdate(serializers.ModelSerializer):
    """What may change on a contact directly: not its stage (moves go through /transition/)."""

    phone = text(32)
    handle = text(100)
    first_name = text(100)
    last_name = text(100)
    company = text(200)
    notes = text(5000)

    class Meta:
        model = Contact
        fields = (
            "email",
            "phone",
            "handle",
            "first_name",
            "last_name",
            "company",
            "notes",
            "owner",
            "referred_by",
        )


class TransitionInput(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices)
    at = serializers.DateTimeField(required=False)
    force = serializers.BooleanField(required=False, default=False)
    note = text(300)


class MergeInput(serializers.Serializer):
    other = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.all(), help_text="The contact merged away."
    )


class StageChangeOutput(serializers.ModelSerializer):
    changed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = StageChange
        fields = (
            "id",
            "from_stage",
            "to_stage",
            "at",
            "changed_by",
            "via",
            "forced",
            "note",
            "recorded_at",
        )
        read_only_fields = fields


class ContactRef(serializers.Serializer):
    """`contact` by id, or `email` (case-insensitive)."""

    contact = serializers.PrimaryKeyRelatedField(queryset=Contact.objects.all(), required=False)
    email = serializers.EmailField(required=False, max_length=254)


def _metadata(value: dict) -> dict:
    if not isinstance(value, dict):
        raise serializers.ValidationError("Must be a JSON object.")
    encoded = json.dumps(value)
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise serializers.ValidationError(f"Must be at most {MAX_METADATA_BYTES} bytes of JSON.")
    if "\\u0000" in encoded:
        raise serializers.ValidationError("Must not contain NUL characters.")
    return value


class TouchpointInput(ContactRef):
    channel = serializers.SlugRelatedField(
        slug_field="slug", queryset=Channel.objects.all(), required=False
    )
    campaign = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.select_related("channel"), required=False
    )
    utm_source = text(200)
    utm_campaign = text(200)
    tracking_phone = text(32)
    kind = serializers.ChoiceField(
        choices=Touchpoint.Kind.choices, required=False, default=Touchpoint.Kind.VISIT
    )
    occurred_at = serializers.DateTimeField(required=False)
    external_id = text(200)
    metadata = serializers.JSONField(required=False, default=dict, validators=[_metadata])

    def validate(self, attrs: dict) -> dict:
        return resolve_contact(attrs, create=False)


class PurchaseInput(ContactRef):
    amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"))
    discount = serializers.DecimalField(
        **MONEY, min_value=Decimal("0"), required=False, default=Decimal("0")
    )
    occurred_at = serializers.DateTimeField(required=False)
    coupon = text(64)
    external_id = text(200)
    note = text(300)
    first_name = text(100)
    last_name = text(100)
    phone = text(32)

    def validate_coupon(self, value: str) -> Coupon | None:
        return coupon_by_code(value) if value else None

    def validate(self, attrs: dict) -> dict:
        return resolve_contact(attrs, create=True)


def resolve_contact(attrs: dict, *, create: bool) -> dict:
    """Turn `contact` / `email` into a contact (or, for purchases, an email for a walk-in)."""
    contact, email = attrs.get("contact"), attrs.get("email")
    if contact is None and not email:
        raise serializers.ValidationError({"contact": ["Give a contact id or an email."]})
    if contact is not None and email and contact.email.lower() != email.lower():
        raise serializers.ValidationError({"email": ["Does not match the contact's email."]})
    if contact is None:
        contact = contact_by_email(email)
        if contact is None and not create:
            raise serializers.ValidationError(
                {"email": ["No contact has this email; create it first."]}
            )
    attrs["contact"] = contact
    return attrs


class TouchpointOutput(serializers.ModelSerializer):
    channel = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Touchpoint
        fields = (
            "id",
            "contact",
            "channel",
            "campaign",
            "kind",
            "occurred_at",
            "source",
            "external_id",
            "metadata",
            "created_at",
        )
        read_only_fields = fields


class PurchaseOutput(serializers.ModelSerializer):
    coupon = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Purchase
        fields = (
            "id",
            "contact",
            "amount",
            "discount",
            "occurred_at",
            "coupon",
            "external_id",
            "note",
            "created_at",
        )
        read_only_fields = fields
