"""Contacts, their funnel stage and its history, touchpoints and purchases."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Concat, Lower
from django.utils import timezone

from campaigns.models import MONEY, ZERO, Campaign, Channel, Coupon, not_in_future

# Who may own contacts (SPEC §8: Sales works the contacts): an active member of this group, or
# an active superuser. The role groups are made by the migration leads/0002_role_groups.
OWNER_GROUP = "Sales"


def eligible_owners() -> Q:
    """The users a contact may be given to, as a filter on users (no join: a subquery, so a
    user in several groups is listed once)."""
    from django.contrib.auth import get_user_model

    members = get_user_model().groups.through.objects.filter(group__name=OWNER_GROUP)
    return Q(is_active=True) & (Q(is_superuser=True) | Q(pk__in=members.values("user_id")))


class Stage(models.TextChoices):
    """Funnel stages, in funnel order: a contact only moves to the right unless forced."""

    FOLLOWER = "follower", "Follower"
    LEAD = "lead", "Lead"
    QUALIFIED = "qualified", "Qualified"
    CUSTOMER = "customer", "Customer"

    @property
    def rank(self) -> int:
        return STAGE_ORDER.index(self)

    @property
    def stamp_field(self) -> str:
        return STAMP_FIELDS[self]


STAGE_ORDER: list[Stage] = [Stage.FOLLOWER, Stage.LEAD, Stage.QUALIFIED, Stage.CUSTOMER]
# The timestamp each stage sets; `entered_at` is the funnel entry, whatever the entry stage.
STAMP_FIELDS: dict[Stage, str] = {
    Stage.FOLLOWER: "entered_at",
    Stage.LEAD: "became_lead_at",
    Stage.QUALIFIED: "became_qualified_at",
    Stage.CUSTOMER: "became_customer_at",
}


class Via(models.TextChoices):
    """The door a change came through."""

    ADMIN = "admin", "Admin"
    API = "api", "API"
    IMPORT = "import", "Import"
    PURCHASE = "purchase", "Purchase"
    SYSTEM = "system", "System"
    CONNECTOR = "connector", "Connector"


def _stamp_matches_stage(stage: Stage) -> Q:
    """A stage's stamp is set exactly when the contact is at that stage or beyond."""
    at_or_beyond = [s.value for s in STAGE_ORDER[stage.rank :]]
    field = stage.stamp_field
    return Q(stage__in=at_or_beyond, **{f"{field}__isnull": False}) | (
        ~Q(stage__in=at_or_beyond) & Q(**{f"{field}__isnull": True})
    )


def _not_before(later: str, earlier: str) -> Q:
    return Q(**{f"{later}__isnull": True}) | Q(**{f"{later}__gte": F(earlier)})


# What the contact search reads (`leads.selectors.contacts_search`): one lower-cased text of
# every field a person is found by, with a space between fields so no word spans two of them.
# "last first" is not needed: a search matches each word of the term on its own.
SEARCH_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "phone_e164",
    "company",
    "handle",
    "other_contact_points",
)


def _search_text() -> Lower:
    parts: list = []
    for name in SEARCH_FIELDS:
        parts += [F(name), models.Value(" ")]
    return Lower(Concat(*parts[:-1], output_field=models.TextField()))


def search_index():
    """The trigram GIN index that answers the search's LIKE '%word%' on PostgreSQL, fast whatever
    the database's collation. Not in `Meta.indexes`: SQLite has no GIN (nor trigrams) and would
    refuse it, so migration 0010 creates it on PostgreSQL only (SQLite scans, with the same
    results)."""
    from django.contrib.postgres.indexes import GinIndex

    return GinIndex(
        fields=["search_text"], opclasses=["gin_trgm_ops"], name="contact_search_trgm_idx"
    )


HEARD_ABOUT_MAX_LENGTH = 200


class Contact(models.Model):
    email = models.EmailField(blank=True, default="")
    # As typed; `phone_e164` is its normalised form (`leads.rules.phone_e164`), set beside it
    # by every door that writes a phone, blank when it does not read as a number.
    phone = models.CharField(max_length=32, blank=True, default="")
    phone_e164 = models.CharField(max_length=20, blank=True, default="", editable=False)
    handle = models.CharField(max_length=100, blank=True, default="", help_text="Social handle")
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    company = models.CharField(max_length=200, blank=True, default="")
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.FOLLOWER)
    # Foreign keys without an index of their own lead a (key, -id) index below instead: every
    # index costs each insert, and a contact has many.
    # NULL: the source is unknown (a walk-in without a coupon): the unattributed row.
    source_channel = models.ForeignKey(
        Channel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contacts",
        db_index=False,
    )
    source_campaign = models.ForeignKey(
        Campaign,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contacts",
        db_index=False,
    )
    coupon = models.ForeignKey(
        Coupon,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contacts",
        db_index=False,
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_contacts",
        db_index=False,
        # The admin's choices and autocomplete; the services check it on every write.
        limit_choices_to=eligible_owners,
        help_text="A member of the Sales group (or a superuser).",
    )
    referred_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="referrals"
    )
    notes = models.TextField(blank=True, default="")
    # "How did you hear about us", in the person's own words (SPEC §10), kept as given; the
    # channel they name, resolved from the words through the channel aliases
    # (`leads.rules.heard_values`) or given as a slug. NULL: no words, or none that name one.
    # Beside the tracked source, never instead of it: no attribution figure reads it.
    heard_about = models.CharField(
        max_length=HEARD_ABOUT_MAX_LENGTH,
        blank=True,
        default="",
        verbose_name="heard about us",
        help_text="How the person says they heard about us, in their own words.",
    )
    heard_channel = models.ForeignKey(
        Channel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="heard_contacts",
        db_index=False,
        verbose_name="heard via",
        help_text="The channel the person's words name (empty when they name none).",
    )
    # NULL when unset, so that the unique constraint binds real ids only.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    entered_at = models.DateTimeField(default=timezone.now, validators=[not_in_future])
    became_lead_at = models.DateTimeField(null=True, blank=True)
    became_qualified_at = models.DateTimeField(null=True, blank=True)
    became_customer_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The secondary emails and phones (ContactEmail, ContactPhone rows) as one text, written by
    # the service that writes those rows, so the search reads one indexed column.
    other_contact_points = models.TextField(blank=True, default="", editable=False)
    search_text = models.GeneratedField(
        expression=_search_text(), output_field=models.TextField(), db_persist=True
    )

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("force_stage_change", "Can force a backward stage move"),
            ("merge_contact", "Can merge two contacts"),
            ("erase_contact", "Can erase a contact's personal data"),
        ]
        constraints = [
            # A constraint rather than unique=True: no second, LIKE-pattern index on PostgreSQL.
            models.UniqueConstraint(fields=["external_id"], name="contact_external_id_unique"),
            models.UniqueConstraint(
                Lower("email"),
                condition=~Q(email=""),
                name="contact_email_unique_ci",
                violation_error_message="A contact with this email already exists "
                "(emails are compared without regard to case).",
            ),
            models.CheckConstraint(
                condition=Q(stage__in=[s.value for s in STAGE_ORDER]), name="contact_stage_valid"
            ),
            models.CheckConstraint(
                condition=_stamp_matches_stage(Stage.LEAD), name="contact_lead_stamp_matches"
            ),
            models.CheckConstraint(
                condition=_stamp_matches_stage(Stage.QUALIFIED),
                name="contact_qualified_stamp_matches",
            ),
            models.CheckConstraint(
                condition=_stamp_matches_stage(Stage.CUSTOMER),
                name="contact_customer_stamp_matches",
            ),
            models.CheckConstraint(
                condition=_not_before("became_lead_at", "entered_at"),
                name="contact_lead_after_entry",
            ),
            models.CheckConstraint(
                condition=_not_before("became_qualified_at", "became_lead_at"),
                name="contact_qualified_after_lead",
            ),
            models.CheckConstraint(
                condition=_not_before("became_customer_at", "became_qualified_at"),
                name="contact_customer_after_qualified",
            ),
        ]
        indexes = [
            # Admin and API filters, and the report figures counted by stage stamp.
            models.Index(fields=["stage", "-id"], name="contact_stage_idx"),
            models.Index(fields=["source_channel", "-id"], name="contact_channel_idx"),
            models.Index(fields=["source_campaign", "-id"], name="contact_campaign_idx"),
            models.Index(fields=["coupon", "-id"], name="contact_coupon_idx"),
            models.Index(fields=["owner", "-id"], name="contact_owner_idx"),
            # Partial: most contacts give no words that name a channel, and only those that do
            # pay for it on insert. `heard_channel = X` implies NOT NULL, so the filters use it.
            models.Index(
                fields=["heard_channel", "-id"],
                condition=models.Q(heard_channel__isnull=False),
                name="contact_heard_idx",
            ),
            models.Index(fields=["entered_at"], name="contact_entered_idx"),
            models.Index(fields=["became_lead_at"], name="contact_lead_idx"),
            models.Index(fields=["became_qualified_at"], name="contact_qualified_idx"),
            models.Index(fields=["became_customer_at"], name="contact_customer_idx"),
            models.Index(fields=["phone"], name="contact_phone_idx"),
            # The funnel's cohort medians (days from entry to lead, to customer): the period's
            # entrants that reached the stage, read from the index alone (no table rows).
            models.Index(
                fields=["entered_at"],
                include=["became_lead_at", "source_channel", "source_campaign"],
                condition=models.Q(became_lead_at__isnull=False),
                name="contact_lead_cohort_idx",
            ),
            models.Index(
                fields=["entered_at"],
                include=["became_customer_at", "source_channel", "source_campaign"],
                condition=models.Q(became_customer_at__isnull=False),
                name="contact_customer_cohort_idx",
            ),
            # The dashboard's self-reported column: the period's entrants who named a channel,
            # counted by it from the index alone (PostgreSQL: an index-only scan, ten times
            # faster than reading their rows). Partial: only those contacts pay on insert.
            models.Index(
                fields=["entered_at"],
                include=["heard_channel"],
                condition=models.Q(heard_channel__isnull=False),
                name="contact_heard_entered_idx",
            ),
            # Names, company and handle are searched through `search_text`: on PostgreSQL the
            # trigram index `search_index()`, made by migration 0010 there only.
            models.Index(fields=["phone_e164"], name="contact_phone_e164_idx"),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or self.handle or self.phone or f"Contact #{self.pk}"

    @property
    def stage_enum(self) -> Stage:
        return Stage(self.stage)


class StageChange(models.Model):
    """One move of a contact along the funnel. Append-only: never updated, never edited."""

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="stage_changes", db_index=False
    )
    from_stage = models.CharField(
        max_length=20, choices=Stage.choices, blank=True, default="", help_text="Empty on entry"
    )
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    at = models.DateTimeField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    via = models.CharField(max_length=20, choices=Via.choices)
    forced = models.BooleanField(default=False)
    note = models.CharField(max_length=300, blank=True, default="")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["contact", "at", "id"], name="stagechange_contact_idx")]

    def __str__(self) -> str:
        return f"{self.from_stage or 'entry'} -> {self.to_stage}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("StageChange rows are append-only")
        super().save(*args, **kwargs)


class Touchpoint(models.Model):
    class Kind(models.TextChoices):
        FOLLOW = "follow", "Follow"
        LIKE = "like", "Like"
        COMMENT = "comment", "Comment"
        SHARE = "share", "Share"
        CLICK = "click", "Click"
        VISIT = "visit", "Visit"
        FORM = "form", "Form"
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        MESSAGE = "message", "Message"
        COUPON = "coupon", "Coupon"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="touchpoints")
    # Led by the (key, occurred_at) indexes below.
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="touchpoints", db_index=False
    )
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="touchpoints",
        db_index=False,
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.VISIT)
    occurred_at = models.DateTimeField(validators=[not_in_future])
    # The raw utm_source / referrer as the integration sent it, kept even when it resolved.
    source = models.CharField(max_length=200, blank=True, default="")
    # NULL when unset, so that the unique constraint binds real ids only.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # Covering (PostgreSQL): attribution reads each purchase's touches from the index
            # alone, already in order. Elsewhere the contact foreign key's index serves.
            models.Index(
                fields=["contact", "occurred_at", "id"],
                include=["channel", "campaign", "kind"],
                name="touch_contact_cover_idx",
            ),
            models.Index(fields=["occurred_at", "id"], name="touch_time_idx"),
            models.Index(fields=["channel", "occurred_at"], name="touch_channel_time_idx"),
            models.Index(fields=["campaign", "occurred_at"], name="touch_campaign_time_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="touch_external_id_unique")
        ]

    def __str__(self) -> str:
        # Names, not ids (the admin's history rows show this): "Coupon on Pinterest, Spring
        # pins, at 2026-03-01 09:00". Lists that show it join the channel and the campaign.
        where = self.channel.name
        if self.campaign_id is not None:
            where = f"{where}, {self.campaign.name},"
        return f"{self.get_kind_display()} on {where} at {self.occurred_at:%Y-%m-%d %H:%M}"


class Purchase(models.Model):
    # Led by the (key, occurred_at) indexes below.
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="purchases", db_index=False
    )
    amount = models.DecimalField(**MONEY, help_text="What was paid (net of any discount).")
    discount = models.DecimalField(**MONEY, default=ZERO, validators=[MinValueValidator(ZERO)])
    occurred_at = models.DateTimeField(validators=[not_in_future])
    coupon = models.ForeignKey(
        Coupon,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="purchases",
        db_index=False,
    )
    # NULL when unset, so that the unique constraint binds real ids only.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    note = models.CharField(max_length=300, blank=True, default="")
    # A discount code a shop reported that names no coupon here, kept until it is mapped to one
    # (`leads.services.purchases_apply_coupon`), then cleared.
    unmatched_code = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="purchase_amount_positive"),
            models.CheckConstraint(
                condition=Q(discount__gte=0), name="purchase_discount_not_negative"
            ),
            models.UniqueConstraint(fields=["external_id"], name="purchase_external_id_unique"),
        ]
        indexes = [
            models.Index(fields=["occurred_at", "id"], name="purchase_time_idx"),
            models.Index(fields=["contact", "occurred_at"], name="purchase_contact_time_idx"),
            models.Index(fields=["coupon", "occurred_at"], name="purchase_coupon_time_idx"),
            models.Index(
                Lower("unmatched_code"),
                condition=~Q(unmatched_code=""),
                name="purchase_unmatched_code_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} on {self.occurred_at:%Y-%m-%d}"


class Refund(models.Model):
    """Money given back on a purchase (a shop's refund): it lowers that purchase's revenue.

    Reports credit a purchase's net amount (its amount less its refunds) with the purchase's
    shares on the purchase's day: a refund is late data for that day, not revenue of its own
    day. The contact stays a customer. The refunds of a purchase never add up to more than its
    amount; `leads.services.refund_record` checks that under the purchase's row lock."""

    # PROTECT: a purchase goes only through `purchase_delete`, which removes its refunds and
    # declares its day; any other path that would drop them silently fails instead. Led by
    # the covering index below.
    purchase = models.ForeignKey(
        Purchase, on_delete=models.PROTECT, related_name="refunds", db_index=False
    )
    amount = models.DecimalField(**MONEY, help_text="What was given back (more than zero).")
    # Never before its purchase (the services check it); the reports fold a purchase's refunds
    # in from this column's index, reading only the refunds made since the period began.
    occurred_at = models.DateTimeField(validators=[not_in_future])
    # NULL when unset, so that the unique constraint binds real ids only.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    note = models.CharField(max_length=300, blank=True, default="")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    via = models.CharField(max_length=20, choices=Via.choices, default=Via.SYSTEM)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(fields=["external_id"], name="refund_external_id_unique"),
        ]
        indexes = [
            # Covering (PostgreSQL): a purchase's refunds summed from the index alone, by the
            # reports and by the service's over-refund check.
            models.Index(fields=["purchase"], include=["amount"], name="refund_purchase_idx"),
            # The admin's date filter and the reports' "refunds since the period began".
            models.Index(fields=["occurred_at", "id"], name="refund_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} refunded on {self.occurred_at:%Y-%m-%d}"


class ContactMerge(models.Model):
    """The record that one contact was merged into another (the merged row is gone)."""

    survivor = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merges")
    merged_contact_id = models.BigIntegerField()
    merged_fields = models.JSONField(default=dict, help_text="What the merged contact held.")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    via = models.CharField(max_length=20, choices=Via.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"#{self.merged_contact_id} into #{self.survivor_id}"


class ContactEmail(models.Model):
    """A contact's secondary email: one it was also known by (the emails of contacts merged
    into it). An email names one contact: unique here without regard to case, and the services
    refuse one that is another contact's primary email, and the reverse (`rules.contact_by_email`
    finds both)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="other_emails")
    email = models.EmailField()
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="contactemail_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.email


class ContactPhone(models.Model):
    """A contact's secondary phone (the phones of contacts merged into it), raw and E.164."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="other_phones")
    phone = models.CharField(max_length=32)
    phone_e164 = models.CharField(max_length=20, blank=True, default="")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["phone_e164"], name="contactphone_e164_idx")]

    def __str__(self) -> str:
        return self.phone
