"""Admin classes whose every write goes through a service.

Django's admin saves and deletes models itself (`save_model`, `delete_model`, `delete_queryset`,
`save_formset`); each of those hooks here calls the model admin's (or the inline's) service
instead, so a change made in the admin records history and declares what it changed exactly as
the API does. A refusal from a service is shown as a message, and nothing of the request is
kept (the admin runs each change form in a transaction).
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR, IncorrectLookupParameters
from django.contrib.admin.utils import label_for_field, lookup_field
from django.contrib.admin.views.main import ORDER_VAR, SEARCH_VAR
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist, PermissionDenied
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import strip_tags
from django.utils.text import capfirst
from django.views.decorators.http import require_POST

from accounts.selectors import saved_views_for
from accounts.services import (
    VIEW_NAME_MAX_LENGTH,
    VIEW_QUERY_MAX_LENGTH,
    saved_view_delete,
    saved_view_query,
    saved_view_save,
)
from campaigns.csvcells import cell
from campaigns.errors import DomainError
from campaigns.inputs import MoneyFormField


def form_values(obj: models.Model, names: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The values a form set on `obj`, by field name (the service takes these)."""
    return {name: getattr(obj, name) for name in names}


class ServiceInline(admin.TabularInline):
    """An inline whose rows are created, changed and deleted by services. `create(parent,
    values)`, `update(obj, values)` and `remove(obj)` are given as plain functions; `request`
    is the request being saved (set by `ServiceAdmin.save_formset`), for a service that records
    who made the change."""

    request: HttpRequest | None = None

    def create(self, parent: models.Model, values: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def update(self, obj: models.Model, values: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def remove(self, obj: models.Model) -> None:
        raise NotImplementedError


class SaveViewForm(forms.Form):
    name = forms.CharField(max_length=VIEW_NAME_MAX_LENGTH, label="Name this view")
    shared = forms.BooleanField(required=False, label="Share with everyone who may read this list")
    # The list's query string, as the page was shown; checked by `saved_view_query`.
    query = forms.CharField(
        required=False, max_length=VIEW_QUERY_MAX_LENGTH, widget=forms.HiddenInput
    )


EXPORT_CHUNK = 2000


class _Echo:
    """A file for csv.writer that hands each line back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def _export_value(model_admin, name: str, obj: models.Model) -> object:
    """A list column's value as text for CSV: what the page shows, without its HTML."""
    try:
        field, _, value = lookup_field(name, obj, model_admin)
    except (AttributeError, ObjectDoesNotExist):
        return ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field is not None and getattr(field, "flatchoices", None):
        return dict(field.flatchoices).get(value, value)
    if isinstance(value, dt.datetime):
        return (
            timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
        )
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return value
    return strip_tags(str(value))


class SavedViewsMixin:
    """ "My views" on a changelist: its filters, search and sort saved under a name
    (`accounts.services.saved_view_save`), picked from a list above the results (one's own,
    and those others shared), deleted by their owner. A list's own parameters only: its
    search, its sort, and the lookups its filters (or `lookup_allowed`) accept."""

    change_list_template = "admin/saved_views/change_list.html"

    def _model_label(self) -> str:
        return self.model._meta.label_lower

    def _changelist_url(self) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")

    def saved_view_param_allowed(self, request: HttpRequest, key: str, value: str) -> bool:
        """Whether the changelist takes `key`: its search (when it has one), its sort, the
        facet switch, a filter's own parameter, or a lookup on a field of the model that the
        admin allows."""
        if key == SEARCH_VAR:
            return bool(self.get_search_fields(request))
        if key in (ORDER_VAR, "_facets"):
            return True
        simple = {
            f.parameter_name
            for f in self.get_list_filter(request)
            if isinstance(f, type) and issubclass(f, admin.SimpleListFilter)
        }
        if key in simple:
            return True
        try:
            self.model._meta.get_field(key.split("__")[0])
        except FieldDoesNotExist:
            return False
        return self.lookup_allowed(key, value, request)

    def _checked_query(self, request: HttpRequest, query: str) -> str:
        return saved_view_query(
            query,
            param_allowed=lambda key, value: self.saved_view_param_allowed(request, key, value),
        )

    def get_urls(self):
        opts = self.model._meta
        own = [
            path(
                "saved-views/",
                self.admin_site.admin_view(self.save_view_view),
                name=f"{opts.app_label}_{opts.model_name}_save_view",
            ),
            path(
                "saved-views/<int:view_id>/delete/",
                self.admin_site.admin_view(self.delete_view_view),
                name=f"{opts.app_label}_{opts.model_name}_delete_view",
            ),
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_csv_view),
                name=f"{opts.app_label}_{opts.model_name}_export_csv",
            ),
        ]
        return own + super().get_urls()

    def export_csv_view(self, request: HttpRequest) -> HttpResponse:
        """The list as filtered, searched and sorted on the page (its query string), every row
        (not one page), its columns as shown, streamed as CSV."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            messages.error(request, "Those filters do not read; nothing exported.")
            return HttpResponseRedirect(self._changelist_url())
        names = [name for name in changelist.list_display if name != "action_checkbox"]
        header = [
            capfirst(strip_tags(str(label_for_field(name, self.model, self))).strip())
            for name in names
        ]
        rows = changelist.queryset.iterator(chunk_size=EXPORT_CHUNK)

        def lines():
            out = _Echo()
            writer = csv.writer(out)
            yield "\ufeff" + writer.writerow([cell(name) for name in header])
            for obj in rows:
                yield writer.writerow([cell(_export_value(self, name, obj)) for name in names])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        name = self.model._meta.verbose_name_plural.replace(" ", "-")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if IS_POPUP_VAR not in request.GET and self.has_view_or_change_permission(request):
            here = self._query_here(request)
            base = self._changelist_url()
            views = [
                {
                    "view": view,
                    "url": f"{base}?{view.query}" if view.query else base,
                    "own": view.user_id == request.user.pk,
                    "current": here is not None and view.query == here,
                }
                for view in saved_views_for(user=request.user, model_label=self._model_label())
            ]
            extra_context = {
                **(extra_context or {}),
                "saved_views": views,
                "save_view_form": SaveViewForm(initial={"query": here or ""}),
            }
        return super().changelist_view(request, extra_context)

    def _query_here(self, request: HttpRequest) -> str | None:
        """This page's filters as a view would keep them; None when they cannot be kept."""
        try:
            return self._checked_query(request, request.GET.urlencode())
        except DomainError:
            return None

    @staticmethod
    def _back(request: HttpRequest, url: str, query: str) -> HttpResponseRedirect:
        return HttpResponseRedirect(f"{url}?{query}" if query else url)

    @method_decorator(require_POST)
    def save_view_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        form = SaveViewForm(request.POST)
        if form.is_valid():
            try:
                view, created = saved_view_save(
                    user=request.user,
                    model_label=self._model_label(),
                    name=form.cleaned_data["name"],
                    query=form.cleaned_data["query"],
                    shared=form.cleaned_data["shared"],
                    param_allowed=lambda key, value: self.saved_view_param_allowed(
                        request, key, value
                    ),
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                verb = "Saved" if created else "Updated"
                messages.success(request, f"{verb} the view \u201c{view.name}\u201d.")
                return self._back(request, self._changelist_url(), view.query)
        return TemplateResponse(
            request,
            "admin/saved_views/save.html",
            {
                **self.admin_site.each_context(request),
                "title": "Save this view",
                "form": form,
                "opts": self.model._meta,
                "changelist_url": self._changelist_url(),
            },
            status=400,
        )

    @method_decorator(require_POST)
    def delete_view_view(self, request: HttpRequest, view_id: int) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            view = saved_view_delete(
                user=request.user, view_id=view_id, model_label=self._model_label()
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Deleted the view \u201c{view.name}\u201d.")
        try:
            back = self._checked_query(request, request.POST.get("query", ""))
        except DomainError:
            back = ""
        return self._back(request, self._changelist_url(), back)


class ServiceAdmin(SavedViewsMixin, admin.ModelAdmin):
    """A model admin whose add, change, delete, bulk delete and inline rows call services.

    Subclasses implement `create(request, form)`, `update(request, obj, form)` and
    `remove(request, obj)`; inlines are `ServiceInline`s. Amounts are the API's plain decimals."""

    formfield_overrides = {models.DecimalField: {"form_class": MoneyFormField}}

    class Media:
        # Accessible names the admin leaves out (autocompletes, inline fields, the search box)
        # and links underlined: axe-core finds no violation (tests/reports/test_browser_axe.py).
        css = {"all": ("campaigns/admin-a11y.css", "campaigns/admin.css")}
        js = ("campaigns/admin-a11y.js",)

    def create(self, request: HttpRequest, form) -> models.Model:
        raise NotImplementedError

    def update(self, request: HttpRequest, obj: models.Model, form) -> models.Model:
        raise NotImplementedError

    def remove(self, request: HttpRequest, obj: models.Model) -> None:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: models.Model, form, change: bool) -> None:
        if change:
            self.update(request, obj, form)
            return
        created = self.create(request, form)
        # The admin goes on with `obj` (inlines, the log entry, the redirect): make it the row.
        obj.pk = created.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        self.remove(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        with transaction.atomic():
            for obj in queryset:
                self.remove(request, obj)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        formset.save(commit=False)
        if not (formset.new_objects or formset.changed_objects or formset.deleted_objects):
            return  # read-only inlines, or nothing changed
        inline = next(
            (
                i
                for i in self.get_inline_instances(request, form.instance)
                if i.model is formset.model
            ),
            None,
        )
        if not isinstance(inline, ServiceInline):
            raise TypeError(f"{formset.model.__name__} rows must be written by a ServiceInline")
        inline.request = request
        with transaction.atomic():
            for obj in formset.deleted_objects:
                inline.remove(obj)
            names = [
                n for n in formset.form.base_fields if n not in ("id", "DELETE", formset.fk.name)
            ]
            for obj in formset.new_objects:
                inline.create(form.instance, form_values(obj, names))
            for obj, changed in formset.changed_objects:
                inline.update(obj, form_values(obj, changed))

    def changeform_view(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return super().changeform_view(request, *args, **kwargs)
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return super().delete_view(request, *args, **kwargs)
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(request.get_full_path())

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        try:
            with transaction.atomic():
                return super().changelist_view(request, extra_context)
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(request.get_full_path())
