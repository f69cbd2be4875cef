"""Writes of API keys: create (the secret is returned once), change, revoke, mark used.

API keys change no reported figure, so nothing here declares a change to the reports.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiKey
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
