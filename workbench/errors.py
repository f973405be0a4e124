"""One error hierarchy. Every error says what was wrong and what to do."""
from __future__ import annotations

__all__ = [
    "WorkbenchError",
    "InvalidInputError",
    "MissingColumnsError",
    "NotFoundError",
    "LinkExpiredError",
    "AlreadyExistsError",
    "PermissionDeniedError",
    "InsufficientDataError",
    "BudgetExceededError",
    "QuotaExceededError",
    "ProviderError",
    "TransientProviderError",
    "PermanentProviderError",
    "StorageError",
    "invalid_input",
    "is_transient",
]


def invalid_input(exc, what: str) -> "InvalidInputError":
    """An InvalidInputError naming every field pydantic refused (``exc``: a ValidationError)."""
    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
    return InvalidInputError(f"invalid {what}: {problems}")


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""


class InvalidInputError(WorkbenchError, ValueError):
    """An argument or a record is not acceptable; the message names it."""


class MissingColumnsError(InvalidInputError):
    """An events table lacks columns an analysis needs."""

    def __init__(self, missing: list[str], available: list[str]):
        self.missing = list(missing)
        self.available = list(available)
        super().__init__(
            f"events are missing column(s) {', '.join(map(repr, missing))}; "
            f"available columns: {', '.join(available) or '(none)'}. "
            "Rename them or pass the column names by keyword (user_col=..., event_col=..., ts_col=...)."
        )


class NotFoundError(WorkbenchError, LookupError):
    """A named resource does not exist (or is not visible to this brand)."""


class LinkExpiredError(NotFoundError):
    """A public link whose time is up (a NotFoundError, so callers may treat both alike)."""


class AlreadyExistsError(WorkbenchError):
    """A resource with that name already exists."""


class PermissionDeniedError(WorkbenchError, PermissionError):
    """The acting user lacks the permission an action needs."""


class InsufficientDataError(InvalidInputError):
    """Too little (or degenerate) data for the requested computation."""


class BudgetExceededError(WorkbenchError):
    """Accepting the request would overspend the brand's monthly budget."""


class QuotaExceededError(WorkbenchError):
    """Accepting the request would exceed the brand's monthly generation quota."""


class ProviderError(WorkbenchError):
    """A generation provider failed."""


class TransientProviderError(ProviderError):
    """A failure worth retrying (rate limit, 5xx, timeout)."""


class PermanentProviderError(ProviderError):
    """A failure that retrying cannot fix (bad request, content rejected)."""


class StorageError(WorkbenchError):
    """The application database or the event store cannot be used as configured."""


def is_transient(exc: BaseException) -> bool:
    """Whether retrying could help: a provider's transient failure, a timeout, a dropped
    connection, or the database being busy or unreachable. Bad input, missing data and
    every other deliberate error are deterministic: running again gives the same answer."""
    if isinstance(exc, TransientProviderError):
        return True
    if isinstance(exc, WorkbenchError):
        return False
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    try:
        from sqlalchemy.exc import DBAPIError, OperationalError
    except ImportError:  # pragma: no cover - sqlalchemy is a core dependency
        return False
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
