"""Queries of generations and collections, limited to one brand (and to what an actor may view).

The claim/heartbeat/finish queries of the runner live with their protocol in
:mod:`workbench.studio.runner`.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import GenerationStatus, GenerationType, ResourceKind
from .models import Collection, CollectionItem, Generation, utcnow
from .repositories import insert_or_get
from .resources import visible

__all__ = ["next_version", "add", "listed", "family", "collections", "collection_generation_ids", "add_item",
           "remove_item"]


def next_version(session: Session, root_id: int) -> int:
    """The next version number of a family, with the root row locked so that concurrent new
    versions are numbered one after the other (PostgreSQL; SQLite write sessions are serial)."""
    session.execute(sa.select(Generation.id).where(Generation.id == root_id).with_for_update())
    return 1 + session.scalar(sa.select(sa.func.max(Generation.version)).where(
        sa.or_(Generation.root_id == root_id, Generation.id == root_id)))


def add(session: Session, **fields) -> Generation:
    gen = Generation(status=GenerationStatus.PENDING, created_at=utcnow(), **fields)
    session.add(gen)
    session.flush()
    return gen


def listed(session: Session, brand_id: int, actor, *, status: GenerationStatus | None = None,
           type: GenerationType | None = None) -> list[Generation]:
    q = sa.select(Generation).where(visible(ResourceKind.GENERATION, brand_id, actor))
    if status:
        q = q.where(Generation.status == status)
    if type:
        q = q.where(Generation.type == type)
    return list(session.scalars(q.order_by(Generation.id)))


def family(session: Session, brand_id: int, actor, root_id: int) -> list[Generation]:
    """The versions of one family that ``actor`` may view, oldest first."""
    return list(session.scalars(sa.select(Generation).where(
        visible(ResourceKind.GENERATION, brand_id, actor),
        sa.or_(Generation.id == root_id, Generation.root_id == root_id)).order_by(Generation.version)))


def collections(session: Session, brand_id: int, actor) -> list[tuple[int, str, int]]:
    """(id, name, number of generations) of the collections ``actor`` may view."""
    return [tuple(r) for r in session.execute(
        sa.select(Collection.id, Collection.name, sa.func.count(CollectionItem.generation_id))
        .outerjoin(CollectionItem, CollectionItem.collection_id == Collection.id)
        .where(visible(ResourceKind.COLLECTION, brand_id, actor))
        .group_by(Collection.id, Collection.name).order_by(Collection.name)).all()]


def collection_generation_ids(session: Session, collection_id: int) -> list[int]:
    return list(session.scalars(sa.select(CollectionItem.generation_id)
                                .where(CollectionItem.collection_id == collection_id)
                                .order_by(CollectionItem.generation_id)))


def collection_items(session: Session, brand_id: int, collection_id: int) -> list[Generation]:
    return list(session.scalars(sa.select(Generation).join(CollectionItem, CollectionItem.generation_id == Generation.id)
                                .where(CollectionItem.collection_id == collection_id, Generation.brand_id == brand_id)
                                .order_by(Generation.id)))


def add_item(session: Session, collection_id: int, generation_id: int) -> None:
    insert_or_get(session, CollectionItem, {"collection_id": collection_id, "generation_id": generation_id},
                  {"added_at": utcnow()})


def remove_item(session: Session, collection_id: int, generation_id: int) -> None:
    session.execute(sa.delete(CollectionItem).where(CollectionItem.collection_id == collection_id,
                                                    CollectionItem.generation_id == generation_id))
