"""DomainError and its kinds. Services raise these; one handler in ``app.py`` maps them to HTTP.

Each error carries a stable ``code`` (``snake_case``, never reworded once shipped) that clients
and the browser app translate, a human message, and optional structured ``details``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "domain_error"

    def __init__(self, code: str | None = None, message: str = "", details: Any = None) -> None:
        self.code = code or self.default_code
        self.message = message or self.code.replace("_", " ")
        self.details = details
        super().__init__(f"{self.code}: {self.message}")

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(DomainError):
    status = 422
    default_code = "validation_failed"


class Unauthenticated(DomainError):
    status = 401
    default_code = "not_authenticated"


class PermissionDenied(DomainError):
    status = 403
    default_code = "permission_denied"


class NotFound(DomainError):
    status = 404
    default_code = "not_found"


class Conflict(DomainError):
    status = 409
    default_code = "conflict"


class InvalidTransition(Conflict):
    default_code = "invalid_transition"


class Throttled(DomainError):
    status = 429
    default_code = "throttled"

    def __init__(
        self,
        code: str | None = None,
        message: str = "",
        details: Any = None,
        *,
        retry_after: int = 60,
    ) -> None:
        super().__init__(code, message, details)
        self.retry_after = retry_after


class Unavailable(DomainError):
    status = 503
    default_code = "unavailable"


ERROR_KINDS: tuple[type[DomainError], ...] = (
    ValidationFailed,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    Conflict,
    InvalidTransition,
    Throttled,
    Unavailable,
)
