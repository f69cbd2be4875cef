"""Connectors: the shops, sites and phone providers that send the business's data here, and
the log of every delivery they made (SPEC §10)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from campaigns.models import Coupon

# How long delivered payloads are kept (a beat task deletes older ones).
DELIVERY_DAYS = 30


class Connector(models.Model):
    class Kind(models.TextChoices):
        SHOPIFY = "shopify", "Shopify shop"
        WOOCOMMERCE = "woocommerce", "WooCommerce store"
        SITE = "site", "Website (capture script)"
        TWILIO = "twilio", "Twilio phone numbers"
        CALLRAIL = "callrail", "CallRail account"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=100)
    # Public: the last part of the webhook address, or the site's publishable key. It names the
    # connector; it proves nothing (the signature, or the allowed origins, do).
    key = models.CharField(max_length=40, unique=True, editable=False)
    # The signing secret, encrypted (`connectors.secrets`): webhooks are verified by an HMAC
    # over the body with it, so it must be read back, never hashed. Empty for a site.
    secret = models.TextField(blank=True, default="", editable=False)
    secret_hint = models.CharField(max_length=8, blank=True, default="", editable=False)
    # The shop's domain (Shopify: example.myshopify.com), the store's address (WooCommerce),
    # the account (Twilio: AC..., CallRail: its account or company id). Shopify deliveries from
    # another shop are refused.
    account = models.CharField(max_length=200, blank=True, default="")
    # A site's origins allowed to send captures, one per line (https://www.example.com).
    allowed_origins = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        permissions = [("manage_connectors", "Can set up connectors and see their deliveries")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def origins(self) -> list[str]:
        return [
            line.strip().rstrip("/").lower()
            for line in self.allowed_origins.splitlines()
            if line.strip()
        ]


class Delivery(models.Model):
    """One delivery a connector made, as received: recorded first, processed on a worker."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        # A refund whose order has not arrived yet: processed when it does.
        WAITING = "waiting", "Waiting for its order"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="deliveries")
    # The provider's id of this delivery: a replayed delivery is recorded once.
    delivery_id = models.CharField(max_length=200)
    topic = models.CharField(max_length=100)
    received_at = models.DateTimeField(db_index=True)
    body = models.TextField()
    content_type = models.CharField(max_length=100, blank=True, default="")
    # The headers and request details the processing needs (signature headers left out).
    meta = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    # What it wrote: {"purchase": id, "contact": id, "touch": id, "refunds": [ids]}.
    result = models.JSONField(default=dict, blank=True)
    # The key of the record it waits for (a refund's order).
    waiting_for = models.CharField(max_length=200, blank=True, default="")
    # When a worker last took it: the sweep hands a delivery to another worker only when this
    # one has held it too long, whenever it arrived.
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    test = models.BooleanField(default=False, help_text="Sent by the admin's test button.")

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "delivery_id"], name="delivery_once_per_connector"
            )
        ]
        indexes = [
            models.Index(fields=["connector", "-received_at"], name="delivery_connector_idx"),
            models.Index(fields=["status", "received_at"], name="delivery_status_idx"),
            models.Index(
                fields=["connector", "waiting_for"],
                condition=~Q(waiting_for=""),
                name="delivery_waiting_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.delivery_id}"


class DiscountCode(models.Model):
    """A discount code a shop reported that names no coupon here: kept, listed for mapping.
    Mapping it to a coupon re-attributes its purchases (`connectors.services.code_map`)."""

    code = models.CharField(max_length=100)
    coupon = models.ForeignKey(
        Coupon, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(Lower("code"), name="discountcode_code_unique_ci")]

    def __str__(self) -> str:
        return self.code
