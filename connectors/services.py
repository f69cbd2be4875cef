"""Connectors' writes: set-up, recording a delivery, processing it, replaying it.

A delivery is recorded as received (fast: the provider gets its answer at once), then processed
on a worker, in one transaction through the leads services, so an order or a call is recorded
exactly as the API would record it, with history, touches and the change path. The provider's
ids make it idempotent twice over: a delivery id is recorded once per connector, and an order,
a refund or a call keeps the provider's id as its `external_id`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from campaigns.errors import DomainError, InvalidInput
from campaigns.models import Coupon
from connectors import secrets
from connectors.models import DELIVERY_DAYS, Connector, Delivery, DiscountCode
from connectors.providers import Ignored, Incoming, Waiting, provider_for
from leads.models import Via
from leads.services import purchases_apply_coupon

log = logging.getLogger(__name__)

Actor = AbstractBaseUser
EDITABLE = ("name", "account", "allowed_origins", "active")
# A delivery still "received" this long after it arrived lost its task (a broker outage): the
# sweep queues it again; one "processing" this long lost its worker.
RECEIVED_GRACE = dt.timedelta(minutes=2)
PROCESSING_GRACE = dt.timedelta(minutes=15)


# Shops name their orders by the shop's address: the orders of two shops never share a key, and
# a signed body sent again under another shop's headers cannot make a second purchase.
NEEDS_ACCOUNT = {
    Connector.Kind.SHOPIFY: "Give the shop's domain (example.myshopify.com).",
    Connector.Kind.WOOCOMMERCE: "Give the store's address (https://shop.example/).",
}


def _account(kind: str, account: str) -> str:
    account = (account or "").strip()
    if not account and kind in NEEDS_ACCOUNT:
        raise InvalidInput(NEEDS_ACCOUNT[kind], field="account")
    return account


def _origins(text: str) -> str:
    lines = [line.strip().rstrip("/") for line in (text or "").splitlines() if line.strip()]
    for line in lines:
        if not line.startswith(("https://", "http://")) or "/" in line.split("://", 1)[1]:
            raise InvalidInput(
                f"{line!r} is not an origin: give scheme and host only, like "
                "https://www.example.com (one per line).",
                field="allowed_origins",
            )
    return "\n".join(lines)


def connector_create(
    *,
    kind: str,
    name: str,
    account: str = "",
    allowed_origins: str = "",
    secret: str = "",
    active: bool = True,
    by: Actor | None = None,
) -> tuple[Connector, str]:
    """Set up a connector; returns it and the secret to show once ("" when the provider made
    the secret and it was pasted in). A kind that lets this product make the secret makes one
    when none is given."""
    provider = provider_for(kind)
    if provider is None:
        raise InvalidInput(f"Unknown connector kind {kind!r}.", field="kind")
    shown = ""
    if not secret and provider.makes_secret:
        secret = shown = secrets.new_secret()
    connector = Connector(
        kind=kind,
        name=name,
        account=_account(kind, account),
        allowed_origins=_origins(allowed_origins),
        active=active,
        key=secrets.new_key(),
        secret=secrets.encrypt(secret),
        secret_hint=secrets.hint(secret) if secret else "",
        created_by=by,
    )
    connector.save()
    return connector, shown


def connector_update(*, connector: Connector, secret: str = "", **fields: Any) -> Connector:
    """Change a connector's settings; a new secret replaces the old one (never shown back)."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))}.")
    if "account" in fields:
        fields["account"] = _account(connector.kind, fields["account"])
    if "allowed_origins" in fields:
        fields["allowed_origins"] = _origins(fields["allowed_origins"])
    for name, value in fields.items():
        setattr(connector, name, value)
    names = list(fields)
    if secret:
        connector.secret, connector.secret_hint = secrets.encrypt(secret), secrets.hint(secret)
        names += ["secret", "secret_hint"]
    if names:
        connector.save(update_fields=names)
    return connector


def connector_new_secret(*, connector: Connector) -> str:
    """Make a new secret (kinds whose secret this product makes); returns it, shown once."""
    secret = secrets.new_secret()
    connector_update(connector=connector, secret=secret)
    return secret


def connector_delete(*, connector: Connector) -> None:
    """Remove a connector and its delivery log; what its deliveries recorded stays."""
    connector.delete()


def connector_secret(connector: Connector) -> str:
    """The connector's secret in clear, for verifying a signature; stored again under the
    current key when it was read with a fallback one."""
    secret = secrets.decrypt(connector.secret)
    if secret and secrets.stale(connector.secret):
        connector_update(connector=connector, secret=secret)
    return secret


def delivery_receive(
    *, connector: Connector, incoming: Incoming, body: bytes, content_type: str, test: bool = False
) -> tuple[Delivery, bool]:
    """Record a verified delivery and queue its processing once it commits; returns (delivery,
    created). The same delivery id again records nothing (providers retry what timed out)."""
    now = timezone.now()
    text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    try:
        with transaction.atomic():
            delivery = Delivery.objects.create(
                connector=connector,
                delivery_id=incoming.delivery_id[:200],
                topic=incoming.topic[:100],
                received_at=now,
                body=text,
                content_type=content_type[:100],
                meta=incoming.meta,
                test=test,
            )
            transaction.on_commit(lambda: _enqueue(delivery.pk))
    except IntegrityError:
        existing = Delivery.objects.filter(
            connector=connector, delivery_id=incoming.delivery_id[:200]
        ).first()
        if existing is None:
            raise
        return existing, False
    return delivery, True


def _enqueue(delivery_id: int) -> None:
    from connectors.tasks import process_delivery

    try:
        process_delivery.delay(delivery_id)
    except Exception:  # the broker is down: the sweep queues it again later
        log.warning("Could not queue delivery %s; the sweep will.", delivery_id, exc_info=True)


def delivery_process(*, delivery_id: int) -> Delivery | None:
    """Process one recorded delivery, once: claimed by a conditional UPDATE, so two workers
    given the same delivery never both record it. A transient database error leaves it to be
    tried again; bad content fails it with the reason (shown in the admin, replayable)."""
    claimed = Delivery.objects.filter(
        pk=delivery_id, status__in=[Delivery.Status.RECEIVED, Delivery.Status.WAITING]
    ).update(
        status=Delivery.Status.PROCESSING, attempts=F("attempts") + 1, claimed_at=timezone.now()
    )
    if claimed != 1:
        return None
    delivery = Delivery.objects.select_related("connector").get(pk=delivery_id)
    provider = provider_for(delivery.connector.kind)
    outcome: dict[str, Any] = {"waiting_for": "", "error": "", "result": {}}
    try:
        with transaction.atomic():
            outcome["result"] = provider.process(delivery)
        outcome["status"] = Delivery.Status.PROCESSED
    except Waiting as waiting:
        outcome.update(status=Delivery.Status.WAITING, waiting_for=waiting.key)
        outcome["error"] = waiting.message
    except Ignored as ignored:
        outcome.update(status=Delivery.Status.IGNORED, error=ignored.message)
    except DomainError as refused:
        field = f"{refused.field}: " if refused.field else ""
        outcome.update(status=Delivery.Status.FAILED, error=f"{field}{refused.message}")
    except OperationalError:
        Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PROCESSING).update(
            status=Delivery.Status.RECEIVED
        )
        raise  # transient: the task tries again with backoff
    except Exception as error:
        log.exception("Delivery %s failed", delivery_id)
        outcome.update(status=Delivery.Status.FAILED, error=f"{type(error).__name__}: {error}")
    Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PROCESSING).update(
        status=outcome["status"],
        error=outcome["error"][:2000],
        result=outcome["result"],
        waiting_for=outcome["waiting_for"][:200],
        processed_at=timezone.now(),
    )
    delivery.refresh_from_db()
    wakes = outcome["result"].get("wakes") if outcome["status"] == "processed" else None
    if wakes:
        _wake(delivery.connector_id, wakes)
    if outcome["status"] == Delivery.Status.WAITING and _arrived(outcome["waiting_for"]):
        # Its order committed while this one was deciding to wait, and woke nobody: go again.
        _enqueue(delivery_id)
    return delivery


def _arrived(key: str) -> bool:
    """Whether what a waiting delivery waits for is here (a refund's order: its purchase)."""
    from leads.models import Purchase

    return Purchase.objects.filter(external_id=key).exists()


def _wake(connector_id: int, key: str) -> None:
    """Queue the deliveries that waited for `key` (the refunds of an order that just came)."""
    for pk in Delivery.objects.filter(
        connector_id=connector_id, waiting_for=key, status=Delivery.Status.WAITING
    ).values_list("pk", flat=True):
        _enqueue(pk)


def delivery_replay(*, delivery: Delivery) -> Delivery:
    """Process a failed, ignored or waiting delivery again (after a fix: a coupon mapped, a
    campaign's tracking number set). A processed one is not replayed: it recorded already."""
    replayable = [Delivery.Status.FAILED, Delivery.Status.IGNORED, Delivery.Status.WAITING]
    # Conditional: a delivery a worker has just taken is not handed to a second one.
    if not Delivery.objects.filter(pk=delivery.pk, status__in=replayable).update(
        status=Delivery.Status.RECEIVED
    ):
        delivery.refresh_from_db()
        raise InvalidInput(f"A {delivery.get_status_display().lower()} delivery is not replayed.")
    transaction.on_commit(lambda: _enqueue(delivery.pk))
    delivery.status = Delivery.Status.RECEIVED
    return delivery


def connector_send_test(*, connector: Connector) -> Delivery:
    """Send the connector a test delivery, signed with its secret and checked by the same
    verification as a real one, then queued like one: its page shows whether the secret reads
    and a worker processed it. A test delivery records no purchase, call or lead."""
    from django.test import RequestFactory

    provider = provider_for(connector.kind)
    secret = connector_secret(connector)
    sample = provider.sample(connector, secret)
    request = RequestFactory().post(
        sample.path or "/",
        data=sample.body,
        content_type=sample.content_type,
        headers=sample.headers,
    )
    if not provider.verify(connector, request, sample.body):
        raise InvalidInput(
            "The test delivery's signature did not verify: enter the secret again.",
            field="secret",
        )
    incoming = provider.describe(connector, request, sample.body)
    incoming.delivery_id = f"test-{secrets.new_key()}"
    delivery, _ = delivery_receive(
        connector=connector,
        incoming=incoming,
        body=sample.body,
        content_type=sample.content_type,
        test=True,
    )
    return delivery


def deliveries_sweep() -> int:
    """Queue again the deliveries whose task was lost; returns how many."""
    now = timezone.now()
    from leads.models import Purchase

    held = now - PROCESSING_GRACE
    stuck = Delivery.objects.filter(
        Q(status=Delivery.Status.RECEIVED, received_at__lt=now - RECEIVED_GRACE)
        | Q(status=Delivery.Status.PROCESSING, claimed_at__lt=held)
        # A refund whose order arrived without waking it (it was still deciding to wait).
        | Q(
            status=Delivery.Status.WAITING,
            waiting_for__in=Purchase.objects.values("external_id"),
        )
    )
    ids = list(stuck.values_list("pk", flat=True)[:1000])
    Delivery.objects.filter(
        pk__in=ids, status=Delivery.Status.PROCESSING, claimed_at__lt=held
    ).update(status=Delivery.Status.RECEIVED)
    for pk in ids:
        _enqueue(pk)
    return len(ids)


def deliveries_purge(*, days: int = DELIVERY_DAYS) -> int:
    """Delete the delivery log older than `days` (what the deliveries recorded stays)."""
    cutoff = timezone.now() - dt.timedelta(days=days)
    deleted = 0
    while True:
        ids = list(
            Delivery.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[:5000]
        )
        if not ids:
            return deleted
        deleted += Delivery.objects.filter(pk__in=ids).delete()[0]


def code_seen(code: str) -> DiscountCode:
    """Keep a discount code that names no coupon, for mapping (listed in the admin)."""
    code = code.strip()[:100]
    found = DiscountCode.objects.filter(code__iexact=code).first()
    if found is not None:
        found.save(update_fields=["last_seen_at"])
        return found
    try:
        with transaction.atomic():
            return DiscountCode.objects.create(code=code)
    except IntegrityError:
        return DiscountCode.objects.get(code__iexact=code)


def code_map(*, code: DiscountCode, coupon: Coupon | None, by: Actor | None = None) -> DiscountCode:
    """Map a kept discount code to a coupon: its purchases are re-attributed to the coupon's
    campaign (`leads.services.purchases_apply_coupon`); later orders with it use the coupon."""
    if code.coupon_id is not None and (coupon is None or coupon.pk != code.coupon_id):
        # Its purchases carry the first coupon's touches and redemptions now: moving them is a
        # correction to make purchase by purchase, not a re-mapping.
        raise InvalidInput(
            f"{code.code} is mapped to coupon {code.coupon.code} already; its purchases were "
            "credited to it.",
            field="coupon",
        )
    with transaction.atomic():
        code.coupon = coupon
        code.save(update_fields=["coupon", "last_seen_at"])
        if coupon is not None:
            purchases_apply_coupon(code=code.code, coupon=coupon, by=by, via=Via.CONNECTOR)
    return code
