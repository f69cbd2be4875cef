"""Connector secrets, encrypted at rest and compared in constant time.

A webhook is verified by an HMAC of its body computed with the shop's or provider's secret, so
the secret must be read back: it is encrypted (Fernet: AES-128-CBC with an HMAC-SHA256), never
hashed. The key is derived from DJANGO_SECRET_KEY; the keys in DJANGO_SECRET_KEY_FALLBACKS
still decrypt, so the secret key rolls over as it does for sessions (docs/security.md), and a
secret read with an old key is stored again under the new one (`connectors.services`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as random

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"social-roi connector secrets"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _keys() -> MultiFernet:
    return MultiFernet([_fernet(settings.SECRET_KEY), *map(_fernet, settings.SECRET_KEY_FALLBACKS)])


def encrypt(secret: str) -> str:
    return _keys().encrypt(secret.encode()).decode() if secret else ""


def decrypt(token: str) -> str:
    """The secret, or "" when there is none or no key here can read it (then every signature
    fails: the connector's page says to enter the secret again)."""
    if not token:
        return ""
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""


def stale(token: str) -> bool:
    """Encrypted under a fallback key: worth storing again under the current one."""
    if not token:
        return False
    try:
        _fernet(settings.SECRET_KEY).decrypt(token.encode())
    except InvalidToken:
        return True
    return False


def new_secret() -> str:
    return random.token_urlsafe(32)


def new_key() -> str:
    return random.token_urlsafe(18)


def hint(secret: str) -> str:
    return f"…{secret[-4:]}" if len(secret) >= 12 else "…"


def hmac_base64(secret: str, message: bytes, digest: str = "sha256") -> str:
    mac = hmac.new(secret.encode(), message, getattr(hashlib, digest))
    return base64.b64encode(mac.digest()).decode()


def hmac_hex(secret: str, message: bytes, digest: str = "sha256") -> str:
    return hmac.new(secret.encode(), message, getattr(hashlib, digest)).hexdigest()


def same(given: str | None, expected: str) -> bool:
    """Constant-time comparison; a missing value never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())
