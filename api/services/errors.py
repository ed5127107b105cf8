"""What a service refuses, in its own terms; `api.http.errors` answers them (409, 422)."""

from __future__ import annotations


class Conflict(Exception):
    """The request is well-formed but clashes with the current state (HTTP 409)."""

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = context


class Unprocessable(Exception):
    """The request is well-formed but breaks a business rule (HTTP 422), with reasons."""

    def __init__(self, message: str, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reasons = reasons or []
