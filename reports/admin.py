"""Saved reports (read-only: they are generated), email subscriptions and verdict deliveries."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from campaigns.admin_base import SavedViewsMixin
from reports.models import Report, ReportSubscription, VerdictDelivery
from reports.services import report_request


@admin.register(Report)
class ReportAdmin(SavedViewsMixin, admin.ModelAdmin):
    list_display = (
        "period",
        "granularity",
        "group_by",
        "attribution",
        "status",
        "stale",
        "finished_at",
        "page",
    )
    list_filter = ("status", "granularity", "group_by", "attribution", "stale")
    date_hierarchy = "end"
    readonly_fields = [f.name for f in Report._meta.fields]
    actions = ("regenerate",)

    @admin.display(description="Period", ordering="end")
    def period(self, obj: Report) -> str:
        return f"{obj.start} to {obj.end}"

    @admin.display(description="Page")
    def page(self, obj: Report) -> str:
        return format_html('<a href="{}">view</a>', reverse("reports:saved-detail", args=[obj.pk]))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Regenerate the selected reports", permissions=["view"])
    def regenerate(self, request: HttpRequest, queryset) -> None:
        for report in queryset:
            report_request(
                start=report.start,
                end=report.end,
                group_by=report.group_by,
                attribution=report.attribution,
                granularity=report.granularity,
                by=request.user,
            )
        messages.success(request, f"Asked for {queryset.count()} report(s) again.")


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(SavedViewsMixin, admin.ModelAdmin):
    """Read-only: addresses are added and removed on the reports' "Email delivery" page,
    through `reports.services.subscription_set` (validation, one row per address and kind)."""

    list_display = ("email", "granularity", "added_by", "created_at")
    list_filter = ("granularity",)
    list_select_related = ("added_by",)
    search_fields = ("email",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(VerdictDelivery)
class VerdictDeliveryAdmin(admin.ModelAdmin):
    """Read-only: the record of each weekly verdict sent (`reports.delivery`). A delivery left
    "sending" long after its claim lost its worker mid-send: whether it arrived is unknown."""

    list_display = ("period_start", "target", "medium", "status", "attempts", "sent_at")
    list_filter = ("status", "medium")
    date_hierarchy = "period_start"
    search_fields = ("target",)
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
