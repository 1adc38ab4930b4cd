"""Errors the domain raises; the web layer turns each into one HTTP status."""
from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domain makes."""

    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The record does not exist, or is outside the user's view."""

    code = "not_found"


class Forbidden(DomainError):
    """The user's role does not allow the action."""

    code = "forbidden"


class Conflict(DomainError):
    """The action clashes with the current state (duplicate, illegal transition)."""

    code = "conflict"


class ValidationFailed(DomainError):
    """Input broke one or more rules; ``errors`` maps each field to what is wrong."""

    code = "validation_failed"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {msg}" for field, msg in errors.items()))
        self.errors = errors
