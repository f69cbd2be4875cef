"""Saved reports and who receives them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from reports.periods import period_name


class Attribution(models.TextChoices):
    FIRST_TOUCH = "first_touch", "First touch"
    LAST_TOUCH = "last_touch", "Last touch"
    LINEAR = "linear", "Linear"
    POSITION_BASED = "position_based", "Position based"
    TIME_DECAY = "time_decay", "Time decay"
    W_SHAPED = "w_shaped", "W-shaped"
    FULL_PATH = "full_path", "Full path"
    MARKOV = "markov", "Markov chain"
    SHAPLEY = "shapley", "Shapley value"


# The models that credit each purchase by its own touches (one statement, cached per day), and
# those that learn each channel's share from all the period's journeys (`reports.datadriven`).
DATA_DRIVEN = (Attribution.MARKOV, Attribution.SHAPLEY)
RULE_BASED = tuple(m for m in Attribution if m not in DATA_DRIVEN)


class GroupBy(models.TextChoices):
    CHANNEL = "channel", "Channel"
    CAMPAIGN = "campaign", "Campaign"


class Granularity(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    CUSTOM = "custom", "Custom"


class Report(models.Model):
    """A snapshot of the ROI and funnel figures for one period and one set of parameters."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    start = models.DateField()
    end = models.DateField()
    granularity = models.CharField(
        max_length=10, choices=Granularity.choices, default=Granularity.CUSTOM
    )
    attribution = models.CharField(
        max_length=20, choices=Attribution.choices, default=Attribution.LAST_TOUCH
    )
    group_by = models.CharField(max_length=10, choices=GroupBy.choices, default=GroupBy.CHANNEL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    stale = models.BooleanField(default=False)
    # Failed: why. Pending or running with an error: the last attempt's transient error, and
    # the job is being retried.
    error = models.TextField(blank=True, default="")
    data = models.JSONField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The claim: the Celery task that generates it (its redelivery may take it back at once)
    # and when it started (a claim older than the task time limit is abandoned).
    task_id = models.CharField(max_length=255, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    # When a job was last sent for it: pending long after that, the message was lost.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # Abandoned claims taken over since the last finish: a job that keeps killing its worker
    # is given up after a few.
    interruptions = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-end", "-id"]
        permissions = [("view_dashboard", "Can view the ROI report pages")]
        constraints = [
            models.UniqueConstraint(
                fields=["start", "end", "granularity", "attribution", "group_by"],
                name="report_unique_parameters",
            ),
            models.CheckConstraint(condition=Q(end__gte=F("start")), name="report_end_after_start"),
        ]
        indexes = [models.Index(fields=["start", "end"], name="report_period_idx")]

    def __str__(self) -> str:
        return f"{self.granularity} {self.start}..{self.end} {self.group_by}/{self.attribution}"

    @property
    def name(self) -> str:
        """Its period's name, derived from its dates ("Q3 2026", "March 2026", "Week 47,
        2026", "1-15 Mar 2026"): never stored, so never out of date, and the same whichever
        preset or kind asked for it."""
        return period_name(self.start, self.end)


class ReportSubscription(models.Model):
    """An email address that receives every saved report of one granularity.

    Any address (a colleague, a shared inbox), added on the subscriptions page by a user with the
    report permission; stored in its compared form (`reports.services.subscription_address`),
    so one address receives one kind once."""

    email = models.EmailField(max_length=254)
    granularity = models.CharField(max_length=10, choices=Granularity.choices)
    # Who added it (kept for the record; the subscription outlives the account).
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="report_subscriptions",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email", "granularity"]
        constraints = [
            models.UniqueConstraint(
                fields=["email", "granularity"], name="subscription_unique_address"
            ),
            models.CheckConstraint(
                condition=Q(granularity__in=["daily", "weekly", "monthly"]),
                name="subscription_periodic_granularity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} {self.granularity}"


class DayCache(models.Model):
    """One closed local day of a reports cache (its rows as JSON): valid while no data of its
    day changed after it was computed (see DayChange); `reports.daycache` reads and fills it."""

    # Days are local days: rows made under another TIME_ZONE are other days.
    time_zone = models.CharField(max_length=64, default="UTC")
    day = models.DateField()
    rows = models.JSONField(default=list)
    computed_at = models.DateTimeField()

    class Meta:
        abstract = True


class AttributedDay(DayCache):
    """One closed day's attribution sums for one model and lookback (the rows of
    `reports.attribution.report_sql` for that day's purchases): a cache in the database, so a
    report over a long period sums days instead of re-ranking every purchase's touches. A row
    is valid while no data of its day changed after it was computed (see DayChange)."""

    model = models.CharField(max_length=20, choices=Attribution.choices)
    lookback_days = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model", "lookback_days", "time_zone", "day"],
                name="attributed_day_unique_tz",
            )
        ]

    def __str__(self) -> str:
        return f"{self.model} ({self.lookback_days} days) on {self.day}"


class DayChange(models.Model):
    """When data dated on a day last changed after the fact (a late touch, purchase, move...):
    cached figures of that day computed before then are stale."""

    day = models.DateField(primary_key=True)
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.day} changed at {self.changed_at:%Y-%m-%d %H:%M}"


class ContactDay(DayCache):
    """One closed day's contact counts per source (channel, campaign): contacts entered, and
    of them how many reached lead and customer so far; contacts stamped lead, qualified and
    customer that day. A cache like AttributedDay, voided by the same day stamps."""

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["time_zone", "day"], name="contact_day_unique_tz")
        ]

    def __str__(self) -> str:
        return f"contacts on {self.day}"


class PathDay(DayCache):
    """One closed day's conversion paths for one lookback (`reports.paths`): per path, the
    first purchases of that day, their cents and touches and each one's days to convert. A
    cache like AttributedDay, voided by the same day stamps."""

    lookback_days = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["lookback_days", "time_zone", "day"], name="path_day_unique_tz"
            )
        ]

    def __str__(self) -> str:
        return f"paths ({self.lookback_days} days) on {self.day}"


class MonthRollup(models.Model):
    """One closed month of a day cache (`AttributedDay`, `ContactDay`, `DurationDay`, `PathDay`)
    added up: the rows of its days combined into one list, so a report over a year reads 12
    rows, not 365 (`reports.daycache.span_rows`). Valid while no day of the month changed after
    it was computed (see DayChange), and deleted with the month's days when late data arrives."""

    # The day cache it sums (its model name) and that cache's keys ("model=linear:...").
    cache = models.CharField(max_length=40)
    keys = models.CharField(max_length=200, blank=True, default="")
    time_zone = models.CharField(max_length=64, default="UTC")
    month = models.DateField(help_text="The month's first day.")
    rows = models.JSONField(default=list)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cache", "keys", "time_zone", "month"], name="month_rollup_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cache} {self.keys} in {self.month:%Y-%m}"


class DurationDay(DayCache):
    """One closed day's cohort durations per source (channel, campaign): of the contacts that
    entered that day, the whole microseconds from entry to their lead stamp and to their
    customer stamp, each list sorted, so the median of any period is exact. A cache like
    ContactDay, voided by the same day stamps (a stage move marks its contact's entry day)."""

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["time_zone", "day"], name="duration_day_unique_tz")
        ]

    def __str__(self) -> str:
        return f"durations of {self.day}'s cohort"


class VerdictDelivery(models.Model):
    """The weekly verdict (`reports.verdict`) for one week to one target: an address subscribed
    to weekly reports, or the Slack-compatible webhook ("slack").

    One row per (week, target), made by an insert that ignores conflicts, then claimed by a
    conditional UPDATE from pending or failed to sending that must touch this one row: a task
    retry or a second worker finds it sending or sent and leaves it, so a week's verdict reaches
    a target once. A failed send may be claimed again (the task's retry, with backoff); a sent
    one never. A claim whose worker died while sending stays sending: whether the message left
    is unknown, and a verdict twice is worse than one missing (docs/decisions.md)."""

    class Medium(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    period_start = models.DateField(help_text="The week's Monday.")
    target = models.CharField(max_length=254, help_text='An email address, or "slack".')
    medium = models.CharField(max_length=10, choices=Medium.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Failed: why the last attempt did not go.
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start", "target"]
        verbose_name_plural = "verdict deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["period_start", "target"], name="verdict_delivery_unique_target"
            ),
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False) | ~Q(status="sent"),
                name="verdict_delivery_sent_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"verdict of {self.period_start} to {self.target}"


class CohortMonth(models.Model):
    """One closed cohort month of `reports.payback` (every horizon past): per source (channel,
    campaign), its entrants and its net revenue per day since entry (days 0..180). Valid while
    no day of its window (the month's first day to its last day + 180) changed after it was
    computed (see DayChange): late data landing in the window voids it."""

    time_zone = models.CharField(max_length=64, default="UTC")
    month = models.DateField(help_text="The month's first day.")
    rows = models.JSONField(default=list)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["time_zone", "month"], name="cohort_month_unique_tz")
        ]

    def __str__(self) -> str:
        return f"payback of the {self.month:%Y-%m} cohort"
