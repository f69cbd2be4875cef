"""API keys in the admin: listed without their secret, created with the key shown once,
revoked (never deleted: a revoked key stays listed with its last use)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest
from rest_framework_api_key import admin as library_admin
from rest_framework_api_key.models import APIKey

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke, api_key_update
from campaigns.admin_base import ServiceAdmin

# The library registers its own (unused) key model; ours is the one with a user.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)
del library_admin


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceAdmin):
    list_display = (
        "name",
        "prefix",
        "user",
        "created",
        "expiry_date",
        "last_used_at",
        "revoked",
    )
    list_select_related = ("user",)
    list_filter = ("revoked", "created")
    search_fields = ("name", "prefix", "user__username")
    raw_id_fields = ("user",)
    show_full_result_count = False
    actions = ("revoke_keys",)

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ("user", "name", "expiry_date")
        return ("name", "prefix", "user", "created", "expiry_date", "last_used_at", "revoked")

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ()
        fixed = ("prefix", "user", "created", "last_used_at")
        return (*fixed, "name", "expiry_date", "revoked") if obj.revoked else fixed

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # revoke instead: the row keeps who used the key and when

    def create(self, request: HttpRequest, form) -> ApiKey:
        data = form.cleaned_data
        api_key, raw_key = api_key_create(
            user=data["user"], name=data["name"], expires_at=data.get("expiry_date")
        )
        # Shown this once (the way the library's own admin does); only its hash is stored.
        messages.warning(
            request,
            f"The API key for {api_key.name} is {raw_key} . Copy it now: it is not stored "
            "and cannot be shown again.",
        )
        return api_key

    def update(self, request: HttpRequest, obj: ApiKey, form) -> ApiKey:
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        return api_key_update(api_key=obj, **changed)

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset) -> None:
        count = 0
        for api_key in queryset.filter(revoked=False):
            api_key_revoke(api_key=api_key)
            count += 1
        messages.success(request, f"Revoked {count} key(s).")
