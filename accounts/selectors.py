"""Reads of the admin's saved views."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from accounts.models import SavedView


def saved_views_for(*, user: AbstractBaseUser, model_label: str) -> list[SavedView]:
    """The views a user may pick on a list: their own, then the ones others shared, each by
    name. One query (the owners joined, to name who shared)."""
    views = (
        SavedView.objects.filter(Q(user=user) | Q(shared=True), model_label=model_label)
        .select_related("user")
        .order_by("name", "id")
    )
    own = [v for v in views if v.user_id == user.pk]
    return own + [v for v in views if v.user_id != user.pk]
