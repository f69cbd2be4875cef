"""What every API endpoint shares: errors, permissions per role, pagination, throttling."""

from __future__ import annotations

import logging
import re
from typing import Any

import django_filters
from django import forms
from django.core.cache import cache as default_cache
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.views import defaults
from rest_framework import parsers, permissions, status
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.pagination import Cursor, CursorPagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from campaigns.errors import DomainError

log = logging.getLogger(__name__)
MAX_PAGE_SIZE = 500
MAX_ID = 2**63 - 1
ID_TEXT = re.compile(r"[0-9]{1,19}")
MAX_NESTING = 32
NESTED_TOO_DEEP = f"JSON parse error - nested deeper than {MAX_NESTING} levels."


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Domain errors become 400/403/409 with field messages; nothing a client sends is a 500."""
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        from config.middleware import too_large

        return too_large()
    if isinstance(exc, IntegrityError):
        # A constraint caught what validation did not (usually a race): a conflict, not a crash.
        # The constraint's name only: the database's message can quote the row's values (an
        # email), and personal data stays out of the logs (docs/security.md).
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        log.warning("integrity error answered as 409 (constraint %s)", constraint or "?")
        return Response(
            {"non_field_errors": ["The request conflicts with stored data; nothing was written."]},
            status=status.HTTP_409_CONFLICT,
        )
    # Imported here: rest_framework.views imports the settings that name this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    return drf_exception_handler(exc, context)


class JSONParser(parsers.JSONParser):
    """JSON nested deeper than MAX_NESTING levels is bad input (400), not a RecursionError
    somewhere in validation (500): no field of the API nests that deep."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(NESTED_TOO_DEEP) from None
        if nesting(data) > MAX_NESTING:
            raise ParseError(NESTED_TOO_DEEP)
        return data


def nesting(data: Any) -> int:
    """How deep arrays and objects nest in `data` (a scalar is 0), without recursion."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        item, depth = todo.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
        todo.extend((child, depth + 1) for child in children)
    return deepest


def validation_error(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


class AtomicWritesMixin:
    """Each model write in its own savepoint: a constraint that fires leaves the connection usable
    (and the request answered 409 by the handler above) instead of poisoning the transaction."""

    def perform_create(self, serializer) -> None:
        with transaction.atomic():
            super().perform_create(serializer)

    def perform_update(self, serializer) -> None:
        with transaction.atomic():
            super().perform_update(serializer)

    def perform_destroy(self, instance) -> None:
        with transaction.atomic():
            super().perform_destroy(instance)


class RolePermissions(permissions.DjangoModelPermissions):
    """Model permissions of the role groups, reads included: GET needs `view_<model>`."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


def require(user, *perms: str) -> bool:
    return bool(user and user.is_authenticated and user.has_perms(perms))


class PagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


class NewestFirstCursor(CursorPagination):
    """Cursor pages on the primary key: a deep page costs what the first one costs."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def decode_cursor(self, request: Request) -> Cursor | None:
        """A cursor is ours only when its position is an id: a forged one (`p=abc`, a huge
        number) would otherwise reach the query as a filter on the id and fail there."""
        cursor = super().decode_cursor(request)
        position = cursor.position if cursor is not None else None
        if position is not None and not (
            ID_TEXT.fullmatch(position) and 0 <= int(position) <= MAX_ID
        ):
            raise NotFound(self.invalid_cursor_message)
        return cursor


# Throttle histories while the shared cache is away: per process (a client may then get a few
# times its rate across the web processes, instead of no limit at all or no answer at all).
_LOCAL_THROTTLE_CACHE = LocMemCache("api-throttle-fallback", {"OPTIONS": {"MAX_ENTRIES": 10_000}})


class UserThrottle(UserRateThrottle):
    """The per-user rate, counted in the shared cache, or in this process while it is away
    (`config.cache.FailOpenRedisCache.available`)."""

    @property
    def cache(self):  # type: ignore[override]
        return default_cache if getattr(default_cache, "available", True) else _LOCAL_THROTTLE_CACHE


ERROR_RESPONSES = {
    "400": "Bad input: field names map to lists of messages.",
    "401": "No or bad credentials.",
    "403": "The role does not allow this.",
    "404": "No such object (or page).",
    "409": "Conflicts with stored data: a refused stage move, an external_id reused with other content.",
    "413": "The request body is too large.",
    "429": "Too many requests: slow down and retry later.",
}


def add_error_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: document the error answers every operation may give."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = {
        "type": "object",
        "description": 'Either {"detail": message} or {field: [messages]}.',
        "additionalProperties": {},
        "example": {"amount": ["Ensure this value is greater than or equal to 0.01."]},
    }
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_RESPONSES.items():
                responses.setdefault(code, {"description": description, "content": ref})
    return result


def not_found(request, exception=None):
    """404 as JSON under /api/ (what the schema documents), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error; it has been logged."}, status=500)
    return defaults.server_error(request)


class IdFilter(django_filters.NumberFilter):
    """A filter on a row id: whole numbers in the database's range (else a 400, never a 500)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)
