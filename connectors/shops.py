"""Shop connectors: Shopify and WooCommerce order and refund webhooks.

An order becomes a purchase: its net amount (what the lines sold for after discounts, without
taxes and shipping: the shop's "net sales"), its discount, its discount code as the coupon when
one here has that code (or a kept code mapped to one), the customer's email, name and phone.
Its landing page's UTM parameters, click ids or referrer become a `visit` touch at the order's
time. A refund reduces its order's purchase (`leads.services.refund_record`); one that arrives
before its order waits for it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from campaigns.errors import CouponRefused, InvalidInput
from connectors import secrets
from connectors.landing import params, touch_from
from connectors.models import Connector, Delivery, DiscountCode
from connectors.providers import (
    BadDelivery,
    Ignored,
    Incoming,
    Sample,
    Waiting,
    WebhookProvider,
    register,
)
from leads.models import Purchase, Stage, Touchpoint, Via
from leads.rules import REFS

CENT = Decimal("0.01")
# A shop's clock a little ahead of ours is not "the future" (nothing is dated after now).
CLOCK_SKEW = dt.timedelta(minutes=10)


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadDelivery("The body is not JSON (or is nested too deep).") from None
    if not isinstance(data, dict):
        raise BadDelivery("The body is not a JSON object.")
    return data


def _money(value: Any, name: str) -> Decimal:
    try:
        amount = Decimal(str(value if value not in (None, "") else "0"))
        if not amount.is_finite():
            raise InvalidOperation
        return amount.quantize(CENT)
    except InvalidOperation:
        raise InvalidInput(f"{str(value)[:40]!r} is not an amount.", field=name) from None


def _time(value: Any, name: str) -> dt.datetime:
    try:
        parsed = parse_datetime(str(value or "")) if value else None
    except ValueError:  # well formed, but no such day or hour
        parsed = None
    if parsed is None:
        raise InvalidInput(f"{value!r} is not a time.", field=name)
    return provider_time(parsed)


def provider_time(parsed: dt.datetime) -> dt.datetime:
    """A provider's time as we record it: UTC when it names no zone, and "now" when its clock
    runs a little ahead of ours (nothing is dated in the future, but a few seconds of skew must
    not lose a sale or a call)."""
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.UTC)
    now = timezone.now()
    if now < parsed <= now + CLOCK_SKEW:
        return now
    return parsed


def _text(value: Any, limit: int = 100) -> str:
    return str(value or "").replace("\x00", "").strip()[:limit]


def _host(url: str) -> str:
    url = url.strip()
    try:
        return (urlsplit(url if "://" in url else f"https://{url}").hostname or "").lower()
    except ValueError:
        return ""


@dataclass
class Order:
    """A shop's order, read off its payload."""

    key: str
    at: dt.datetime
    amount: Decimal
    discount: Decimal
    codes: list[str]
    currency: str
    email: str = ""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    landing: dict[str, Any] | None = None
    paid: bool = True
    test: bool = False
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _coupon_for(codes: list[str]) -> tuple[Any, str]:
    """The coupon the order's codes name (a coupon with the code, else a kept code mapped to
    one), and the code kept unmatched when none does."""
    for code in codes:
        coupon = REFS.coupon(code)
        if coupon is None:
            mapped = DiscountCode.objects.filter(code__iexact=code, coupon__isnull=False).first()
            coupon = mapped.coupon if mapped else None
        if coupon is not None:
            return coupon, ""
    return None, (codes[0] if codes else "")


def record_order(order: Order, *, delivery: Delivery) -> dict[str, Any]:
    """Record an order as a purchase (with its landing touch); returns what it wrote."""
    from connectors.services import code_seen
    from leads.services import contact_touched, purchase_record

    if order.test:
        raise Ignored("A test order: nothing recorded.")
    if not delivery.test:
        recorded = Purchase.objects.filter(external_id=order.key).first()
        if recorded is not None:
            # Recorded by an earlier delivery (orders/create, then orders/paid; or each
            # WooCommerce update): the order as first recorded stands. Its later edits, a time
            # read again past a clock's skew, are not replays to refuse.
            return {
                "purchase": recorded.pk,
                "contact": recorded.contact_id,
                "created": False,
                "wakes": order.key,
            }
    if not order.paid:
        raise Ignored("The order is not paid: recorded when an update says it is.")
    if order.currency and order.currency.upper() != settings.DEFAULT_CURRENCY:
        raise InvalidInput(
            f"The order is in {order.currency}; this installation counts in "
            f"{settings.DEFAULT_CURRENCY}.",
            field="currency",
        )
    if order.amount <= 0:
        raise Ignored("Nothing was paid for the order's lines (a free order): no revenue.")
    if delivery.test:
        return {"test": True, "order": order.name or order.key, "amount": str(order.amount)}
    if not (order.email or order.phone):
        raise InvalidInput("The order names no customer email or phone.", field="customer")
    person = {
        "first_name": order.first_name,
        "last_name": order.last_name,
        "company": order.company,
    }
    written: dict[str, Any] = {"wakes": order.key}
    contact = None
    if order.landing is not None:
        contact, touch, created = contact_touched(
            email=order.email,
            phone=order.phone,
            **person,
            stage=Stage.CUSTOMER,
            move=False,  # the purchase moves a known buyer, through its own door
            touch={
                **order.landing,
                "kind": Touchpoint.Kind.VISIT,
                "occurred_at": order.at,
                "external_id": f"{order.key}:landing",
            },
            via=Via.CONNECTOR,
        )
        written["touch"] = touch.pk
    else:
        # The buyer by email, else by phone in E.164 (a caller who then orders online), else
        # a walk-in made by the purchase itself (an email) or here (a phone only).
        from leads.rules import contact_by_email
        from leads.services import contact_by_phone, contact_create

        contact = (contact_by_email(order.email) if order.email else None) or (
            contact_by_phone(order.phone) if order.phone else None
        )
        if contact is None and not order.email:
            contact = contact_create(
                phone=order.phone,
                **person,
                stage=Stage.CUSTOMER,
                entered_at=order.at,
                via=Via.CONNECTOR,
            )
    coupon, unmatched = _coupon_for(order.codes)
    arguments = {
        "amount": order.amount,
        "discount": order.discount,
        "occurred_at": order.at,
        "contact": contact,
        "email": order.email,
        "external_id": order.key,
        "note": order.name,
        "contact_fields": {"phone": order.phone, **person},
        "via": Via.CONNECTOR,
    }
    try:
        purchase, created = purchase_record(**arguments, coupon=coupon, unmatched_code=unmatched)
    except CouponRefused as refused:
        # The shop took the code already: the sale happened. Kept unmatched with the reason,
        # so mapping it applies the coupon anyway.
        unmatched, written["coupon_refused"] = coupon.code, refused.message
        purchase, created = purchase_record(**arguments, unmatched_code=unmatched)
    if unmatched:
        code_seen(unmatched)
        written["unmatched_code"] = unmatched
    written.update(purchase=purchase.pk, contact=purchase.contact_id, created=created)
    return written


@dataclass
class RefundEvent:
    order_key: str
    key: str
    at: dt.datetime
    amount: Decimal
    note: str = ""


def record_refunds(refunds: list[RefundEvent], *, delivery: Delivery) -> dict[str, Any]:
    """Record refunds against their order's purchase; wait for the order when it is not here
    yet. An amount over what is left of the purchase is cut to what is left (a refund of tax
    or shipping, which the purchase never counted)."""
    from django.db.models import Sum

    from leads.services import refund_record

    if not refunds:
        raise Ignored("No refund in the delivery.")
    order_key = refunds[0].order_key
    purchase = Purchase.objects.select_related("contact").filter(external_id=order_key).first()
    if purchase is None:
        raise Waiting(order_key, "Its order has not arrived yet: recorded when it does.")
    if delivery.test:
        return {"test": True, "refunds": len(refunds)}
    written = []
    known = set(
        purchase.refunds.filter(external_id__in=[r.key for r in refunds]).values_list(
            "external_id", flat=True
        )
    )
    for refund in refunds:
        if refund.key in known:
            # WooCommerce lists every refund of the order in each update, each at the order's
            # latest change: one recorded already stays as it was.
            continue
        taken = purchase.refunds.exclude(external_id=refund.key).aggregate(s=Sum("amount"))["s"]
        left = purchase.amount - (taken or Decimal(0))
        amount = min(refund.amount, left)
        if amount <= 0:
            continue
        made, _ = refund_record(
            purchase=purchase,
            amount=amount,
            occurred_at=max(refund.at, purchase.occurred_at),
            external_id=refund.key,
            note=refund.note,
            via=Via.CONNECTOR,
        )
        written.append(made.pk)
    return {"refunds": written, "purchase": purchase.pk}


# --- Shopify -------------------------------------------------------------------------------------


class Shopify(WebhookProvider):
    """Shopify's order webhooks (`orders/create`, `refunds/create`), signed with the app's or
    the shop's webhook secret: X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the body."""

    kind = Connector.Kind.SHOPIFY
    topics = ("orders/create", "orders/paid", "refunds/create")

    def verify(self, connector: Connector, request: HttpRequest, body: bytes) -> bool:
        from connectors.services import connector_secret

        secret = connector_secret(connector)
        given = request.headers.get("X-Shopify-Hmac-Sha256")
        if not secrets.same(given, secrets.hmac_base64(secret, body) if secret else ""):
            return False
        shop = _host(request.headers.get("X-Shopify-Shop-Domain", ""))
        return not connector.account or shop == _host(connector.account)

    def describe(self, connector: Connector, request: HttpRequest, body: bytes) -> Incoming:
        topic = request.headers.get("X-Shopify-Topic", "")
        delivery_id = request.headers.get("X-Shopify-Webhook-Id") or request.headers.get(
            "X-Shopify-Event-Id", ""
        )
        if not delivery_id:
            raise BadDelivery("X-Shopify-Webhook-Id is missing.")
        _json(body)
        return Incoming(
            topic=topic,
            delivery_id=delivery_id,
            meta={
                "shop": _host(request.headers.get("X-Shopify-Shop-Domain", "")),
                "triggered_at": request.headers.get("X-Shopify-Triggered-At", ""),
            },
        )

    def _shop(self, delivery: Delivery) -> str:
        return _host(delivery.connector.account) or delivery.meta.get("shop") or "shop"

    def order(self, delivery: Delivery, data: dict[str, Any]) -> Order:
        if not data.get("id"):
            raise InvalidInput("The order has no id.", field="id")
        customer = data.get("customer") or {}
        billing = data.get("billing_address") or {}
        # The lines' own tax (the order's total tax holds the shipping's too).
        line_taxes = [
            _money(tax.get("price"), "tax_lines")
            for line in data.get("line_items") or []
            if isinstance(line, dict)
            for tax in line.get("tax_lines") or []
            if isinstance(tax, dict)
        ]
        tax = (
            sum(line_taxes, Decimal(0))
            if line_taxes
            else _money(data.get("total_tax"), "total_tax")
        )
        subtotal = _money(data.get("subtotal_price"), "subtotal_price")
        landing = data.get("landing_site") or ""
        touch = touch_from(
            params(landing),
            referrer=data.get("referring_site") or "",
            own_hosts=(self._shop(delivery),),
        )
        if touch is not None and landing:
            touch["metadata"]["landing_page"] = _text(landing, 200)
        return Order(
            key=f"shopify:{self._shop(delivery)}:{data['id']}",
            at=_time(data.get("processed_at") or data.get("created_at"), "created_at"),
            # Shopify's subtotal is after discounts, before shipping; taxes are in it only when
            # the shop's prices include them.
            amount=subtotal - tax if data.get("taxes_included") else subtotal,
            discount=max(_money(data.get("total_discounts"), "total_discounts"), Decimal(0)),
            codes=[
                _text(c.get("code"))
                for c in data.get("discount_codes") or []
                if isinstance(c, dict) and _text(c.get("code"))
            ],
            currency=_text(data.get("currency"), 3),
            email=_text(
                data.get("email") or data.get("contact_email") or customer.get("email"), 254
            ),
            phone=_text(data.get("phone") or customer.get("phone") or billing.get("phone"), 32),
            first_name=_text(customer.get("first_name") or billing.get("first_name")),
            last_name=_text(customer.get("last_name") or billing.get("last_name")),
            company=_text(billing.get("company"), 200),
            landing=touch,
            paid=data.get("financial_status") not in ("pending", "voided", "expired"),
            test=bool(data.get("test")),
            name=_text(data.get("name")),
        )

    def process(self, delivery: Delivery) -> dict[str, Any]:
        data = _json(delivery.body.encode())
        if delivery.topic in ("orders/create", "orders/paid"):
            return record_order(self.order(delivery, data), delivery=delivery)
        if delivery.topic == "refunds/create":
            return record_refunds(self.refunds(delivery, data), delivery=delivery)
        raise Ignored(f"Topic {delivery.topic!r} is not one this connector records.")

    def refunds(self, delivery: Delivery, data: dict[str, Any]) -> list[RefundEvent]:
        if not data.get("id") or not data.get("order_id"):
            raise InvalidInput("The refund has no id or order_id.", field="id")
        lines = [line for line in data.get("refund_line_items") or [] if isinstance(line, dict)]
        if lines:
            # What the refunded lines were sold for (their subtotal, after discounts).
            amount = sum((_money(line.get("subtotal"), "subtotal") for line in lines), Decimal(0))
        else:
            # An amount-only refund: its successful refund transactions, less any shipping it
            # gave back (shipping was never revenue).
            shipping = sum(
                (
                    abs(_money(a.get("amount"), "amount"))
                    for a in data.get("order_adjustments") or []
                    if isinstance(a, dict) and a.get("kind") == "shipping_refund"
                ),
                Decimal(0),
            )
            amount = -shipping + sum(
                (
                    _money(t.get("amount"), "amount")
                    for t in data.get("transactions") or []
                    if isinstance(t, dict)
                    and t.get("kind") == "refund"
                    and t.get("status") in ("success", None)
                ),
                Decimal(0),
            )
        shop = self._shop(delivery)
        return [
            RefundEvent(
                order_key=f"shopify:{shop}:{data['order_id']}",
                key=f"shopify:{shop}:refund:{data['id']}",
                at=_time(data.get("processed_at") or data.get("created_at"), "created_at"),
                amount=amount,
                note=_text(data.get("note"), 300),
            )
        ]

    def sample(self, connector: Connector, secret: str) -> Sample:
        body = json.dumps(
            {
                "id": 820982911946154508,
                "email": "jon@example.com",
                "created_at": timezone.now().isoformat(),
                "currency": settings.DEFAULT_CURRENCY,
                "subtotal_price": "10.00",
                "total_tax": "0.00",
                "financial_status": "paid",
                "name": "#9999",
                "test": False,
            }
        ).encode()
        shop = _host(connector.account) or "example.myshopify.com"
        return Sample(
            body=body,
            content_type="application/json",
            headers={
                "X-Shopify-Hmac-Sha256": secrets.hmac_base64(secret, body),
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Shop-Domain": shop,
                "X-Shopify-Webhook-Id": "test",
            },
        )


# --- WooCommerce ---------------------------------------------------------------------------------

WOO_PAID = ("processing", "completed", "on-hold", "refunded")
ATTRIBUTION = "_wc_order_attribution_"


class WooCommerce(WebhookProvider):
    """WooCommerce's webhooks (`order.created`, `order.updated`, `order.refunded`): the order
    as its REST API shows it, X-WC-Webhook-Signature the base64 HMAC-SHA256 of the body with
    the secret typed into the webhook's form (this product makes one, shown once)."""

    kind = Connector.Kind.WOOCOMMERCE
    makes_secret = True

    def verify(self, connector: Connector, request: HttpRequest, body: bytes) -> bool:
        from connectors.services import connector_secret

        secret = connector_secret(connector)
        given = request.headers.get("X-WC-Webhook-Signature")
        if not secrets.same(given, secrets.hmac_base64(secret, body) if secret else ""):
            return False
        source = _host(request.headers.get("X-WC-Webhook-Source", ""))
        return not connector.account or source == _host(connector.account)

    def is_ping(self, request: HttpRequest, body: bytes) -> bool:
        """WooCommerce checks a new webhook's address with an unsigned `webhook_id=N` form
        post; it is answered 200 and records nothing."""
        text = body.decode("latin-1")
        return text.startswith("webhook_id=") and text[len("webhook_id=") :].isdigit()

    def describe(self, connector: Connector, request: HttpRequest, body: bytes) -> Incoming:
        delivery_id = request.headers.get("X-WC-Webhook-Delivery-ID", "")
        if not delivery_id:
            raise BadDelivery("X-WC-Webhook-Delivery-ID is missing.")
        _json(body)
        return Incoming(
            topic=request.headers.get("X-WC-Webhook-Topic", ""),
            delivery_id=delivery_id,
            meta={"source": _text(request.headers.get("X-WC-Webhook-Source"), 200)},
        )

    def _store(self, delivery: Delivery) -> str:
        return (
            _host(delivery.connector.account)
            or _host(delivery.meta.get("source", ""))
            or delivery.connector.key
        )

    def order(self, delivery: Delivery, data: dict[str, Any]) -> Order:
        if not data.get("id"):
            raise InvalidInput("The order has no id.", field="id")
        billing = data.get("billing") or {}
        meta = {
            str(item.get("key"))[len(ATTRIBUTION) :]: item.get("value")
            for item in data.get("meta_data") or []
            if isinstance(item, dict) and str(item.get("key", "")).startswith(ATTRIBUTION)
        }
        given = params(str(meta.get("session_entry") or ""))
        for name in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"):
            if meta.get(name):
                given[name] = _text(meta[name], 200)
        touch = touch_from(
            given, referrer=str(meta.get("referrer") or ""), own_hosts=(self._store(delivery),)
        )
        if touch is not None and meta.get("session_entry"):
            touch["metadata"]["landing_page"] = _text(meta["session_entry"], 200)
        total = _money(data.get("total"), "total")
        return Order(
            key=f"woocommerce:{self._store(delivery)}:{data['id']}",
            at=_time(data.get("date_paid_gmt") or data.get("date_created_gmt"), "date_created_gmt"),
            amount=total
            - _money(data.get("total_tax"), "total_tax")
            - _money(data.get("shipping_total"), "shipping_total"),
            discount=max(_money(data.get("discount_total"), "discount_total"), Decimal(0)),
            codes=[
                _text(c.get("code"))
                for c in data.get("coupon_lines") or []
                if isinstance(c, dict) and _text(c.get("code"))
            ],
            currency=_text(data.get("currency"), 3),
            email=_text(billing.get("email"), 254),
            phone=_text(billing.get("phone"), 32),
            first_name=_text(billing.get("first_name")),
            last_name=_text(billing.get("last_name")),
            company=_text(billing.get("company"), 200),
            landing=touch,
            paid=data.get("status") in WOO_PAID,
            name=f"#{_text(data.get('number') or data['id'])}",
        )

    def refunds(self, delivery: Delivery, data: dict[str, Any]) -> list[RefundEvent]:
        store = self._store(delivery)
        at = _time(data.get("date_modified_gmt") or data.get("date_created_gmt"), "date_modified")
        return [
            RefundEvent(
                order_key=f"woocommerce:{store}:{data['id']}",
                key=f"woocommerce:{store}:refund:{item['id']}",
                at=at,
                # WooCommerce lists a refund's total as a negative amount.
                amount=abs(_money(item.get("total"), "total")),
                note=_text(item.get("reason"), 300),
            )
            for item in data.get("refunds") or []
            if isinstance(item, dict) and item.get("id")
        ]

    def process(self, delivery: Delivery) -> dict[str, Any]:
        data = _json(delivery.body.encode())
        if delivery.topic not in ("order.created", "order.updated", "order.refunded"):
            raise Ignored(f"Topic {delivery.topic!r} is not one this connector records.")
        order = self.order(delivery, data)
        written: dict[str, Any] = {}
        if (
            delivery.topic != "order.refunded"
            or not Purchase.objects.filter(external_id=order.key).exists()
        ):
            try:
                written = record_order(order, delivery=delivery)
            except Ignored:
                if delivery.topic == "order.created":
                    raise
        refunds = self.refunds(delivery, data)
        if refunds and Purchase.objects.filter(external_id=order.key).exists():
            written.update(record_refunds(refunds, delivery=delivery))
        if not written:
            raise Ignored("Nothing to record: the order is not paid and has no refund.")
        written["wakes"] = order.key
        return written

    def sample(self, connector: Connector, secret: str) -> Sample:
        body = json.dumps(
            {
                "id": 99999,
                "number": "99999",
                "status": "processing",
                "currency": settings.DEFAULT_CURRENCY,
                "date_created_gmt": timezone.now().strftime("%Y-%m-%dT%H:%M:%S"),
                "total": "10.00",
                "total_tax": "0.00",
                "shipping_total": "0.00",
                "billing": {"email": "jon@example.com"},
            }
        ).encode()
        return Sample(
            body=body,
            content_type="application/json",
            headers={
                "X-WC-Webhook-Signature": secrets.hmac_base64(secret, body),
                "X-WC-Webhook-Topic": "order.created",
                "X-WC-Webhook-Delivery-ID": "test",
                "X-WC-Webhook-Source": connector.account or "https://shop.example/",
            },
        )


SHOPIFY = register(Shopify())
WOOCOMMERCE = register(WooCommerce())
