"""Resources and who may see them: the one place where brand and permission filters are written.

A resource is ``(kind, ref)``: a report, prediction or generation by its integer id, a
funnel, cohort, segment or collection by its name (or id). Every lookup here is limited to
one brand, and an unknown ref and another brand's ref fail with the same words, so that a
brand's resources cannot be probed from another.

The level a user holds on a resource (``ADMIN`` as brand admin or owner, else the highest
live share) and the filter that limits lists to what an actor may view are both computed
here, so that no service writes its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import NAMED_KINDS, Permission, ResourceKind, parse
from ..errors import NotFoundError
from .models import (CohortDefinition, Collection, FunnelDefinition, Generation, Prediction, Report,
                     SegmentDefinition, Share)

__all__ = ["ResourceSpec", "RESOURCES", "resource_kind", "resolve", "find", "owner_id", "share_level",
           "visible", "title_of", "not_found"]


@dataclass(frozen=True)
class ResourceSpec:
    model: type
    owner: str           # column holding the owning user's id
    name: str | None     # column holding the name, for named kinds


RESOURCES: dict[ResourceKind, ResourceSpec] = {
    ResourceKind.REPORT: ResourceSpec(Report, "created_by", None),
    ResourceKind.FUNNEL: ResourceSpec(FunnelDefinition, "created_by", "name"),
    ResourceKind.COHORT: ResourceSpec(CohortDefinition, "created_by", "name"),
    ResourceKind.SEGMENT: ResourceSpec(SegmentDefinition, "created_by", "name"),
    ResourceKind.PREDICTION: ResourceSpec(Prediction, "created_by", None),
    ResourceKind.GENERATION: ResourceSpec(Generation, "author_id", None),
    ResourceKind.COLLECTION: ResourceSpec(Collection, "created_by", "name"),
}


def resource_kind(kind) -> ResourceKind:
    """``kind`` as a ResourceKind, or an InvalidInputError listing the kinds."""
    return parse(ResourceKind, kind, "resource kind")


def not_found(kind: ResourceKind, ref) -> NotFoundError:
    """The one wording for a resource that is unknown, or another brand's."""
    return NotFoundError(f"no {kind.value} {ref!r} in this brand")


def find(session: Session, brand_id: int, kind: ResourceKind, ref):
    """The brand's resource row, or None (never another brand's)."""
    spec = RESOURCES[kind]
    model = spec.model
    if kind in NAMED_KINDS and isinstance(ref, str):
        col = getattr(model, spec.name)
    else:
        if isinstance(ref, bool):
            return None
        try:
            ref = int(ref)
        except (TypeError, ValueError):
            return None
        col = model.id
    return session.scalar(sa.select(model).where(model.brand_id == brand_id, col == ref))


def resolve(session: Session, brand_id: int, kind, ref):
    """Like :func:`find`, raising the uniform NotFoundError when there is no such resource."""
    kind = resource_kind(kind)
    row = find(session, brand_id, kind, ref)
    if row is None:
        raise not_found(kind, ref)
    return row


def owner_id(kind: ResourceKind, row) -> int | None:
    return getattr(row, RESOURCES[kind].owner)


def title_of(kind: ResourceKind, row) -> str:
    """A short human title of a resource (never its owner or parameters)."""
    if kind in NAMED_KINDS:
        return row.name
    if kind == ResourceKind.REPORT:
        return f"{row.name} report #{row.id}"
    if kind == ResourceKind.PREDICTION:
        return f"{row.metric} forecast #{row.id}"
    return f"{row.type.value.lower()} #{row.id}: {row.prompt[:60]}"


def _live(now: datetime):
    return sa.or_(Share.expires_at.is_(None), Share.expires_at > now)


def share_level(session: Session, brand_id: int, kind: ResourceKind, resource_id: int, user_id: int
                ) -> tuple[Permission | None, datetime | None]:
    """The user's live share on a resource: (level, expires_at), or (None, None)."""
    row = session.execute(sa.select(Share.permission, Share.expires_at).where(
        Share.brand_id == brand_id, Share.resource_type == kind, Share.resource_id == resource_id,
        Share.user_id == user_id, _live(datetime.now(timezone.utc)))).first()
    return (row[0], row[1]) if row else (None, None)


def visible(kind: ResourceKind, brand_id: int, actor) -> sa.ColumnElement[bool]:
    """A WHERE clause on the kind's model: this brand's rows that ``actor`` may view
    (all of them for a brand admin; otherwise the actor's own and those shared with them)."""
    spec = RESOURCES[kind]
    model = spec.model
    clause = model.brand_id == brand_id
    if actor.is_admin:
        return clause
    shared = sa.select(Share.resource_id).where(
        Share.brand_id == brand_id, Share.resource_type == kind, Share.user_id == actor.user_id,
        _live(datetime.now(timezone.utc)))
    return sa.and_(clause, sa.or_(getattr(model, spec.owner) == actor.user_id, model.id.in_(shared)))
