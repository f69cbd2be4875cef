"""API authentication by key, keeping the documented header `Authorization: Token <key>`."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from accounts.models import ApiKey, prefix_of
from accounts.services import api_key_mark_used

# Keys are 41 characters (legacy tokens 40); anything much longer is not a key and is refused
# before it is hashed.
MAX_KEY_LENGTH = 200
INVALID = "Invalid API key."


class ApiKeyAuthentication(TokenAuthentication):
    """Finds the key by its prefix (one indexed query, with its user) and checks the hash of the
    whole key. A revoked or expired key, or one whose user is inactive, is a 401 that says so;
    the reason is told only to a client that holds the right secret."""

    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiKey]:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise exceptions.AuthenticationFailed(INVALID)
        api_key = ApiKey.objects.select_related("user").filter(prefix=prefix_of(key)).first()
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed(INVALID)
        if api_key.revoked:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if api_key.has_expired:
            expired = timezone.localtime(api_key.expiry_date).isoformat(timespec="minutes")
            raise exceptions.AuthenticationFailed(f"This API key expired at {expired}.")
        if not api_key.user.is_active:
            raise exceptions.AuthenticationFailed("The API key's user is inactive.")
        api_key_mark_used(api_key=api_key, at=timezone.now())
        return api_key.user, api_key
