"""The sales team's admin: contacts, their history, touchpoints and purchases.

Every write goes through `leads.services` (add, stage moves, purchases, merge, erase), so the
admin records history exactly as the API and the importers do. Lists stay fast on a million
contacts: related rows are joined, lifetime revenue is a correlated subquery evaluated only
for the page's rows, and nothing counts the whole table.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db.models import DecimalField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from campaigns.admin_base import SavedViewsMixin, ServiceAdmin, ServiceInline
from campaigns.errors import DomainError
from campaigns.inputs import MoneyFormField
from campaigns.models import Channel, Coupon
from campaigns.numbers import fixed
from leads.admin_utils import CappedCountPaginator
from leads.models import (
    Contact,
    ContactEmail,
    ContactMerge,
    ContactPhone,
    Purchase,
    Refund,
    Stage,
    StageChange,
    Touchpoint,
    Via,
)
from leads.rules import MAX_ID, UNSET
from leads.selectors import (
    DUPLICATE_KINDS,
    contact_timeline,
    contacts_search,
    duplicate_groups,
    merge_preview,
)
from leads.services import (
    EDITABLE_FIELDS,
    HEARD_FIELDS,
    contact_assign_owner,
    contact_change_source,
    contact_create,
    contact_delete,
    contact_erase,
    contact_merge,
    contact_move_stage,
    contact_update,
    contacts_move_stage,
    purchase_delete,
    purchase_record,
    refund_delete,
    refund_record,
    touchpoint_delete,
    touchpoint_record,
)

MONEY = DecimalField(max_digits=14, decimal_places=2)
HEARD_CHANNEL_HELP = (
    "Empty: the channel the words name, if any (a channel's name or alias, such as "
    '"Insta" or "instagram.com").'
)
SHOWN_PER_GROUP = 20  # contacts shown per group of possible duplicates


class ContactAddForm(forms.ModelForm):
    """The fields a new contact may be given; the service does the rest."""

    touch_kind = forms.ChoiceField(
        choices=Touchpoint.Kind.choices,
        initial=Touchpoint.Kind.FOLLOW,
        help_text="The first touchpoint's kind, recorded when a source is given.",
    )

    class Meta:
        model = Contact
        fields = (
            "email",
            "phone",
            "handle",
            "first_name",
            "last_name",
            "company",
            "stage",
            "entered_at",
            "source_channel",
            "source_campaign",
            "coupon",
            "heard_about",
            "heard_channel",
            "owner",
            "referred_by",
            "external_id",
            "notes",
        )
        help_texts = {"heard_channel": HEARD_CHANNEL_HELP}


class MoveStageForm(forms.Form):
    stage = forms.ChoiceField(choices=Stage.choices)
    at = forms.SplitDateTimeField(
        required=False, widget=admin.widgets.AdminSplitDateTime, help_text="Empty: now."
    )
    force = forms.BooleanField(
        required=False, help_text="Move backward (needs the 'force stage change' permission)."
    )
    note = forms.CharField(required=False, max_length=300)


def _is_id(value: str) -> bool:
    return value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID


class CouponField(forms.ModelChoiceField):
    """A coupon as the autocomplete posts it (its id) or as typed (its code, any case).

    A code is handed to `purchase_record` as text, which resolves it or answers "Unknown coupon
    code", as the API does; an id that names no coupon is treated as a code too, so a forged one
    is that same form error."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if _is_id(text):
            coupon = self.queryset.filter(pk=text).first()
            if coupon is not None:
                return coupon
        return text or None


class CouponAutocomplete(AutocompleteSelect):
    """Shows the chosen coupon again after an error; a typed code that is no id shows none
    (the error names it)."""

    def optgroups(self, name: str, value: list[str], attrs=None):
        return super().optgroups(name, [v for v in value if _is_id(str(v))], attrs)


class RecordPurchaseForm(forms.Form):
    amount = MoneyFormField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    discount = MoneyFormField(
        max_digits=14, decimal_places=2, min_value=Decimal("0"), required=False
    )
    occurred_at = forms.SplitDateTimeField(
        required=False, widget=admin.widgets.AdminSplitDateTime, help_text="Empty: now."
    )
    coupon = CouponField(
        queryset=Coupon.objects.select_related("campaign"),
        required=False,
        help_text="Type part of its code or its campaign's name.",
    )
    external_id = forms.CharField(required=False, max_length=200, help_text="The shop's order id.")
    note = forms.CharField(required=False, max_length=300)

    def __init__(self, *args, admin_site: admin.AdminSite, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The admin's own autocomplete, answered like the purchase form's coupon box.
        field = self.fields["coupon"]
        field.widget = CouponAutocomplete(Purchase._meta.get_field("coupon"), admin_site)
        field.widget.choices = field.choices
        field.widget.is_required = field.required
        # The admin's date and time boxes are captioned "Date:" and "Time:" by plain text, and
        # the field's label points at neither: name each one.
        date, time = self.fields["occurred_at"].widget.widgets
        date.attrs["aria-label"] = "Purchase date"
        time.attrs["aria-label"] = "Purchase time"


class HeardFilter(admin.SimpleListFilter):
    """Contacts by the channel they say they heard about us through; or those whose words
    name no channel (to map them: a new channel alias), or who said nothing."""

    title = "heard via"
    parameter_name = "heard"
    UNNAMED, UNSAID = "unnamed", "unsaid"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        channels = [(c.slug, c.name) for c in Channel.objects.order_by("name")]
        return [
            *channels,
            (self.UNNAMED, "Words naming no channel"),
            (self.UNSAID, "Nothing said"),
        ]

    def queryset(self, request: HttpRequest, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == self.UNNAMED:
            return queryset.filter(heard_channel__isnull=True).exclude(heard_about="")
        if value == self.UNSAID:
            return queryset.filter(heard_channel__isnull=True, heard_about="")
        # NOT NULL in so many words: the (heard_channel, -id) index is partial on it.
        return queryset.filter(heard_channel__isnull=False, heard_channel__slug=value)


def _service_error(request: HttpRequest, exc: DomainError) -> None:
    messages.error(request, exc.message)


@admin.register(Contact)
class ContactAdmin(ServiceAdmin):
    list_display = (
        "display_name",
        "email",
        "stage",
        "source_channel",
        "source_campaign",
        "coupon",
        "heard_channel",
        "heard_about",
        "owner",
        "lifetime_revenue",
        "entered_at",
    )
    list_select_related = ("source_channel", "source_campaign", "coupon", "heard_channel", "owner")
    list_filter = (
        "stage",
        "source_channel",
        HeardFilter,
        "source_campaign",
        "coupon",
        "owner",
        ("entered_at", admin.DateFieldListFilter),
        ("became_customer_at", admin.DateFieldListFilter),
    )
    search_fields = ("first_name", "last_name", "email", "phone", "handle", "company")
    search_help_text = (
        "Every word must appear in a name, an email (any part, secondary ones too), the "
        "company or the handle; a phone is found in any format."
    )
    ordering = ("-id",)
    sortable_by = ("entered_at", "email", "stage", "lifetime_revenue")
    list_per_page = 50
    paginator = CappedCountPaginator
    show_full_result_count = False
    # The possible duplicates' link, on the saved views' list template.
    change_list_template = "admin/leads/contact/change_list.html"
    autocomplete_fields = (
        "source_channel",
        "source_campaign",
        "coupon",
        "heard_channel",
        "owner",
        "referred_by",
    )
    actions = (
        "move_to_lead",
        "move_to_qualified",
        "move_to_customer",
        "assign_to_me",
        "merge_two",
        "erase_contacts",
    )
    stage_fields = (
        "stage",
        "entered_at",
        "became_lead_at",
        "became_qualified_at",
        "became_customer_at",
    )
    fieldsets = (
        (
            "Person",
            {
                "fields": (
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "phone_e164",
                    "handle",
                    "company",
                    "other_emails_and_phones",
                )
            },
        ),
        ("Funnel", {"fields": (*stage_fields, "stage_tools")}),
        ("Source", {"fields": ("source_channel", "source_campaign", "coupon", "referred_by")}),
        (
            "How they heard about us",
            {
                "fields": ("heard_about", "heard_channel"),
                "description": "What the person says, beside the tracked source above.",
            },
        ),
        ("Sales", {"fields": ("owner", "notes", "external_id")}),
        ("Record", {"fields": ("erased_at", "created_at", "updated_at")}),
    )

    # --- the list ---------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest):
        revenue = (
            Purchase.objects.filter(contact=OuterRef("pk"))
            .order_by()
            .values("contact")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        # Net of refunds, like every revenue figure.
        refunded = (
            Refund.objects.filter(purchase__contact=OuterRef("pk"))
            .order_by()
            .values("purchase__contact")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                lifetime_revenue_value=Coalesce(
                    Subquery(revenue, output_field=MONEY), Decimal("0.00"), output_field=MONEY
                )
                - Coalesce(
                    Subquery(refunded, output_field=MONEY), Decimal("0.00"), output_field=MONEY
                )
            )
        )

    @admin.display(description="Name", ordering="last_name")
    def display_name(self, obj: Contact) -> str:
        return str(obj)

    @admin.display(description="Lifetime revenue", ordering="lifetime_revenue_value")
    def lifetime_revenue(self, obj: Contact) -> str:
        """Money as the reports show it: "1,247.49 USD" (right-aligned by admin-a11y.css)."""
        return f"{fixed(obj.lifetime_revenue_value, 2):,.2f} {settings.DEFAULT_CURRENCY}"

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        """An email hits the unique lower(email) index; anything else is an indexed prefix match."""
        return contacts_search(queryset, search_term), False

    # --- add and change ---------------------------------------------------------------------

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ContactAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj=None):
        if obj is None:
            return (
                (
                    "Person",
                    {"fields": ("first_name", "last_name", "email", "phone", "handle", "company")},
                ),
                ("Funnel entry", {"fields": ("stage", "entered_at", "touch_kind")}),
                (
                    "Source",
                    {"fields": ("source_channel", "source_campaign", "coupon", "referred_by")},
                ),
                ("How they heard about us", {"fields": ("heard_about", "heard_channel")}),
                ("Sales", {"fields": ("owner", "notes", "external_id")}),
            )
        return self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ()
        return (
            *self.stage_fields,
            "stage_tools",
            "phone_e164",
            "other_emails_and_phones",
            "erased_at",
            "created_at",
            "updated_at",
        )

    def render_change_form(
        self, request: HttpRequest, context, add=False, change=False, form_url="", obj=None
    ):
        """The contact's page reads its history as one timeline (`contact_timeline`), with links
        to the full lists of its touches, purchases, stage moves and merges."""
        if obj is not None and obj.pk is not None:
            context["timeline"] = contact_timeline(obj)
            context["timeline_lists"] = self._timeline_lists(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _timeline_lists(self, request: HttpRequest, obj: Contact) -> list[tuple[str, str]]:
        """(label, url) of each full list of the contact's rows the user may read."""
        lists = (
            (Touchpoint, "All touches", "contact"),
            (Purchase, "All purchases", "contact"),
            (StageChange, "Full stage history", "contact"),
            (ContactMerge, "Merge records", "survivor"),
        )
        found = []
        for model, label, key in lists:
            model_admin = self.admin_site._registry.get(model)
            if model_admin is None or not model_admin.has_view_permission(request):
                continue
            opts = model._meta
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            found.append((label, f"{url}?{key}__id__exact={obj.pk}"))
        return found

    @admin.display(description="Other emails and phones")
    def other_emails_and_phones(self, obj: Contact) -> str:
        """Kept from the contacts merged into this one (`contact_merge`); they find it too."""
        if obj.pk is None:
            return "-"
        emails = [(e,) for e in obj.other_emails.values_list("email", flat=True)]
        phones = [
            (f"{raw} ({e164})" if e164 and e164 != raw else raw,)
            for raw, e164 in obj.other_phones.values_list("phone", "phone_e164")
        ]
        return format_html_join(", ", "{}", emails + phones) or "-"

    @admin.display(description="Move or buy")
    def stage_tools(self, obj: Contact) -> str:
        if obj.pk is None:
            return "-"
        return format_html(
            '<a class="button" href="{}">Move stage…</a> <a class="button" href="{}">Record purchase…</a>',
            reverse("admin:leads_contact_move", args=[obj.pk]),
            reverse("admin:leads_contact_purchase", args=[obj.pk]),
        )

    def create(self, request: HttpRequest, form) -> Contact:
        data = form.cleaned_data
        return contact_create(
            email=data.get("email") or "",
            phone=data.get("phone") or "",
            handle=data.get("handle") or "",
            first_name=data.get("first_name") or "",
            last_name=data.get("last_name") or "",
            company=data.get("company") or "",
            notes=data.get("notes") or "",
            stage=data.get("stage") or Stage.FOLLOWER,
            entered_at=data.get("entered_at"),
            source_channel=data.get("source_channel"),
            source_campaign=data.get("source_campaign"),
            coupon=data.get("coupon"),
            owner=data.get("owner"),
            referred_by=data.get("referred_by"),
            external_id=data.get("external_id") or None,
            heard_about=data.get("heard_about") or "",
            # Left empty, the channel is the one the words name.
            heard_channel=data.get("heard_channel") or UNSET,
            touch_kind=data.get("touch_kind") or Touchpoint.Kind.FOLLOW,
            by=request.user,
            via=Via.ADMIN,
        )

    def update(self, request: HttpRequest, obj: Contact, form) -> Contact:
        changed = set(form.changed_data)
        plain = {name: form.cleaned_data[name] for name in changed if name in EDITABLE_FIELDS}
        # New words name their channel again, unless the channel was changed too.
        plain.update({name: form.cleaned_data[name] for name in changed if name in HEARD_FIELDS})
        if plain:
            contact_update(contact=obj, **plain)
        if {"source_channel", "source_campaign"} & changed:
            contact_change_source(
                contact=obj,
                source_channel=form.cleaned_data.get("source_channel"),
                source_campaign=form.cleaned_data.get("source_campaign"),
            )
        return obj

    def remove(self, request: HttpRequest, obj: Contact) -> None:
        contact_delete(contact=obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Contacts are erased, not deleted: purchases and reports keep their figures.
        return request.user.is_superuser

    def get_deleted_objects(self, objs, request: HttpRequest):
        """A contact's history, touches and merge records go with it (a superuser deleting a
        contact recorded by mistake): they need no delete permission of their own, which nobody
        has for the append-only history. Purchases still protect their contact."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        own = {
            m._meta.verbose_name
            for m in (StageChange, Touchpoint, ContactMerge, ContactEmail, ContactPhone)
        }
        return deleted, counts, perms_needed - own, protected

    def has_merge_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("leads.merge_contact")

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("leads.erase_contact")

    # --- actions ----------------------------------------------------------------------------

    def _move(self, request: HttpRequest, queryset, stage: Stage) -> None:
        moved, refused = contacts_move_stage(
            contacts=queryset.order_by("pk"), stage=stage, by=request.user, via=Via.ADMIN
        )
        if moved:
            messages.success(request, f"Moved {moved} contact(s) to {stage.label.lower()}.")
        for contact, reason in refused[:10]:
            messages.warning(request, f"{contact}: {reason}")
        if len(refused) > 10:
            messages.warning(request, f"… and {len(refused) - 10} more refused.")
        if not moved and not refused:
            messages.info(request, f"The selected contacts were already at {stage.label}.")

    @admin.action(description="Move to lead", permissions=["change"])
    def move_to_lead(self, request: HttpRequest, queryset) -> None:
        self._move(request, queryset, Stage.LEAD)

    @admin.action(description="Move to qualified", permissions=["change"])
    def move_to_qualified(self, request: HttpRequest, queryset) -> None:
        self._move(request, queryset, Stage.QUALIFIED)

    @admin.action(description="Move to customer", permissions=["change"])
    def move_to_customer(self, request: HttpRequest, queryset) -> None:
        self._move(request, queryset, Stage.CUSTOMER)

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset) -> None:
        count = contact_assign_owner(contacts=queryset, owner=request.user)
        messages.success(request, f"Assigned {count} contact(s) to you.")

    @admin.action(description="Merge the two selected contacts", permissions=["merge"])
    def merge_two(self, request: HttpRequest, queryset):
        contacts = list(queryset.order_by("pk")[:3])
        if len(contacts) != 2:
            messages.error(request, "Select exactly two contacts to merge.")
            return None
        if request.POST.get("survivor"):
            survivor = next((c for c in contacts if str(c.pk) == request.POST["survivor"]), None)
            if survivor is None:
                messages.error(request, "Choose which of the two contacts to keep.")
                return None
            other = contacts[1] if survivor is contacts[0] else contacts[0]
            try:
                kept = contact_merge(survivor=survivor, other=other, by=request.user, via=Via.ADMIN)
            except DomainError as exc:
                _service_error(request, exc)
                return None
            messages.success(request, f"Merged contact #{other.pk} into {kept} (#{kept.pk}).")
            return HttpResponseRedirect(reverse("admin:leads_contact_change", args=[kept.pk]))
        return TemplateResponse(
            request,
            "admin/leads/contact/merge.html",
            {
                **self.admin_site.each_context(request),
                "title": "Merge two contacts",
                "contacts": contacts,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Erase personal data of the selected contacts", permissions=["erase"])
    def erase_contacts(self, request: HttpRequest, queryset):
        contacts = list(queryset.order_by("pk")[:101])
        if len(contacts) > 100:
            messages.error(request, "Erase at most 100 contacts at a time.")
            return None
        if request.POST.get("confirm") == "yes":
            for contact in contacts:
                contact_erase(contact=contact, by=request.user, via=Via.ADMIN)
            messages.success(request, f"Erased the personal data of {len(contacts)} contact(s).")
            return None
        return TemplateResponse(
            request,
            "admin/leads/contact/erase.html",
            {
                **self.admin_site.each_context(request),
                "title": "Erase personal data",
                "contacts": contacts,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    # --- the contact page's own tools -------------------------------------------------------

    def get_urls(self):
        own = [
            path(
                "<int:pk>/move/",
                self.admin_site.admin_view(self.move_stage_view),
                name="leads_contact_move",
            ),
            path(
                "<int:pk>/purchase/",
                self.admin_site.admin_view(self.record_purchase_view),
                name="leads_contact_purchase",
            ),
            path(
                "duplicates/",
                self.admin_site.admin_view(self.duplicates_view),
                name="leads_contact_duplicates",
            ),
            path(
                "merge/<int:keep>/<int:other>/",
                self.admin_site.admin_view(self.merge_preview_view),
                name="leads_contact_merge_preview",
            ),
        ]
        return own + super().get_urls()

    def _tool_page(self, request: HttpRequest, contact: Contact, form, title: str) -> HttpResponse:
        return TemplateResponse(
            request,
            "admin/leads/contact/tool.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "contact": contact,
                "form": form,
                "opts": self.model._meta,
                "media": self.media + form.media,
            },
        )

    def move_stage_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        contact = get_object_or_404(Contact, pk=pk)
        if not self.has_change_permission(request, contact):
            raise PermissionDenied
        form = MoveStageForm(request.POST or None, initial={"stage": contact.stage})
        if not request.user.has_perm("leads.force_stage_change"):
            # Offered only to who may use it; the service refuses a forced move without it.
            del form.fields["force"]
        if request.method == "POST" and form.is_valid():
            try:
                change = contact_move_stage(
                    contact=contact,
                    stage=form.cleaned_data["stage"],
                    at=form.cleaned_data["at"] or timezone.now(),
                    # Without the permission the box is not shown; a forced move posted anyway
                    # still reaches the service, which refuses it.
                    force=form.cleaned_data.get("force", bool(request.POST.get("force"))),
                    note=form.cleaned_data["note"],
                    by=request.user,
                    via=Via.ADMIN,
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                if change is None:
                    messages.info(request, f"{contact} is already at {contact.stage_enum.label}.")
                else:
                    messages.success(request, f"{contact} is now {Stage(change.to_stage).label}.")
                return HttpResponseRedirect(reverse("admin:leads_contact_change", args=[pk]))
        return self._tool_page(request, contact, form, f"Move {contact} along the funnel")

    def record_purchase_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        contact = get_object_or_404(Contact, pk=pk)
        if not request.user.has_perm("leads.add_purchase"):
            raise PermissionDenied
        form = RecordPurchaseForm(request.POST or None, admin_site=self.admin_site)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                purchase, created = purchase_record(
                    contact=contact,
                    amount=data["amount"],
                    discount=data["discount"] or 0,
                    occurred_at=data["occurred_at"] or timezone.now(),
                    coupon=data["coupon"] or None,
                    external_id=data["external_id"] or None,
                    note=data["note"],
                    by=request.user,
                    via=Via.ADMIN,
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                if created:
                    messages.success(request, f"Recorded a purchase of {purchase.amount}.")
                else:
                    messages.info(request, "That order was already recorded; nothing changed.")
                return HttpResponseRedirect(reverse("admin:leads_contact_change", args=[pk]))
        return self._tool_page(request, contact, form, f"Record a purchase for {contact}")

    # --- possible duplicates and the merge preview --------------------------------------------

    def duplicates_view(self, request: HttpRequest) -> HttpResponse:
        """Groups of contacts that may be one person (`leads.selectors.duplicate_groups`), one
        kind at a time, each contact with a link to the merge preview."""
        if not self.has_merge_permission(request):
            raise PermissionDenied
        kind = request.GET.get("kind", "email")
        if kind not in DUPLICATE_KINDS:
            kind = "email"
        groups = duplicate_groups(kind=kind)
        # A page shows at most SHOWN_PER_GROUP of a group (a common name may be shared by a
        # hundred contacts); the rest are counted.
        ids = {pk for group in groups for pk in group["ids"][:SHOWN_PER_GROUP]}
        contacts = Contact.objects.select_related("source_channel").in_bulk(ids)
        for group in groups:
            shown = group["ids"][:SHOWN_PER_GROUP]
            group["contacts"] = [contacts[pk] for pk in shown if pk in contacts]
            group["more"] = len(group["ids"]) - len(shown)
        return TemplateResponse(
            request,
            "admin/leads/contact/duplicates.html",
            {
                **self.admin_site.each_context(request),
                "title": "Possible duplicates",
                "kinds": DUPLICATE_KINDS,
                "kind": kind,
                "groups": groups,
                "opts": self.model._meta,
            },
        )

    def merge_preview_view(self, request: HttpRequest, keep: int, other: int) -> HttpResponse:
        """Each field's winner before the merge; confirming calls `contact_merge`."""
        if not self.has_merge_permission(request):
            raise PermissionDenied
        survivor = get_object_or_404(Contact, pk=keep)
        merged = get_object_or_404(Contact, pk=other)
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            try:
                kept = contact_merge(
                    survivor=survivor, other=merged, by=request.user, via=Via.ADMIN
                )
            except DomainError as exc:
                _service_error(request, exc)
            else:
                messages.success(request, f"Merged contact #{other} into {kept} (#{kept.pk}).")
                return HttpResponseRedirect(reverse("admin:leads_contact_change", args=[kept.pk]))
        return TemplateResponse(
            request,
            "admin/leads/contact/merge_preview.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Merge #{other} into #{keep}",
                "survivor": survivor,
                "other": merged,
                "preview": merge_preview(survivor=survivor, other=merged)
                if keep != other
                else None,
                "opts": self.model._meta,
            },
        )


class ServiceWrittenAdmin(ServiceAdmin):
    """Rows that are written only through a service: added here, never edited in place, and
    deleted (by superusers correcting a mistake) through the service too."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    ordering = ("-occurred_at", "-id")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser


@admin.register(Touchpoint)
class TouchpointAdmin(ServiceWrittenAdmin):
    list_display = ("occurred_at", "contact", "kind", "channel", "campaign", "source")
    list_select_related = ("contact", "channel", "campaign")
    list_filter = ("kind", "channel", "campaign", "occurred_at")
    raw_id_fields = ("contact",)
    autocomplete_fields = ("channel", "campaign")
    fields = (
        "contact",
        "kind",
        "occurred_at",
        "channel",
        "campaign",
        "source",
        "external_id",
        "metadata",
    )

    def create(self, request: HttpRequest, form) -> Touchpoint:
        data = form.cleaned_data
        created, _ = touchpoint_record(
            contact=data["contact"],
            kind=data["kind"],
            occurred_at=data["occurred_at"],
            channel=data.get("channel"),
            campaign=data.get("campaign"),
            source=data.get("source") or "",
            external_id=data.get("external_id") or None,
            metadata=data.get("metadata") or {},
        )
        return created

    def remove(self, request: HttpRequest, obj: Touchpoint) -> None:
        touchpoint_delete(touch=obj)


def refunded_subquery() -> Subquery:
    """What each purchase's refunds come to (NULL without any), for the page's rows only."""
    return Subquery(
        Refund.objects.filter(purchase=OuterRef("pk"))
        .order_by()
        .values("purchase")
        .annotate(total=Sum("amount"))
        .values("total"),
        output_field=MONEY,
    )


def _money_or_dash(value: Decimal | None) -> str:
    return "—" if not value else f"{fixed(value, 2):,.2f}"


class RefundInline(ServiceInline):
    """A purchase's refunds, added through `refund_record` (Sales may); never edited, deleted
    by superusers only (`refund_delete`)."""

    model = Refund
    extra = 0
    fields = ("amount", "occurred_at", "external_id", "note", "via", "recorded_by")
    readonly_fields = ("via", "recorded_by")
    ordering = ("occurred_at", "id")
    formfield_overrides = {DecimalField: {"form_class": MoneyFormField}}

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("recorded_by")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def create(self, parent: Purchase, values: dict) -> Refund:
        refund, _ = refund_record(
            purchase=parent,
            amount=values["amount"],
            occurred_at=values["occurred_at"],
            external_id=values.get("external_id") or None,
            note=values.get("note") or "",
            by=self.request.user if self.request is not None else None,
            via=Via.ADMIN,
        )
        return refund

    def remove(self, obj: Refund) -> None:
        refund_delete(refund=obj)


@admin.register(Purchase)
class PurchaseAdmin(ServiceWrittenAdmin):
    list_display = (
        "occurred_at",
        "contact",
        "amount",
        "refunded",
        "discount",
        "coupon",
        "external_id",
    )
    list_select_related = ("contact", "coupon")
    list_filter = ("coupon", "occurred_at")
    search_fields = ("=external_id",)
    raw_id_fields = ("contact",)
    autocomplete_fields = ("coupon",)
    fields = ("contact", "amount", "discount", "occurred_at", "coupon", "external_id", "note")
    inlines = (RefundInline,)

    def get_inline_instances(self, request: HttpRequest, obj=None):
        # Refunds belong to a recorded purchase: the add page has none (and so needs no
        # formset data from a script or a form posted without it).
        return super().get_inline_instances(request, obj) if obj is not None else []

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(refunded_value=refunded_subquery())

    @admin.display(description="Refunded", ordering="refunded_value")
    def refunded(self, obj: Purchase) -> str:
        return _money_or_dash(getattr(obj, "refunded_value", None))

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Nothing of a recorded purchase changes (every field is read-only on its page); its
        # page is where its refunds are added, by whoever may add them.
        return request.user.has_perm("leads.add_refund")

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.fields if obj is not None else ()

    def update(self, request: HttpRequest, obj: Purchase, form) -> Purchase:
        return obj  # every field is read-only: only the refunds inline writes

    def create(self, request: HttpRequest, form) -> Purchase:
        data = form.cleaned_data
        created, _ = purchase_record(
            contact=data["contact"],
            amount=data["amount"],
            discount=data.get("discount") or 0,
            occurred_at=data["occurred_at"],
            coupon=data.get("coupon"),
            external_id=data.get("external_id") or None,
            note=data.get("note") or "",
            by=request.user,
            via=Via.ADMIN,
        )
        return created

    def remove(self, request: HttpRequest, obj: Purchase) -> None:
        purchase_delete(purchase=obj)


@admin.register(Refund)
class RefundAdmin(ServiceWrittenAdmin):
    """Every refund, newest first; added through `refund_record`, never edited, deleted by
    superusers only (`refund_delete`)."""

    list_display = ("occurred_at", "amount", "purchase", "contact", "external_id", "via")
    list_select_related = ("purchase__contact",)
    # The refund's time is indexed; so are the purchase (raw id) and the external id.
    list_filter = ("occurred_at",)
    search_fields = ("=external_id",)
    raw_id_fields = ("purchase",)
    fields = ("purchase", "amount", "occurred_at", "external_id", "note")

    @admin.display(description="Contact")
    def contact(self, obj: Refund) -> Contact:
        return obj.purchase.contact

    def create(self, request: HttpRequest, form) -> Refund:
        data = form.cleaned_data
        created, _ = refund_record(
            purchase=data["purchase"],
            amount=data["amount"],
            occurred_at=data["occurred_at"],
            external_id=data.get("external_id") or None,
            note=data.get("note") or "",
            by=request.user,
            via=Via.ADMIN,
        )
        return created

    def remove(self, request: HttpRequest, obj: Refund) -> None:
        refund_delete(refund=obj)


@admin.register(StageChange)
class StageChangeAdmin(SavedViewsMixin, admin.ModelAdmin):
    """The history is append-only: nobody adds, edits or deletes it here, superusers included."""

    list_display = ("at", "contact", "from_stage", "to_stage", "via", "changed_by", "forced")
    list_select_related = ("contact", "changed_by")
    list_filter = ("to_stage", "via", "forced")
    raw_id_fields = ("contact",)
    paginator = CappedCountPaginator
    show_full_result_count = False
    ordering = ("-at", "-id")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ContactMerge)
class ContactMergeAdmin(StageChangeAdmin):
    list_display = ("at", "survivor", "merged_contact_id", "merged_by", "via")
    list_select_related = ("survivor", "merged_by")
    list_filter = ("via",)
    raw_id_fields = ("survivor",)
    ordering = ("-at",)
