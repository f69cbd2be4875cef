"""Domain errors, shared by every app's services and mapped to HTTP once (see the API layer)."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the request. `field` names the input at fault, when there is one."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, list[str]]:
        return {self.field or "non_field_errors": [self.message]}


class InvalidInput(DomainError):
    """The input does not name something that exists or is malformed for the rule."""


class NotPermitted(DomainError):
    status_code = 403


class Conflict(DomainError):
    """The request conflicts with what is stored: a refused stage move, an id reused."""

    status_code = 409


class StageMoveRefused(Conflict):
    pass


class CouponRefused(DomainError):
    pass


class IdempotencyConflict(Conflict):
    """The same `external_id` arrived again with different content."""
