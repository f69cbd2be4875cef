"""Connectors in the admin: set up by users with the connector permission, secrets shown once
and never again, each with its last delivery, its error count, a test button, and the log of its
deliveries, where a failed one can be replayed. Marketing maps the shops' unknown discount codes
to coupons here."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Lower
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from campaigns.admin_base import ServiceAdmin
from campaigns.errors import DomainError
from connectors import services
from connectors.models import DELIVERY_DAYS, Connector, Delivery, DiscountCode
from connectors.providers import provider_for
from leads.models import Purchase

MANAGE = "connectors.manage_connectors"
# Where each provider shows the secret to paste (docs/connectors.md has the click paths).
SECRET_HELP = {
    Connector.Kind.SHOPIFY: "The key Shopify shows under Settings > Notifications > Webhooks "
    '("Your webhooks will be signed with ..."), or your custom app\'s client secret.',
    Connector.Kind.WOOCOMMERCE: "Made here and shown once; use Make a new secret to replace it.",
    Connector.Kind.TWILIO: "The Auth Token of the Twilio account (Console > Account info).",
    Connector.Kind.CALLRAIL: "The webhook signing key CallRail shows for the company.",
    Connector.Kind.SITE: "",
}
RECENT = 20


class ConnectorForm(forms.ModelForm):
    signing_secret = forms.CharField(
        required=False,
        strip=True,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Shopify: the webhook signing secret shown under Settings > Notifications > "
        "Webhooks (or your app's client secret). Twilio: the account's Auth Token. CallRail: "
        "the webhook signing key. WooCommerce: leave blank and one is made for you. Never shown "
        "again once saved; on a saved connector, leave blank to keep the current one.",
    )

    class Meta:
        model = Connector
        fields = ("kind", "name", "account", "allowed_origins", "active")


class ManagedAdmin(ServiceAdmin):
    """Only users with the connector permission see or touch connectors and deliveries."""

    def _may(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.has_perm(MANAGE)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._may(request) or super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._may(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._may(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._may(request)


def _since() -> dt.datetime:
    return timezone.now() - dt.timedelta(days=DELIVERY_DAYS)


@admin.register(Connector)
class ConnectorAdmin(ManagedAdmin):
    form = ConnectorForm
    list_display = ("name", "kind", "active", "last_delivery", "errors", "account")
    list_filter = ("kind", "active")
    search_fields = ("name", "account")
    show_full_result_count = False
    change_form_template = "admin/connectors/connector/change_form.html"

    def get_queryset(self, request: HttpRequest):
        failed = Count(
            "deliveries",
            filter=Q(
                deliveries__status=Delivery.Status.FAILED, deliveries__received_at__gte=_since()
            ),
        )
        # The latest delivery is read off the (connector, -received_at) index; it is not kept
        # on the connector, whose row every delivery would then update (one hot row).
        return (
            super()
            .get_queryset(request)
            .annotate(error_count=failed, last_delivery_at=Max("deliveries__received_at"))
        )

    @admin.display(description="Last delivery", ordering="last_delivery_at")
    def last_delivery(self, obj: Connector):
        return obj.last_delivery_at

    @admin.display(description=f"Errors ({DELIVERY_DAYS} days)", ordering="error_count")
    def errors(self, obj: Connector) -> int:
        return obj.error_count

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ("kind", "name", "account", "allowed_origins", "signing_secret")
        # A site has origins and no secret; the others a secret and no origins.
        own = ("allowed_origins",) if obj.kind == Connector.Kind.SITE else ("signing_secret",)
        return (
            "kind",
            "name",
            "account",
            *own,
            "active",
            "secret_state",
            "address",
            "last_delivery",
            "errors",
            "recent_deliveries",
        )

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ()
        return (
            "kind",
            "secret_state",
            "address",
            "last_delivery",
            "errors",
            "recent_deliveries",
        )

    @admin.display(description="Secret")
    def secret_state(self, obj: Connector) -> str:
        if obj.kind == Connector.Kind.SITE:
            return "None: a site's key is public."
        return f"Stored encrypted, ends in {obj.secret_hint}" if obj.secret else "Not set"

    @admin.display(description="Where it sends")
    def address(self, obj: Connector):
        if obj.kind == Connector.Kind.SITE:
            from django.templatetags.static import static

            return format_html(
                "Publishable key <code>{}</code><br>Paste before &lt;/body&gt;: "
                '<code class="code-wrap">&lt;script src="{}" data-key="{}" data-endpoint="{}" defer&gt;'
                "&lt;/script&gt;</code>",
                obj.key,
                self.request.build_absolute_uri(static("connectors/capture.js")),
                obj.key,
                self.request.build_absolute_uri(reverse("connector-capture")),
            )
        return format_html(
            '<code class="code-wrap">{}</code>',
            self.request.build_absolute_uri(
                reverse("connector-webhook", kwargs={"kind": obj.kind, "key": obj.key})
            ),
        )

    @admin.display(description="Latest deliveries")
    def recent_deliveries(self, obj: Connector):
        rows = list(obj.deliveries.order_by("-received_at", "-id")[:RECENT])
        if not rows:
            return "None yet."
        link = reverse("admin:connectors_delivery_changelist")
        body = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:connectors_delivery_change", args=[d.pk]),
                    timezone.localtime(d.received_at).strftime("%Y-%m-%d %H:%M:%S"),
                    d.topic,
                    d.get_status_display(),
                    d.error[:120],
                )
                for d in rows
            ),
        )
        return format_html(
            '<div class="deliveries-scroll"><table class="deliveries"><thead><tr>'
            '<th scope="col">Received</th>'
            '<th scope="col">Topic</th><th scope="col">Status</th><th scope="col">Error</th>'
            '</tr></thead><tbody>{}</tbody></table></div><p><a href="{}?connector__id__exact={}">'
            "Every delivery of this connector</a></p>",
            body,
            link,
            obj.pk,
        )

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        self.request = request  # the address needs the host it is seen from
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None and "signing_secret" in form.base_fields:
            field = form.base_fields["signing_secret"]
            field.help_text = f"{SECRET_HELP[obj.kind]} Leave blank to keep the current one."
        return form

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        self.request = request
        obj = self.get_object(request, object_id)
        provider = provider_for(obj.kind) if obj else None
        extra = {
            "may_test": obj is not None and obj.kind != Connector.Kind.SITE,
            "may_new_secret": bool(provider and provider.makes_secret),
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def create(self, request: HttpRequest, form) -> Connector:
        data = form.cleaned_data
        connector, shown = services.connector_create(
            kind=data["kind"],
            name=data["name"],
            account=data.get("account", ""),
            allowed_origins=data.get("allowed_origins", ""),
            secret=data.get("signing_secret", ""),
            by=request.user,
        )
        if shown:
            messages.warning(
                request,
                f"The signing secret of {connector.name} is {shown} . Copy it into the other "
                "product's webhook form now: it is stored encrypted and never shown again.",
            )
        return connector

    def update(self, request: HttpRequest, obj: Connector, form) -> Connector:
        changed = {
            name: form.cleaned_data[name] for name in form.changed_data if name in services.EDITABLE
        }
        return services.connector_update(
            connector=obj, secret=form.cleaned_data.get("signing_secret", ""), **changed
        )

    def remove(self, request: HttpRequest, obj: Connector) -> None:
        services.connector_delete(connector=obj)

    def get_urls(self):
        own = [
            path(
                "<int:pk>/test/",
                self.admin_site.admin_view(require_POST(self.test_view)),
                name="connectors_connector_test",
            ),
            path(
                "<int:pk>/new-secret/",
                self.admin_site.admin_view(require_POST(self.new_secret_view)),
                name="connectors_connector_new_secret",
            ),
        ]
        return own + super().get_urls()

    def _back(self, pk: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:connectors_connector_change", args=[pk]))

    def test_view(self, request: HttpRequest, pk: int):
        if not self.has_change_permission(request):
            raise PermissionDenied
        connector = get_object_or_404(Connector, pk=pk)
        try:
            delivery = services.connector_send_test(connector=connector)
        except DomainError as refused:
            messages.error(request, refused.message)
        else:
            delivery.refresh_from_db()
            messages.success(
                request,
                f"Test delivery signed and verified; it is {delivery.get_status_display().lower()}"
                " (a worker processes it; reload to see it processed). It records nothing.",
            )
        return self._back(pk)

    def new_secret_view(self, request: HttpRequest, pk: int):
        if not self.has_change_permission(request):
            raise PermissionDenied
        connector = get_object_or_404(Connector, pk=pk)
        secret = services.connector_new_secret(connector=connector)
        messages.warning(
            request,
            f"The new signing secret of {connector.name} is {secret} . Copy it into the other "
            "product's webhook form now: it is never shown again. Deliveries signed with the old "
            "one are refused from now on.",
        )
        return self._back(pk)


@admin.register(Delivery)
class DeliveryAdmin(ManagedAdmin):
    list_display = ("received_at", "connector", "topic", "status", "attempts", "short_error")
    list_filter = ("status", "connector", "topic")
    list_select_related = ("connector",)
    search_fields = ("delivery_id",)
    date_hierarchy = "received_at"
    show_full_result_count = False
    actions = ("replay",)
    fields = (
        "connector",
        "topic",
        "delivery_id",
        "received_at",
        "status",
        "attempts",
        "error",
        "waiting_for",
        "result",
        "processed_at",
        "test",
        "meta",
        "body",
    )
    readonly_fields = fields

    @admin.display(description="Error")
    def short_error(self, obj: Delivery) -> str:
        return obj.error[:100]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # deliveries come from the providers

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # kept 30 days, then deleted by the purge

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # read-only; replayed by the action

    @admin.action(description="Replay the selected failed, ignored or waiting deliveries")
    def replay(self, request: HttpRequest, queryset) -> None:
        if not self._may(request):
            raise PermissionDenied
        replayed = 0
        for delivery in queryset.filter(
            status__in=[Delivery.Status.FAILED, Delivery.Status.IGNORED, Delivery.Status.WAITING]
        ):
            services.delivery_replay(delivery=delivery)
            replayed += 1
        messages.success(request, f"Queued {replayed} deliveries to be processed again.")

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        if not self._may(request):
            actions.pop("replay", None)
        return actions


class DiscountCodeForm(forms.ModelForm):
    class Meta:
        model = DiscountCode
        fields = ("coupon",)


@admin.register(DiscountCode)
class DiscountCodeAdmin(ServiceAdmin):
    """The discount codes shops reported that name no coupon; mapping one to a coupon
    re-attributes its purchases."""

    form = DiscountCodeForm
    list_display = ("code", "coupon", "waiting", "first_seen_at", "last_seen_at")
    list_filter = (("coupon", admin.EmptyFieldListFilter),)
    list_select_related = ("coupon",)
    search_fields = ("code",)
    autocomplete_fields = ("coupon",)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        fixed = ("code", "waiting", "first_seen_at", "last_seen_at")
        # Mapped once for good: its purchases were credited to that coupon.
        return (*fixed, "coupon") if obj is not None and obj.coupon_id else fixed

    fields = ("code", "coupon", "waiting", "first_seen_at", "last_seen_at")
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest):
        kept = (
            Purchase.objects.annotate(code_key=Lower("unmatched_code"))
            .filter(code_key=Lower(OuterRef("code")), coupon__isnull=True)
            .exclude(unmatched_code="")
            .order_by()
            .values("code_key")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(waiting_count=Coalesce(Subquery(kept), 0))

    @admin.display(description="Purchases without a coupon", ordering="waiting_count")
    def waiting(self, obj: DiscountCode) -> int:
        return getattr(obj, "waiting_count", 0)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # kept from the shops' orders

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def update(self, request: HttpRequest, obj: DiscountCode, form) -> DiscountCode:
        before = obj.coupon_id
        code = services.code_map(code=obj, coupon=form.cleaned_data["coupon"], by=request.user)
        if code.coupon_id and code.coupon_id != before:
            messages.info(
                request,
                f"Purchases kept with {code.code} are now credited to coupon {code.coupon.code}.",
            )
        return code
