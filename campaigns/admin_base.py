"""Admin classes whose every write goes through a service.

Django's admin saves and deletes models itself (`save_model`, `delete_model`, `delete_queryset`,
`save_formset`); each of those hooks here calls the model admin's (or the inline's) service
instead, so a change made in the admin records history and declares what it changed exactly as
the API does. A refusal from a service is shown as a message, and nothing of the request is
kept (the admin runs each change form in a transaction).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from campaigns.errors import DomainError
from campaigns.inputs import MoneyFormField


def form_values(obj: models.Model, names: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The values a form set on `obj`, by field name (the service takes these)."""
    return {name: getattr(obj, name) for name in names}


class ServiceInline(admin.TabularInline):
    """An inline whose rows are created, changed and deleted by services. `create(parent,
    values)`, `update(obj, values)` and `remove(obj)` are given as plain functions."""

    def create(self, parent: models.Model, values: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def update(self, obj: models.Model, values: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def remove(self, obj: models.Model) -> None:
        raise NotImplementedError


class ServiceAdmin(admin.ModelAdmin):
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
