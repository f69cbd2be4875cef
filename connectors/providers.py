"""What each kind of connector knows: how its deliveries are verified, named and processed.

A provider is registered once per connector kind (`register`); the webhook view and the
processing task look it up here, so adding a kind touches neither.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from connectors.models import Connector, Delivery


class Waiting(Exception):
    """The delivery needs another one first (a refund before its order): kept, processed again
    when `key` arrives."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


class Ignored(Exception):
    """The delivery carries nothing to record (a test order, a topic we do not use)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadDelivery(Exception):
    """A signed delivery that cannot be read at all (not JSON, no id): answered 400."""


@dataclass
class Incoming:
    """A verified delivery, as it is recorded."""

    topic: str
    delivery_id: str
    meta: dict[str, Any] = field(default_factory=dict)
    # A ping (WooCommerce checks a new webhook's address with one): answered, not recorded.
    ping: bool = False


@dataclass
class Sample:
    """A test delivery, signed as the provider signs: what the admin's test button sends."""

    body: bytes
    content_type: str
    headers: dict[str, str]
    path: str = ""


class Provider(ABC):
    """A kind of connector: how its recorded deliveries are processed and tested."""

    kind: str = ""
    # Whether this product makes the secret (shown once) or the provider does (pasted in).
    makes_secret: bool = False

    @abstractmethod
    def process(self, delivery: Delivery) -> dict[str, Any]:
        """Record what the delivery says, inside the caller's transaction; returns what it
        wrote. Raises `Waiting`, `Ignored`, or a DomainError for bad content."""

    @abstractmethod
    def sample(self, connector: Connector, secret: str) -> Sample:
        """The test delivery the admin's button sends (or a DomainError saying why none)."""


class WebhookProvider(Provider):
    """A provider that posts signed deliveries to /api/v1/hooks/<kind>/<key>/."""

    @abstractmethod
    def verify(self, connector: Connector, request: HttpRequest, body: bytes) -> bool:
        """Whether the delivery is signed with the connector's secret (and comes from its
        account, when one is set)."""

    @abstractmethod
    def describe(self, connector: Connector, request: HttpRequest, body: bytes) -> Incoming:
        """The verified delivery's topic and id; `BadDelivery` when it cannot be read."""

    def is_ping(self, request: HttpRequest, body: bytes) -> bool:
        """An unsigned check of the address that is answered and not recorded."""
        return False


PROVIDERS: dict[str, Provider] = {}


def register(provider: Provider) -> Provider:
    PROVIDERS[provider.kind] = provider
    return provider


def provider_for(kind: str) -> Provider | None:
    from connectors import calls, capture, shops  # noqa: F401  (each module registers its providers)

    return PROVIDERS.get(kind)
