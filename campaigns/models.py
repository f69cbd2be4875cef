"""Channels, campaigns and what they cost, coupons, daily engagement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from campaigns.phones import normalize_phone

MONEY = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")


def is_future(value: dt.date | dt.datetime) -> bool:
    """Nothing is dated after the moment it is recorded (SPEC §2), whatever the door: a moment
    after now, a day after today (in TIME_ZONE). A client whose clock runs ahead is told so,
    rather than its data counting in a period still to come."""
    if isinstance(value, dt.datetime):
        return value > timezone.now()
    return value > timezone.localdate()


def not_in_future(value: dt.date | dt.datetime) -> None:
    """The field validator of `is_future`: forms and serializers say so at the field; the
    services check it again."""
    if is_future(value):
        raise ValidationError("Must not be in the future.", code="future")


class Channel(models.Model):
    class Kind(models.TextChoices):
        SOCIAL = "social", "Social"
        SEARCH = "search", "Search"
        EMAIL = "email", "Email"
        REFERRAL = "referral", "Referral"
        OFFLINE = "offline", "Offline"
        DIRECT = "direct", "Direct"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SOCIAL)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_default(self) -> bool:
        """One of the channels every installation has: integrations send its slug."""
        return self.slug in DEFAULT_CHANNEL_SLUGS


# The channels the data migration 0002_default_channels creates (SPEC §2). Integrations send
# these slugs, so they can be neither renamed nor deleted; their names may change.
DEFAULT_CHANNEL_SLUGS = frozenset(
    [
        "facebook",
        "instagram",
        "x",
        "linkedin",
        "pinterest",
        "tiktok",
        "youtube",
        "email",
        "referral",
        "direct",
    ]
)


class ChannelAlias(models.Model):
    """Another name for a channel: a `utm_source` value or a referrer host ("fb", "t.co")."""

    alias = models.CharField(max_length=100, unique=True, help_text="Stored lower-case.")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="aliases")

    class Meta:
        ordering = ["alias"]
        verbose_name_plural = "channel aliases"
        constraints = [
            models.CheckConstraint(condition=Q(alias=Lower("alias")), name="alias_is_lower_case"),
        ]

    def __str__(self) -> str:
        return f"{self.alias} -> {self.channel.slug}"

    def save(self, *args, **kwargs) -> None:
        self.alias = self.alias.strip().lower()
        super().save(*args, **kwargs)


class Campaign(models.Model):
    class Objective(models.TextChoices):
        AWARENESS = "awareness", "Awareness"
        ENGAGEMENT = "engagement", "Engagement"
        LEADS = "leads", "Leads"
        SALES = "sales", "Sales"

    name = models.CharField(max_length=200)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="campaigns")
    objective = models.CharField(max_length=20, choices=Objective.choices, default=Objective.SALES)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    budget = models.DecimalField(**MONEY, default=ZERO, validators=[MinValueValidator(ZERO)])
    target_leads = models.PositiveIntegerField(null=True, blank=True)
    target_cost_per_lead = models.DecimalField(
        **MONEY, null=True, blank=True, validators=[MinValueValidator(ZERO)]
    )
    utm_campaign = models.CharField(max_length=200, blank=True, db_index=True)
    # NULL when unset (never ""), so that the unique constraint only binds real numbers.
    tracking_phone = models.CharField(max_length=32, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_on", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(budget__gte=0), name="campaign_budget_not_negative"),
            models.CheckConstraint(
                condition=Q(target_cost_per_lead__isnull=True) | Q(target_cost_per_lead__gte=0),
                name="campaign_target_cpl_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                name="campaign_ends_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(tracking_phone=""), name="campaign_tracking_phone_null_not_blank"
            ),
        ]
        indexes = [models.Index(fields=["channel", "starts_on"])]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.tracking_phone = normalize_phone(self.tracking_phone) or None
        super().save(*args, **kwargs)


class Cost(models.Model):
    class Category(models.TextChoices):
        AD_SPEND = "ad_spend", "Ad spend"
        STAFF_TIME = "staff_time", "Staff time"
        CONTENT = "content", "Content"
        TOOLS = "tools", "Tools"
        AGENCY = "agency", "Agency"
        OTHER = "other", "Other"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="costs")
    incurred_on = models.DateField(validators=[not_in_future])
    amount = models.DecimalField(**MONEY, validators=[MinValueValidator(ZERO)])
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.AD_SPEND)
    note = models.CharField(max_length=300, blank=True)
    external_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-incurred_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="cost_amount_not_negative"),
        ]
        indexes = [
            models.Index(fields=["incurred_on", "campaign"]),
            models.Index(fields=["campaign", "incurred_on"]),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} {self.incurred_on} {self.amount}"


class Coupon(models.Model):
    code = models.CharField(max_length=64)
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="coupons")
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    max_redemptions = models.PositiveIntegerField(null=True, blank=True)
    # Kept by the purchase service with a conditional UPDATE, so the cap holds under concurrency.
    redemptions = models.PositiveIntegerField(default=0, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                Lower("code"),
                name="coupon_code_unique_ci",
                violation_error_message="A coupon with this code already exists "
                "(codes are compared without regard to case).",
            ),
            models.CheckConstraint(condition=~Q(code=""), name="coupon_code_not_blank"),
            models.CheckConstraint(
                condition=Q(max_redemptions__isnull=True)
                | Q(redemptions__lte=F("max_redemptions")),
                name="coupon_redemptions_within_cap",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gte=F("valid_from")),
                name="coupon_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def save(self, *args, **kwargs) -> None:
        self.code = self.code.strip()
        super().save(*args, **kwargs)


class EngagementStat(models.Model):
    """One campaign's engagement on one day; writing the same day again replaces the row."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="engagement")
    date = models.DateField(validators=[not_in_future])
    impressions = models.PositiveIntegerField(default=0)
    reach = models.PositiveIntegerField(default=0)
    reactions = models.PositiveIntegerField(default=0)
    comments = models.PositiveIntegerField(default=0)
    shares = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    followers_gained = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-date", "campaign_id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "date"], name="engagement_one_row_per_day"),
        ]
        indexes = [models.Index(fields=["date", "campaign"])]

    def __str__(self) -> str:
        return f"{self.campaign} {self.date}"

    @property
    def interactions(self) -> int:
        return self.reactions + self.comments + self.shares + self.clicks


class AdPlatform(models.TextChoices):
    """Ad platforms whose cost exports `import_costs --format` reads."""

    META = "meta", "Meta (Facebook, Instagram)"
    GOOGLE = "google", "Google Ads"
    LINKEDIN = "linkedin", "LinkedIn"
    TIKTOK = "tiktok", "TikTok"
    GA4 = "ga4", "GA4 cost data"


class CampaignAlias(models.Model):
    """A campaign as an ad platform's export names it, mapped to one of ours once: an import
    that meets a name it cannot match keeps it here unmapped (listed in the admin), and a user
    picks the campaign it means; later imports of that platform then match it."""

    platform = models.CharField(max_length=20, choices=AdPlatform.choices)
    name = models.CharField(max_length=300, help_text="As the platform's export writes it.")
    name_key = models.CharField(max_length=300, editable=False, help_text="Lower case.")
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="platform_names",
        help_text="Empty until someone maps it.",
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["platform", "name_key"]
        verbose_name = "ad platform campaign name"
        verbose_name_plural = "ad platform campaign names"
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "name_key"], name="campaign_alias_unique_name"
            )
        ]

    def __str__(self) -> str:
        target = self.campaign.name if self.campaign_id else "(not mapped)"
        return f"{self.get_platform_display()}: {self.name} -> {target}"


class StaffMember(models.Model):
    """Someone whose time goes into campaigns (staff time is most of what organic social costs a
    small business): paid by the hour, at rates that change on given dates."""

    name = models.CharField(max_length=200, unique=True)
    active = models.BooleanField(default=True, help_text="Shown on the timesheet.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "staff member"

    def __str__(self) -> str:
        return self.name


class HourlyRate(models.Model):
    """A staff member's hourly rate from a day on, until their next rate's day."""

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="rates")
    effective_from = models.DateField()
    rate = models.DecimalField(**MONEY, validators=[MinValueValidator(ZERO)])

    class Meta:
        ordering = ["staff", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["staff", "effective_from"], name="rate_unique_day"),
            models.CheckConstraint(condition=Q(rate__gte=0), name="rate_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.staff} {self.rate}/h from {self.effective_from}"


class TimeEntry(models.Model):
    """Hours a staff member spent on a campaign on a day: one `staff_time` cost, at the rate of
    that day (the cost follows the entry and the rates; see `campaigns.services`)."""

    staff = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="time_entries")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="time_entries")
    date = models.DateField(validators=[not_in_future])
    hours = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Up to 24 a day.",
    )
    note = models.CharField(max_length=300, blank=True)
    cost = models.OneToOneField(
        Cost, on_delete=models.CASCADE, related_name="time_entry", editable=False
    )

    class Meta:
        ordering = ["-date", "staff"]
        verbose_name_plural = "time entries"
        constraints = [
            models.UniqueConstraint(
                fields=["staff", "campaign", "date"], name="time_entry_unique_day"
            ),
            models.CheckConstraint(
                condition=Q(hours__gt=0, hours__lte=24), name="time_entry_hours_in_a_day"
            ),
        ]
        indexes = [models.Index(fields=["staff", "date"])]

    def __str__(self) -> str:
        return f"{self.staff} {self.hours} h on {self.campaign} {self.date}"


class ImportJob(models.Model):
    """A CSV file uploaded in the admin to import (contacts, touchpoints, purchases, costs or
    an ad platform's costs): kept with its column mapping, run on a Celery worker, its
    progress, counts and rejected rows shown on its page (`campaigns.services` and `tasks`)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Waiting for its columns"
        PENDING = "pending", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=20)
    platform = models.CharField(max_length=20, choices=AdPlatform.choices, blank=True)
    file_name = models.CharField(max_length=255)
    data = models.BinaryField(help_text="The uploaded file, as sent.")
    lines = models.PositiveIntegerField(default=0)
    header = models.JSONField(default=list, help_text="The file's column names.")
    mapping = models.JSONField(default=dict, help_text="The file's columns to ours.")
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    line = models.PositiveIntegerField(default=0, help_text="The last line imported so far.")
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    rejected = models.JSONField(default=list, help_text="[line, column, reason] per problem.")
    error = models.TextField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} from {self.file_name}"


class ImportMapping(models.Model):
    """The column mapping last used for a kind of import and a file header: the next file with
    the same columns opens with it."""

    kind = models.CharField(max_length=40)
    header_key = models.CharField(max_length=64, help_text="A hash of the file's column names.")
    mapping = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "header_key"], name="import_mapping_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} mapping {self.header_key[:8]}"
