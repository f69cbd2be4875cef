"""Channels, campaigns with their costs and coupons, engagement: the marketers' side of the admin."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import DecimalField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from campaigns import services
from campaigns.admin_base import ServiceAdmin, ServiceInline
from campaigns.csvcells import write_rows
from campaigns.errors import DomainError, InvalidInput
from campaigns.models import (
    AdPlatform,
    Campaign,
    CampaignAlias,
    Channel,
    ChannelAlias,
    Cost,
    Coupon,
    EngagementStat,
    HourlyRate,
    ImportJob,
    StaffMember,
    TimeEntry,
)
from campaigns.phones import normalize_phone
from leads.models import Purchase

MONEY = DecimalField(max_digits=14, decimal_places=2)
ZERO = Decimal("0.00")


def _sum_of(queryset, field: str) -> Coalesce:
    """A correlated SUM as an annotation: one subquery, no join that multiplies rows."""
    total = queryset.order_by().annotate(_total=Sum(field)).values("_total")
    return Coalesce(Subquery(total, output_field=MONEY), ZERO, output_field=MONEY)


def _changed(form) -> dict:
    return {name: form.cleaned_data[name] for name in form.changed_data}


class ChannelAliasInline(ServiceInline):
    model = ChannelAlias
    extra = 1

    def create(self, parent: Channel, values: dict) -> ChannelAlias:
        return services.alias_save(channel=parent, **values)

    def update(self, obj: ChannelAlias, values: dict) -> ChannelAlias:
        return services.alias_save(alias=obj, **values)

    def remove(self, obj: ChannelAlias) -> None:
        services.alias_delete(alias=obj)


@admin.register(Channel)
class ChannelAdmin(ServiceAdmin):
    list_display = ("name", "slug", "kind")
    list_filter = ("kind",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (ChannelAliasInline,)

    def get_readonly_fields(self, request: HttpRequest, obj: Channel | None = None):
        # Integrations send a default channel's slug: shown, never edited (the service refuses
        # it too).
        return ("slug",) if obj is not None and obj.is_default else ()

    def get_prepopulated_fields(self, request: HttpRequest, obj: Channel | None = None):
        return {} if obj is not None and obj.is_default else self.prepopulated_fields

    def has_delete_permission(self, request: HttpRequest, obj: Channel | None = None) -> bool:
        if obj is not None and obj.is_default:
            return False
        return super().has_delete_permission(request, obj)

    def create(self, request: HttpRequest, form) -> Channel:
        return services.channel_save(**form.cleaned_data)

    def update(self, request: HttpRequest, obj: Channel, form) -> Channel:
        return services.channel_save(channel=obj, **_changed(form))

    def remove(self, request: HttpRequest, obj: Channel) -> None:
        services.channel_delete(channel=obj)


class CostInline(ServiceInline):
    model = Cost
    extra = 1
    fields = ("incurred_on", "category", "amount", "note")
    ordering = ("-incurred_on",)

    def create(self, parent: Campaign, values: dict) -> Cost:
        return services.cost_create(campaign=parent, **values)

    def update(self, obj: Cost, values: dict) -> Cost:
        return services.cost_update(cost=obj, **values)

    def remove(self, obj: Cost) -> None:
        services.cost_delete(cost=obj)


class CouponInline(ServiceInline):
    model = Coupon
    extra = 0
    fields = ("code", "active", "valid_from", "valid_until", "max_redemptions", "redemptions")
    readonly_fields = ("redemptions",)

    def create(self, parent: Campaign, values: dict) -> Coupon:
        return services.coupon_save(campaign=parent, **values)

    def update(self, obj: Coupon, values: dict) -> Coupon:
        return services.coupon_save(coupon=obj, **values)

    def remove(self, obj: Coupon) -> None:
        services.coupon_delete(coupon=obj)


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = (
            "name",
            "channel",
            "objective",
            "starts_on",
            "ends_on",
            "budget",
            "utm_campaign",
            "tracking_phone",
            "target_leads",
            "target_cost_per_lead",
        )

    def clean_tracking_phone(self) -> str | None:
        """The number as it is stored (E.164), so the form's uniqueness check compares what the
        database will: "512-555-0100" is the line "+15125550100" another campaign owns."""
        return normalize_phone(self.cleaned_data.get("tracking_phone")) or None


@admin.register(Campaign)
class CampaignAdmin(ServiceAdmin):
    form = CampaignForm
    list_display = (
        "name",
        "channel",
        "objective",
        "starts_on",
        "ends_on",
        "budget",
        "total_cost",
        "coupon_revenue",
    )
    list_select_related = ("channel",)
    list_filter = ("channel", "objective", "starts_on")
    search_fields = ("name", "utm_campaign", "tracking_phone")
    autocomplete_fields = ("channel",)
    date_hierarchy = "starts_on"
    inlines = (CostInline, CouponInline)
    readonly_fields = ("total_cost", "coupon_revenue", "costs_by_category")
    fieldsets = (
        (None, {"fields": ("name", "channel", "objective", ("starts_on", "ends_on"), "budget")}),
        ("Tracking", {"fields": ("utm_campaign", "tracking_phone")}),
        ("Targets", {"fields": ("target_leads", "target_cost_per_lead")}),
        ("Totals", {"fields": ("total_cost", "coupon_revenue", "costs_by_category")}),
    )

    def create(self, request: HttpRequest, form) -> Campaign:
        return services.campaign_create(**form.cleaned_data)

    def update(self, request: HttpRequest, obj: Campaign, form) -> Campaign:
        return services.campaign_update(campaign=obj, **_changed(form))

    def remove(self, request: HttpRequest, obj: Campaign) -> None:
        services.campaign_delete(campaign=obj)

    def get_queryset(self, request: HttpRequest):
        costs = Cost.objects.filter(campaign=OuterRef("pk")).values("campaign")
        revenue = Purchase.objects.filter(coupon__campaign=OuterRef("pk")).values(
            "coupon__campaign"
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                total_cost_value=_sum_of(costs, "amount"),
                coupon_revenue_value=_sum_of(revenue, "amount"),
            )
        )

    @admin.display(description="Total cost", ordering="total_cost_value")
    def total_cost(self, obj: Campaign) -> Decimal:
        return getattr(obj, "total_cost_value", ZERO)

    @admin.display(description="Revenue with its coupons", ordering="coupon_revenue_value")
    def coupon_revenue(self, obj: Campaign) -> Decimal:
        """Purchases that used one of the campaign's coupons (attributed revenue: the reports)."""
        return getattr(obj, "coupon_revenue_value", ZERO)

    @admin.display(description="Cost by category")
    def costs_by_category(self, obj: Campaign) -> str:
        if obj.pk is None:
            return "-"
        rows = obj.costs.order_by("category").values("category").annotate(total=Sum("amount"))
        labels = dict(Cost.Category.choices)
        return ", ".join(f"{labels[r['category']]}: {r['total']:.2f}" for r in rows) or "-"


@admin.register(Cost)
class CostAdmin(ServiceAdmin):
    list_display = ("incurred_on", "campaign", "category", "amount", "note")
    list_select_related = ("campaign",)
    list_filter = ("category", "campaign", "incurred_on")
    search_fields = ("note", "campaign__name")
    autocomplete_fields = ("campaign",)
    date_hierarchy = "incurred_on"
    ordering = ("-incurred_on", "-id")

    def create(self, request: HttpRequest, form) -> Cost:
        return services.cost_create(**form.cleaned_data)

    def update(self, request: HttpRequest, obj: Cost, form) -> Cost:
        return services.cost_update(cost=obj, **_changed(form))

    def remove(self, request: HttpRequest, obj: Cost) -> None:
        services.cost_delete(cost=obj)


@admin.register(Coupon)
class CouponAdmin(ServiceAdmin):
    list_display = (
        "code",
        "campaign",
        "active",
        "valid_from",
        "valid_until",
        "redemptions",
        "max_redemptions",
    )
    list_select_related = ("campaign",)
    list_filter = ("active", "campaign")
    search_fields = ("code", "campaign__name")
    autocomplete_fields = ("campaign",)
    readonly_fields = ("redemptions",)

    def create(self, request: HttpRequest, form) -> Coupon:
        return services.coupon_save(**form.cleaned_data)

    def update(self, request: HttpRequest, obj: Coupon, form) -> Coupon:
        return services.coupon_save(coupon=obj, **_changed(form))

    def remove(self, request: HttpRequest, obj: Coupon) -> None:
        services.coupon_delete(coupon=obj)


@admin.register(EngagementStat)
class EngagementStatAdmin(ServiceAdmin):
    list_display = (
        "date",
        "campaign",
        "impressions",
        "reach",
        "reactions",
        "comments",
        "shares",
        "clicks",
        "followers_gained",
    )
    list_select_related = ("campaign",)
    list_filter = ("campaign", "date")
    autocomplete_fields = ("campaign",)
    date_hierarchy = "date"
    ordering = ("-date", "campaign")

    def create(self, request: HttpRequest, form) -> EngagementStat:
        data = dict(form.cleaned_data)
        return services.engagement_upsert(
            campaign=data.pop("campaign"), date=data.pop("date"), **data
        )

    def update(self, request: HttpRequest, obj: EngagementStat, form) -> EngagementStat:
        return services.engagement_update(stat=obj, **_changed(form))

    def remove(self, request: HttpRequest, obj: EngagementStat) -> None:
        services.engagement_delete(stat=obj)


class MappedFilter(admin.SimpleListFilter):
    title = "mapped"
    parameter_name = "mapped"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("no", "Not mapped yet"), ("yes", "Mapped")]

    def queryset(self, request: HttpRequest, queryset):
        if self.value() == "no":
            return queryset.filter(campaign__isnull=True)
        if self.value() == "yes":
            return queryset.filter(campaign__isnull=False)
        return queryset


@admin.register(CampaignAlias)
class CampaignAliasAdmin(ServiceAdmin):
    """The campaign names ad platforms' cost exports used: the ones no campaign matched are
    listed here unmapped ("Not mapped yet"); pick the campaign once and import again."""

    list_display = ("name", "platform", "campaign", "first_seen_at")
    list_select_related = ("campaign",)
    list_filter = (MappedFilter, "platform")
    search_fields = ("name", "campaign__name")
    autocomplete_fields = ("campaign",)
    fields = ("platform", "name", "campaign")

    def create(self, request: HttpRequest, form) -> CampaignAlias:
        return services.campaign_name_save(**form.cleaned_data)

    def update(self, request: HttpRequest, obj: CampaignAlias, form) -> CampaignAlias:
        return services.campaign_name_save(alias=obj, **_changed(form))

    def remove(self, request: HttpRequest, obj: CampaignAlias) -> None:
        services.campaign_name_delete(alias=obj)


# --- staff time -------------------------------------------------------------------------------


class HourlyRateInline(ServiceInline):
    model = HourlyRate
    extra = 1
    fields = ("effective_from", "rate")

    def create(self, parent: StaffMember, values: dict) -> HourlyRate:
        return services.hourly_rate_save(staff=parent, **values)

    def update(self, obj: HourlyRate, values: dict) -> HourlyRate:
        return services.hourly_rate_save(hourly_rate=obj, **values)

    def remove(self, obj: HourlyRate) -> None:
        services.hourly_rate_delete(hourly_rate=obj)


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


@admin.register(StaffMember)
class StaffMemberAdmin(ServiceAdmin):
    """People whose hours are campaign costs: their hourly rates by date, and their weekly
    timesheet (`timesheet_view`)."""

    list_display = ("name", "active", "timesheet_link")
    list_filter = ("active",)
    search_fields = ("name",)
    inlines = (HourlyRateInline,)

    def create(self, request: HttpRequest, form) -> StaffMember:
        return services.staff_save(**form.cleaned_data)

    def update(self, request: HttpRequest, obj: StaffMember, form) -> StaffMember:
        return services.staff_save(staff=obj, **_changed(form))

    def remove(self, request: HttpRequest, obj: StaffMember) -> None:
        services.staff_delete(staff=obj)

    @admin.display(description="Timesheet")
    def timesheet_link(self, obj: StaffMember) -> str:
        url = reverse("admin:campaigns_staffmember_timesheet", args=[obj.pk])
        return format_html('<a href="{}">Timesheet of {}</a>', url, obj.name)

    def get_urls(self):
        own = [
            path(
                "<int:pk>/timesheet/",
                self.admin_site.admin_view(self.timesheet_view),
                name="campaigns_staffmember_timesheet",
            )
        ]
        return own + super().get_urls()

    def timesheet_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A week of one person's hours, campaign by day; saved whole or not at all."""
        if not request.user.has_perm("campaigns.view_timeentry"):
            raise PermissionDenied
        staff = StaffMember.objects.filter(pk=pk).first()
        if staff is None:
            return HttpResponseRedirect(reverse("admin:campaigns_staffmember_changelist"))
        today = timezone.localdate()
        try:
            week = _monday(dt.date.fromisoformat(request.POST.get("week") or request.GET["week"]))
        except (KeyError, ValueError):
            week = _monday(today)
        days = [week + dt.timedelta(days=i) for i in range(7)]
        entries = {
            (e.campaign_id, e.date): e
            for e in TimeEntry.objects.filter(staff=staff, date__gte=days[0], date__lte=days[-1])
        }
        campaigns = list(
            Campaign.objects.filter(
                Q(starts_on__lte=days[-1], ends_on__isnull=True)
                | Q(starts_on__lte=days[-1], ends_on__gte=days[0])
                | Q(pk__in={campaign_id for campaign_id, _ in entries})
            )
            .select_related("channel")
            .order_by("name")
        )
        posted: dict[str, str] = {}
        errors: dict[str, str] = {}
        if request.method == "POST":
            if not all(
                request.user.has_perm(f"campaigns.{action}_timeentry")
                for action in ("add", "change", "delete")
            ):
                raise PermissionDenied
            hours = {}
            for campaign in campaigns:
                for day in days:
                    name = f"h-{campaign.pk}-{day.isoformat()}"
                    if day > today or name not in request.POST:
                        continue
                    posted[name] = request.POST[name].strip()
                    hours[campaign.pk, day] = posted[name] or None
            try:
                written = services.timesheet_save(staff=staff, hours=hours)
            except InvalidInput as exc:
                if exc.field and exc.field[0].isdigit():
                    campaign_id, _, day = exc.field.partition(":")
                    errors[f"h-{campaign_id}-{day}"] = exc.message
                messages.error(request, f"Nothing was saved: {exc.message}")
            else:
                messages.success(
                    request, f"Saved the week of {week:%d %B %Y} ({written} change(s))."
                )
                url = reverse("admin:campaigns_staffmember_timesheet", args=[staff.pk])
                return HttpResponseRedirect(f"{url}?week={week.isoformat()}")
        rows, day_totals = [], dict.fromkeys(days, Decimal("0"))
        for campaign in campaigns:
            cells, total = [], Decimal("0")
            for day in days:
                name = f"h-{campaign.pk}-{day.isoformat()}"
                entry = entries.get((campaign.pk, day))
                value = posted.get(name, entry.hours if entry else None)
                if entry:
                    total += entry.hours
                    day_totals[day] += entry.hours
                cells.append(
                    {
                        "name": name,
                        "date": day,
                        "value": value,
                        "future": day > today,
                        "error": errors.get(name),
                    }
                )
            rows.append({"campaign": campaign, "cells": cells, "total": total or None})
        next_week = week + dt.timedelta(days=7)
        return TemplateResponse(
            request,
            "admin/campaigns/staffmember/timesheet.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Timesheet: {staff}",
                "opts": self.model._meta,
                "staff": staff,
                "week": week,
                "previous_week": week - dt.timedelta(days=7),
                "next_week": next_week if next_week <= today else None,
                "days": [{"date": d, "total": day_totals[d] or None} for d in days],
                "week_total": sum(day_totals.values()) or None,
                "rows": rows,
                "rates": list(staff.rates.order_by("effective_from")),
            },
            status=400 if errors or (request.method == "POST") else 200,
        )


@admin.register(TimeEntry)
class TimeEntryAdmin(ServiceAdmin):
    list_display = ("date", "staff", "campaign", "hours", "cost_amount", "note")
    list_select_related = ("staff", "campaign", "cost")
    list_filter = ("staff", "campaign", "date")
    search_fields = ("staff__name", "campaign__name", "note")
    autocomplete_fields = ("campaign",)
    date_hierarchy = "date"
    fields = ("staff", "campaign", "date", "hours", "note")

    @admin.display(description="Cost", ordering="cost__amount")
    def cost_amount(self, obj: TimeEntry) -> Decimal:
        return obj.cost.amount

    def create(self, request: HttpRequest, form) -> TimeEntry:
        return services.time_entry_save(**form.cleaned_data)

    def update(self, request: HttpRequest, obj: TimeEntry, form) -> TimeEntry:
        values = {name: form.cleaned_data[name] for name in self.fields}
        return services.time_entry_save(entry=obj, **values)

    def remove(self, request: HttpRequest, obj: TimeEntry) -> None:
        services.time_entry_delete(entry=obj)


# --- imports ----------------------------------------------------------------------------------


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label="Import", choices=[])
    platform = forms.ChoiceField(
        label="Ad platform",
        choices=[("", "(not an ad platform's export)"), *AdPlatform.choices],
        required=False,
        help_text="For ad platform costs: the platform whose export this is.",
    )
    file = forms.FileField(
        label="CSV file", help_text="UTF-8, comma or semicolon separated, one header line."
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from campaigns.imports import ADMIN_KINDS

        self.fields["kind"].choices = [(k, label) for k, (label, _) in ADMIN_KINDS.items()]


@admin.register(ImportJob)
class ImportJobAdmin(ServiceAdmin):
    """CSV imports from the admin: upload a file, map its columns, import it on a worker,
    watch its progress and download its rejected rows. Every step is a service."""

    list_display = (
        "file_name",
        "kind",
        "status",
        "rows",
        "created",
        "rejected_rows",
        "user",
        "created_at",
    )
    list_filter = ("status", "kind")
    list_select_related = ("user",)
    search_fields = ("file_name",)

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).defer("data")

    @admin.display(description="Rejected")
    def rejected_rows(self, obj: ImportJob) -> int:
        return len(obj.rejected)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a job is started, not edited

    def get_urls(self):
        own = [
            path(
                "<int:pk>/rejected.csv",
                self.admin_site.admin_view(self.rejected_view),
                name="campaigns_importjob_rejected",
            ),
        ]
        return own + super().get_urls()

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                job = self.create(request, form)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                return HttpResponseRedirect(
                    reverse("admin:campaigns_importjob_change", args=[job.pk])
                )
        return TemplateResponse(
            request,
            "admin/campaigns/importjob/upload.html",
            {
                **self.admin_site.each_context(request),
                "title": "Import a CSV file",
                "opts": self.model._meta,
                "form": form,
            },
            status=400 if form.errors else 200,
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ):
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = ImportJob.objects.filter(pk=object_id).first()
        if job is None:
            return HttpResponseRedirect(reverse("admin:campaigns_importjob_changelist"))
        from campaigns.imports import ADMIN_KINDS, kind_for

        kind = kind_for(job.kind, job.platform)
        error = None
        if request.method == "POST":
            if not self.has_add_permission(request):
                raise PermissionDenied
            mapping = {name: request.POST.get(f"map-{i}", "") for i, name in enumerate(job.header)}
            try:
                services.import_job_start(
                    job=job, mapping=mapping, dry_run=request.POST.get("dry_run") == "on"
                )
            except DomainError as exc:
                error = exc.message
            else:
                return HttpResponseRedirect(request.path)
        columns = [] if job.kind == "ad_costs" else list(kind.columns)
        return TemplateResponse(
            request,
            "admin/campaigns/importjob/job.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Import of {job.file_name}",
                "opts": self.model._meta,
                "job": job,
                "kind_label": ADMIN_KINDS.get(job.kind, (job.kind,))[0],
                "error": error,
                "header": [
                    {"index": i, "name": name, "mapped": job.mapping.get(name, "")}
                    for i, name in enumerate(job.header)
                ],
                "columns": columns,
                "required": list(getattr(kind, "required", ())),
                "preview": services.import_job_preview(job) if job.status == "draft" else [],
                "share": min(job.line / job.lines, 1.0) * 100 if job.lines else 0,
                "rejected": job.rejected[:100],
                "working": job.status in (ImportJob.Status.PENDING, ImportJob.Status.RUNNING),
            },
            status=400 if error else 200,
        )

    def rejected_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = ImportJob.objects.filter(pk=pk).defer("data").first()
        if job is None:
            return HttpResponseRedirect(reverse("admin:campaigns_importjob_changelist"))
        out = io.StringIO()
        write_rows(out, ["line", "column", "reason"], job.rejected)
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-rejected.csv"'
        return response

    def create(self, request: HttpRequest, form) -> ImportJob:
        upload = form.cleaned_data["file"]
        return services.import_job_create(
            kind=form.cleaned_data["kind"],
            platform=form.cleaned_data.get("platform", ""),
            file_name=upload.name,
            data=upload.read(),
            user=request.user,
        )

    def update(self, request: HttpRequest, obj: ImportJob, form) -> ImportJob:
        raise PermissionDenied  # a job is started from its page, never edited

    def remove(self, request: HttpRequest, obj: ImportJob) -> None:
        services.import_job_delete(job=obj)
