"""Writes of API keys (create: the secret is returned once; change, revoke, mark used) and of
the admin's saved views.

Neither changes a reported figure, so nothing here declares a change to the reports.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import QueryDict
from django.utils import timezone

from accounts.models import ApiKey, SavedView
from campaigns.errors import Conflict, InvalidInput

log = logging.getLogger(__name__)

# A busy key would otherwise write its row on every request; a minute is precise enough to
# tell a live integration from a dead one.
LAST_USED_PRECISION = dt.timedelta(minutes=1)
PREFIX_DRAWS = 5
NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length


def _checked_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Name the integration that will use the key.", field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(f"At most {NAME_MAX_LENGTH} characters.", field="name")
    return name


def _checked_expiry(expires_at: dt.datetime | None) -> dt.datetime | None:
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("The expiry must be in the future.", field="expiry_date")
    return expires_at


def api_key_create(
    *, user: AbstractBaseUser, name: str, expires_at: dt.datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key for `user`, named after the integration that uses it. Returns the row and the
    key itself, which is shown once and never stored (only its hash is)."""
    name = _checked_name(name)
    expires_at = _checked_expiry(expires_at)
    if not user.is_active:
        raise InvalidInput("The user is inactive; a key would not work.", field="user")
    for _ in range(PREFIX_DRAWS):
        api_key = ApiKey(user=user, name=name, expiry_date=expires_at)
        raw_key = ApiKey.objects.assign_key(api_key)
        try:
            with transaction.atomic():
                api_key.save(force_insert=True)
        except IntegrityError:
            # The random prefix is unique in the table; a draw that hit an existing one (one in
            # 62^8 per key) draws again rather than shadowing or failing.
            if ApiKey.objects.filter(prefix=api_key.prefix).exists():
                continue
            raise
        log.info("API key %s (%s) created for user %s", api_key.prefix, name, user.pk)
        return api_key, raw_key
    raise Conflict("Could not draw an unused key prefix; try again.")


EDITABLE = {"name", "expiry_date", "revoked"}


def api_key_update(*, api_key: ApiKey, **fields: Any) -> ApiKey:
    """Rename a key, change its expiry, or revoke it (which cannot be undone)."""
    unknown = set(fields) - EDITABLE
    if unknown:
        raise InvalidInput(f"Not editable: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        stored = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if stored.revoked and fields.get("revoked", True) is False:
            raise InvalidInput("A revoked key stays revoked; create a new one.", field="revoked")
        if "name" in fields:
            stored.name = _checked_name(fields["name"])
        if "expiry_date" in fields and fields["expiry_date"] != stored.expiry_date:
            stored.expiry_date = _checked_expiry(fields["expiry_date"])
        if fields.get("revoked") and not stored.revoked:
            stored.revoked = True
            log.info("API key %s (%s) revoked", stored.prefix, stored.name)
        stored.save(update_fields=["name", "expiry_date", "revoked"])
    for name in ("name", "expiry_date", "revoked"):
        setattr(api_key, name, getattr(stored, name))
    return api_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Stop a key at once: its next request is a 401."""
    return api_key_update(api_key=api_key, revoked=True)


def api_key_mark_used(*, api_key: ApiKey, at: dt.datetime) -> None:
    """Record that the key was used, at most once a minute per key. The UPDATE carries the
    condition, so concurrent requests of one key write the row once."""
    if api_key.last_used_at is not None and at - api_key.last_used_at < LAST_USED_PRECISION:
        return
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=at - LAST_USED_PRECISION)
    ).update(last_used_at=at)
    api_key.last_used_at = at


# --- saved views of the admin's lists -----------------------------------------------------------

VIEW_NAME_MAX_LENGTH = SavedView._meta.get_field("name").max_length
VIEW_QUERY_MAX_LENGTH = SavedView._meta.get_field("query").max_length
VIEWS_PER_LIST = 50  # per user and list: a menu, not a store
# What a list's address may carry that is not a choice to keep: the page, "show all", and the
# admin's own flags (a popup, an error marker, the change form's way back).
NOT_KEPT = {"p", "all", "e", "_popup", "_to_field", "_changelist_filters"}


def saved_view_query(query: str, *, param_allowed: Callable[[str, str], bool]) -> str:
    """The query string a view keeps: the list's own parameters, in a stable order, without
    the page. Raises InvalidInput on an unknown parameter or a query too long to keep."""
    query = (query or "").lstrip("?")
    if len(query) > VIEW_QUERY_MAX_LENGTH:
        raise InvalidInput(
            f"These filters are too long to keep (at most {VIEW_QUERY_MAX_LENGTH} characters).",
            field="query",
        )
    params = QueryDict(query)
    kept = QueryDict(mutable=True)
    for key in sorted(params):
        if key in NOT_KEPT:
            continue
        values = params.getlist(key)
        if not all(param_allowed(key, value) for value in values):
            raise InvalidInput(f"This list has no filter {key!r}.", field="query")
        kept.setlist(key, values)
    return kept.urlencode()


def saved_view_save(
    *,
    user: AbstractBaseUser,
    model_label: str,
    name: str,
    query: str,
    shared: bool = False,
    param_allowed: Callable[[str, str], bool],
) -> tuple[SavedView, bool]:
    """Keep the filters, search and sort of a list (`query`, its query string) under a name;
    returns (view, created). Saving under a name the user already gave on this list replaces
    that view's filters. `param_allowed(key, value)` says which parameters the list accepts
    (the admin's changelist knows)."""
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("Name the view.", field="name")
    if len(name) > VIEW_NAME_MAX_LENGTH:
        raise InvalidInput(f"At most {VIEW_NAME_MAX_LENGTH} characters.", field="name")
    query = saved_view_query(query, param_allowed=param_allowed)
    mine = SavedView.objects.filter(user=user, model_label=model_label)
    with transaction.atomic():
        existing = mine.select_for_update().filter(name=name).first()
        if existing is not None:
            existing.query, existing.shared = query, shared
            existing.save(update_fields=["query", "shared"])
            return existing, False
        if mine.count() >= VIEWS_PER_LIST:
            raise InvalidInput(
                f"You have {VIEWS_PER_LIST} views of this list; delete one first.", field="name"
            )
        try:
            with transaction.atomic():
                view = SavedView.objects.create(
                    user=user, model_label=model_label, name=name, query=query, shared=shared
                )
        except IntegrityError:
            # The same name saved twice at once (two tabs): the other request's view stands.
            raise Conflict(f"You already have a view named {name!r}.", field="name") from None
    return view, True


def saved_view_delete(*, user: AbstractBaseUser, view_id: int, model_label: str) -> SavedView:
    """Delete one of the user's own views of this list; anyone else's (shared or not) is not
    theirs to delete and reads as not found."""
    view = SavedView.objects.filter(pk=view_id, user=user, model_label=model_label).first()
    if view is None:
        raise InvalidInput("No such view of yours.", field="view")
    view.delete()
    return view
