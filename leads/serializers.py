"""API shapes of contacts, stage moves, touchpoints and purchases: input and output apart.

Input serializers only parse and resolve references (slugs, ids, codes, emails); the rules are
`leads.rules`'. The same input serializers serve the single endpoints and the batch endpoint:
their reference fields look rows up through the validation's `Refs` (context "refs": the
batch's preloaded ones; else one query each) and answer unknown ones with the rules' messages,
so both doors answer alike. Output serializers read what `get_queryset` already joined.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns.inputs import MomentField, MoneyField, StrictInput
from campaigns.models import Campaign, Channel
from campaigns.serializers import NoNulCharField
from leads import rules
from leads.models import (
    HEARD_ABOUT_MAX_LENGTH,
    Contact,
    Purchase,
    Refund,
    Stage,
    StageChange,
    Touchpoint,
)

MAX_METADATA_BYTES = 8 * 1024
ID = re.compile(r"-?[0-9]{1,20}")


def text(max_length: int, **kwargs) -> NoNulCharField:
    return NoNulCharField(max_length=max_length, required=False, allow_blank=True, **kwargs)


def refs_of(field: serializers.Field) -> rules.Refs:
    """The look-ups of this validation: a batch's preloaded ones, else one query each."""
    return field.context.get("refs") or rules.REFS


def id_key(data: Any) -> int | None:
    """A row id given as a number or a string of digits; None for anything else."""
    if isinstance(data, bool):
        return None
    if isinstance(data, int):
        return data
    if isinstance(data, str) and ID.fullmatch(data.strip()):
        return int(data)
    return None


class RowId(serializers.PrimaryKeyRelatedField):
    """A row by id, found through the validation's look-ups (`find`); an unknown one gets the
    rules' message (`unknown`)."""

    def to_internal_value(self, data: Any) -> Any:
        key = id_key(data)
        if key is None:
            self.fail("incorrect_type", data_type=type(data).__name__)
        found = self.find(refs_of(self), key)
        if found is None:
            raise serializers.ValidationError(self.unknown(key), code="does_not_exist")
        return found


class CampaignId(RowId):
    def __init__(self, **kwargs) -> None:
        super().__init__(queryset=Campaign.objects.all(), **kwargs)

    @staticmethod
    def find(refs: rules.Refs, key: int) -> Campaign | None:
        return refs.campaign(key)

    unknown = staticmethod(rules.unknown_campaign)


class ContactId(RowId):
    def __init__(self, **kwargs) -> None:
        super().__init__(queryset=Contact.objects.all(), **kwargs)

    @staticmethod
    def find(refs: rules.Refs, key: int) -> Contact | None:
        return refs.contact(key)

    unknown = staticmethod(rules.unknown_contact)


class ChannelSlug(serializers.SlugRelatedField):
    """A channel by slug (any case), found through the validation's look-ups."""

    def __init__(self, **kwargs) -> None:
        super().__init__(slug_field="slug", queryset=Channel.objects.all(), **kwargs)

    def to_internal_value(self, data: Any) -> Channel:
        if not isinstance(data, str):
            self.fail("invalid")
        channel = refs_of(self).channel(data)
        if channel is None:
            raise serializers.ValidationError(rules.unknown_channel(data), code="does_not_exist")
        return channel


class CouponCode(NoNulCharField):
    """A coupon by code (any case), found through the validation's look-ups; blank is none."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=64, required=False, allow_blank=True, **kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        code = super().run_validation(data)
        if not code:
            return None
        coupon = refs_of(self).coupon(code)
        if coupon is None:
            raise serializers.ValidationError(rules.unknown_coupon(code), code="does_not_exist")
        return coupon


class ContactOutput(serializers.ModelSerializer):
    email = serializers.CharField(read_only=True, help_text="Empty when unknown or erased.")
    source_channel = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="Null when the source is unknown (counted in the unattributed row).",
    )
    coupon = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    heard_about = serializers.CharField(
        read_only=True,
        help_text='"How did you hear about us", in the person\'s words; empty when not asked.',
    )
    heard_channel = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="The channel the person says they heard about us through (resolved from "
        "`heard_about` through the channel aliases, or given); null when they named none. "
        "Beside the tracked `source_channel`, never instead of it.",
    )
    phone_e164 = serializers.CharField(
        read_only=True, help_text="The phone in E.164 form; empty when it does not read as one."
    )
    other_emails = serializers.SlugRelatedField(
        many=True,
        read_only=True,
        slug_field="email",
        help_text="Secondary emails (kept from merged contacts); they find this contact too.",
    )
    other_phones = serializers.SlugRelatedField(
        many=True,
        read_only=True,
        slug_field="phone",
        help_text="Secondary phones (kept from merged contacts), as typed.",
    )

    class Meta:
        model = Contact
        fields = (
            "id",
            "email",
            "other_emails",
            "phone",
            "phone_e164",
            "other_phones",
            "handle",
            "first_name",
            "last_name",
            "company",
            "stage",
            "source_channel",
            "source_campaign",
            "coupon",
            "heard_about",
            "heard_channel",
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


class EmailAddress(serializers.EmailField):
    """An email in the one form every door stores and compares (`rules.email_address`)."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not value:
            return value
        try:
            return rules.email_address(value)
        except rules.InvalidInput as exc:
            raise serializers.ValidationError(exc.message) from None


class ContactInput(StrictInput):
    """A new contact. `source_channel` is a slug, `utm_source` any alias, `coupon` a code; at
    least one of email, phone, handle or a name (`rules.IDENTITY`)."""

    email = EmailAddress(required=False, allow_blank=True, max_length=254)
    phone = text(32)
    handle = text(100)
    first_name = text(100)
    last_name = text(100)
    company = text(200)
    notes = text(5000)
    source_channel = ChannelSlug(required=False)
    source_campaign = CampaignId(required=False, allow_null=True)
    coupon = CouponCode()
    utm_source = text(200)
    heard_about = text(
        HEARD_ABOUT_MAX_LENGTH,
        help_text='"How did you hear about us", as the person gave it. The channel it names '
        '(a slug or an alias, alone or among other words: "saw you on Insta") is stored as '
        "`heard_channel`; words that name none are kept with no channel.",
    )
    heard_channel = ChannelSlug(
        required=False,
        allow_null=True,
        help_text="The channel the person chose (a slug), when the form offered a list; it "
        "wins over what `heard_about` names.",
    )
    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    entered_at = MomentField(required=False)
    touch_kind = serializers.ChoiceField(choices=Touchpoint.Kind.choices, required=False)
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), required=False, allow_null=True
    )
    referred_by = ContactId(required=False, allow_null=True)
    external_id = text(200)


def contact_arguments(data: dict) -> dict[str, Any]:
    """Validated `ContactInput` as `contact_create`'s arguments (less who and through what)."""
    arguments = {k: v for k, v in data.items() if k not in ("utm_source", "external_id")}
    arguments["source"] = data.get("utm_source", "")
    arguments["external_id"] = data.get("external_id") or None
    return arguments


class ContactUpdate(StrictInput, serializers.ModelSerializer):
    """What may change on a contact directly: not its stage (moves go through /transition/)."""

    # Any user here: the service tells why one cannot own contacts (`check_owner`), where the
    # model's limited choices would only say "object does not exist".
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), required=False, allow_null=True
    )
    email = EmailAddress(required=False, allow_blank=True, max_length=254)
    phone = text(32)
    handle = text(100)
    first_name = text(100)
    last_name = text(100)
    company = text(200)
    notes = text(5000)
    heard_about = text(
        HEARD_ABOUT_MAX_LENGTH,
        help_text='"How did you hear about us": other words name their channel again (unless '
        "`heard_channel` is given beside them); blank words clear it.",
    )
    heard_channel = ChannelSlug(
        required=False, allow_null=True, help_text="A slug, or null for none."
    )

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
            "heard_about",
            "heard_channel",
            "owner",
            "referred_by",
        )


class TransitionInput(StrictInput):
    stage = serializers.ChoiceField(choices=Stage.choices)
    at = MomentField(required=False)
    force = serializers.BooleanField(required=False, default=False)
    note = text(300)


class MergeInput(StrictInput):
    other = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.all(), help_text="The contact merged away."
    )


class StageChangeOutput(serializers.ModelSerializer):
    from_stage = serializers.ChoiceField(
        choices=[("", "(entry)"), *Stage.choices],
        read_only=True,
        help_text='"" on the row that records the entry into the funnel.',
    )
    changed_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Null for a move made by the system or an import with no user.",
    )

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


class ContactRef(StrictInput):
    """`contact` by id, or `email` (case-insensitive)."""

    contact = ContactId(required=False)
    email = EmailAddress(required=False, max_length=254)


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
    channel = ChannelSlug(required=False)
    campaign = CampaignId(required=False)
    utm_source = text(200)
    utm_campaign = text(200)
    tracking_phone = text(32)
    kind = serializers.ChoiceField(
        choices=Touchpoint.Kind.choices, required=False, default=Touchpoint.Kind.VISIT
    )
    occurred_at = MomentField(required=False)
    external_id = text(200)
    metadata = serializers.JSONField(required=False, default=dict, validators=[_metadata])

    def validate(self, attrs: dict) -> dict:
        return resolve_contact(attrs, create=False, refs=refs_of(self))


def touch_arguments(data: dict) -> dict[str, Any]:
    """Validated `TouchpointInput` as `touchpoint_record`'s arguments."""
    return {
        "contact": data["contact"],
        "kind": data["kind"],
        "occurred_at": data.get("occurred_at"),
        "channel": data.get("channel"),
        "campaign": data.get("campaign"),
        "source": data.get("utm_source", ""),
        "utm_campaign": data.get("utm_campaign", ""),
        "tracking_phone": data.get("tracking_phone", ""),
        "external_id": data.get("external_id") or None,
        "metadata": data.get("metadata"),
    }


class PurchaseInput(ContactRef):
    amount = MoneyField(min_value=Decimal("0.01"))
    discount = MoneyField(min_value=Decimal("0"), required=False, default=Decimal("0"))
    occurred_at = MomentField(required=False)
    coupon = CouponCode()
    external_id = text(200)
    note = text(300)
    first_name = text(100)
    last_name = text(100)
    phone = text(32)

    def validate(self, attrs: dict) -> dict:
        return resolve_contact(attrs, create=True, refs=refs_of(self))


def purchase_arguments(data: dict) -> dict[str, Any]:
    """Validated `PurchaseInput` as `purchase_record`'s arguments (less who and through what)."""
    return {
        "contact": data["contact"],
        "email": data.get("email", ""),
        "amount": data["amount"],
        "discount": data.get("discount") or 0,
        "occurred_at": data.get("occurred_at"),
        "coupon": data.get("coupon"),
        "external_id": data.get("external_id") or None,
        "note": data.get("note", ""),
        "contact_fields": {k: data[k] for k in ("first_name", "last_name", "phone") if data.get(k)},
    }


def resolve_contact(attrs: dict, *, create: bool, refs: rules.Refs) -> dict:
    """Turn `contact` / `email` into a contact (or, for purchases, an email for a walk-in)."""
    contact, email = attrs.get("contact"), attrs.get("email")
    if contact is None and not email:
        raise serializers.ValidationError({"contact": [rules.GIVE_A_CONTACT]})
    if contact is not None and email and not rules.is_email_of(contact, email, refs):
        raise serializers.ValidationError({"email": [rules.NOT_THE_CONTACTS_EMAIL]})
    if contact is None:
        contact = refs.contact_by_email(email)
        if contact is None and not create:
            raise serializers.ValidationError({"email": [rules.NO_CONTACT_WITH_EMAIL]})
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


def money_output(help_text: str, **kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=14, decimal_places=2, read_only=True, help_text=help_text, **kwargs
    )


class PurchaseOutput(serializers.ModelSerializer):
    """A purchase with what its refunds come to; the queryset annotates both
    (`leads.selectors.with_refunds`)."""

    coupon = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    refunded = money_output("What its refunds come to (0.00 without any).")
    net_amount = money_output(
        "amount less refunded: the revenue the reports credit to this purchase."
    )

    class Meta:
        model = Purchase
        fields = (
            "id",
            "contact",
            "amount",
            "refunded",
            "net_amount",
            "discount",
            "occurred_at",
            "coupon",
            "external_id",
            "note",
            "created_at",
        )
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.INT)
class PurchaseRef(serializers.Field):
    """A purchase by id (a number or digits); unknown ones get the rules' message."""

    def to_internal_value(self, data: Any) -> Purchase:
        key = id_key(data)
        if key is None:
            raise serializers.ValidationError("A purchase id is a whole number.", code="invalid")
        found = Purchase.objects.filter(pk=key).first() if 0 < key <= rules.MAX_ID else None
        if found is None:
            raise serializers.ValidationError(rules.unknown_purchase(key), code="does_not_exist")
        return found

    def to_representation(self, value: Purchase) -> int:
        return value.pk


class RefundInput(StrictInput):
    """A refund of a purchase given by id or by its `external_id` (the shop's order id)."""

    purchase = PurchaseRef(required=False, help_text="The purchase's id.")
    purchase_external_id = text(200, help_text="Or the purchase's external_id.")
    amount = MoneyField(min_value=Decimal("0.01"))
    occurred_at = MomentField(required=False)
    external_id = text(200)
    note = text(300)

    def validate(self, attrs: dict) -> dict:
        purchase, external_id = attrs.get("purchase"), attrs.get("purchase_external_id")
        if purchase is None and not external_id:
            raise serializers.ValidationError({"purchase": [rules.GIVE_A_PURCHASE]})
        if external_id:
            by_id = Purchase.objects.filter(external_id=external_id).first()
            if by_id is None:
                raise serializers.ValidationError(
                    {"purchase_external_id": [rules.unknown_purchase(external_id)]}
                )
            if purchase is not None and purchase.pk != by_id.pk:
                raise serializers.ValidationError(
                    {"purchase_external_id": ["Names another purchase than `purchase`."]}
                )
            attrs["purchase"] = by_id
        return attrs


def refund_arguments(data: dict) -> dict[str, Any]:
    """Validated `RefundInput` as `refund_record`'s arguments (less who and through what)."""
    return {
        "purchase": data["purchase"],
        "amount": data["amount"],
        "occurred_at": data.get("occurred_at"),
        "external_id": data.get("external_id") or None,
        "note": data.get("note", ""),
    }


class RefundOutput(serializers.ModelSerializer):
    purchase_external_id = serializers.CharField(
        source="purchase.external_id", read_only=True, allow_null=True
    )
    recorded_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Refund
        fields = (
            "id",
            "purchase",
            "purchase_external_id",
            "amount",
            "occurred_at",
            "external_id",
            "note",
            "recorded_by",
            "via",
            "created_at",
        )
        read_only_fields = fields
