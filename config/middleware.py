"""Refusals made before any view runs, for every page and endpoint alike."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from campaigns.inputs import unstorable
from config.api import not_found

TOO_LARGE = "The request body is larger than {limit} bytes."


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


class RefuseUnstorableInput:
    """A NUL character (or any text the database cannot store) in the path or the query string
    is refused here, once: every filter, search box, admin changelist filter and path lookup
    would otherwise hand it to PostgreSQL, which answers "A string literal cannot contain NUL"
    with a 500. A path naming such a thing names nothing (404); a parameter is bad input (400,
    naming the parameter)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if unstorable(request.path_info):
            return not_found(request)
        errors = {
            name: [message]
            for name, values in request.GET.lists()
            for message in [unstorable(name) or next(filter(None, map(unstorable, values)), None)]
            if message
        }
        if errors:
            if is_api(request):
                return JsonResponse(
                    {name.replace("\x00", "\\x00"): e for name, e in errors.items()}, status=400
                )
            return HttpResponseBadRequest(
                "Bad request: a parameter contains a character that cannot be stored (NUL).",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


class ApiBodyLimit:
    """Under /api/, a body over DATA_UPLOAD_MAX_MEMORY_SIZE is answered 413 in JSON, as the
    schema documents, before anything reads it (Django's own check answers an HTML 400)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and is_api(request):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return too_large()
        return self.get_response(request)


def too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse({"detail": TOO_LARGE.format(limit=limit)}, status=413)
