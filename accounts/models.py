"""API keys: one per integration, hashed at rest, revocable, optionally expiring.

The key a client sends is `<prefix>.<secret>`; the row keeps the prefix (to find it) and a
SHA-512 of the whole key (to check it); the secret itself is never stored. Keys carried over
from the plaintext tokens of `rest_framework.authtoken` are 40 hex characters without a dot;
their prefix is their first eight characters (`prefix_of`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey

LEGACY_PREFIX_LENGTH = 8


def prefix_of(raw_key: str) -> str:
    """The prefix under which a key sent by a client is stored."""
    prefix, dot, _ = raw_key.partition(".")
    return prefix if dot else raw_key[:LEGACY_PREFIX_LENGTH]


class ApiKey(AbstractAPIKey):
    """A key acts as its user: what it may do is what the user's role groups allow."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_keys",
        help_text="The key acts as this user, with its role's permissions.",
    )
    last_used_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Updated at most once a minute, so busy keys do not write on every request.",
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        ordering = ("-created",)
        indexes = [models.Index(fields=["user", "-created"], name="apikey_user_created_idx")]


class SavedView(models.Model):
    """A named admin list: the filters, search and sort of one model's changelist, kept as the
    list's own query string (`accounts.services.saved_view_save` checks it). Its owner sees it
    on that list, and so does everyone who may read the list when it is shared."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    # "leads.contact": the app label and model name of the changelist.
    model_label = models.CharField(max_length=100)
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=1000, blank=True, default="")
    shared = models.BooleanField(default=False, help_text="Listed for everyone who may read it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "model_label", "name"], name="savedview_user_model_name_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["model_label", "shared"],
                condition=models.Q(shared=True),
                name="savedview_shared_idx",
            )
        ]

    def __str__(self) -> str:
        return self.name
