"""Domain vocabularies shared by the services, the providers, the portal and the ORM.

Plain enumerations with no database behind them, so that code which only needs the words
(a provider checking a generation type, a page showing a permission level) does not import
the storage layer. The ORM stores each as its ``value``.
"""
from __future__ import annotations

import enum

__all__ = ["parse", "GenerationType", "GenerationStatus", "ReportStatus", "Permission", "ResourceKind", "ResourceType",
           "Role", "Action", "NAMED_KINDS"]


class GenerationType(str, enum.Enum):
    IMAGE_2D = "IMAGE_2D"
    MODEL_3D = "MODEL_3D"
    ANIMATION = "ANIMATION"
    TEMPLATE = "TEMPLATE"


class GenerationStatus(str, enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class ReportStatus(str, enum.Enum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class Permission(str, enum.Enum):
    """Levels on one resource, ordered ``VIEW < COMMENT < EDIT < ADMIN``."""
    VIEW = "VIEW"
    COMMENT = "COMMENT"
    EDIT = "EDIT"
    ADMIN = "ADMIN"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Permission.VIEW: 1, Permission.COMMENT: 2, Permission.EDIT: 3, Permission.ADMIN: 4}


class ResourceKind(str, enum.Enum):
    """What can be shared, linked and discussed. Named kinds are referred to by name."""
    REPORT = "report"
    FUNNEL = "funnel"
    COHORT = "cohort"
    SEGMENT = "segment"
    PREDICTION = "prediction"
    GENERATION = "generation"
    COLLECTION = "collection"


ResourceType = ResourceKind  # the name the storage models have always used
NAMED_KINDS = frozenset({ResourceKind.FUNNEL, ResourceKind.COHORT, ResourceKind.SEGMENT, ResourceKind.COLLECTION})


class Role(str, enum.Enum):
    """A member's role in a brand."""
    ADMIN = "admin"
    MEMBER = "member"


class Action(str, enum.Enum):
    """What one may do to a resource (see :mod:`workbench.collaboration.access`)."""
    VIEW = "view"
    COMMENT = "comment"
    EDIT = "edit"
    SHARE = "share"
    DELETE = "delete"


def parse(cls, value, what: str):
    """``value`` (a member, its value in any case) as a member of enum ``cls``, or an
    InvalidInputError that names ``what`` was wrong and lists the accepted values."""
    from .errors import InvalidInputError

    if isinstance(value, cls):
        return value
    text = str(value)
    for member in cls:
        if member.value.lower() == text.lower():
            return member
    raise InvalidInputError(f"unknown {what} {value!r}; use one of {', '.join(m.value for m in cls)}")
