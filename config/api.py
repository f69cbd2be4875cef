"""What every API endpoint shares: errors, permissions per role, pagination, throttling."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response

from campaigns.errors import DomainError

log = logging.getLogger(__name__)
MAX_PAGE_SIZE = 500


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Domain errors become 400/403/409 with field messages; nothing a client sends is a 500."""
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, IntegrityError):
        # A constraint caught what validation did not (usually a race): a conflict, not a crash.
        log.warning("integrity error answered as 409: %s", exc)
        return Response(
            {"non_field_errors": ["The request conflicts with stored data; nothing was written."]},
            status=status.HTTP_409_CONFLICT,
        )
    # Imported here: rest_framework.views imports the settings that name this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    return drf_exception_handler(exc, context)


def validation_error(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


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
