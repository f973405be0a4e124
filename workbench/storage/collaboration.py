"""Queries of members, shares, public links, comments and the audit log, each limited to one brand."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import Permission, ResourceKind, Role
from .models import AuditEvent, Comment, PublicLink, Share, User, utcnow
from .repositories import insert_or_get, insert_missing

__all__ = ["OWNER_NAME", "member", "members", "owner_user", "user_names", "upsert_share", "delete_share",
           "shares_of", "shares_of_user", "delete_user_shares", "copy_shares", "delete_resource_traces", "add_link", "link_by_hash", "link_by_id", "link", "links_of",
           "revoke_links", "comment", "comments_of", "comment_counts", "record", "audit_events"]

OWNER_NAME = "(owner)"  # the local owner's user row, made when it first needs one (comments, grants)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# -- members -------------------------------------------------------------------
def member(session: Session, brand_id: int, name: str, *, include_removed: bool = False) -> User | None:
    q = sa.select(User).where(User.brand_id == brand_id, User.name == name)
    if not include_removed:
        q = q.where(User.removed_at.is_(None))
    return session.scalar(q)


def members(session: Session, brand_id: int) -> list[User]:
    return list(session.scalars(sa.select(User).where(User.brand_id == brand_id, User.removed_at.is_(None),
                                                      User.name != OWNER_NAME).order_by(User.name)))


def owner_user(session: Session, brand_id: int) -> User:
    return insert_or_get(session, User, {"brand_id": brand_id, "name": OWNER_NAME},
                         {"role": Role.ADMIN.value, "created_at": utcnow()})


def user_names(session: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())


# -- shares --------------------------------------------------------------------
def upsert_share(session: Session, brand_id: int, kind: ResourceKind, resource_id: int, user_id: int,
                 level: Permission, expires_at: datetime | None, granted_by: int) -> tuple[Share, Permission | None]:
    """Grant or change one user's share; returns the row and the level it had before (None: new).
    One row per (resource, user), also when two processes grant at once."""
    keys = {"resource_type": kind, "resource_id": resource_id, "user_id": user_id}
    q = sa.select(Share).where(*(getattr(Share, k) == v for k, v in keys.items()))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    row = session.scalar(q)
    before = row.permission if row is not None else None
    if row is None:
        insert_missing(session, Share, keys, {"brand_id": brand_id, "permission": level, "expires_at": expires_at,
                                              "created_by": granted_by, "created_at": utcnow()})
        row = session.scalars(q.execution_options(populate_existing=True)).one()
    row.permission, row.expires_at, row.created_by = level, expires_at, granted_by
    session.flush()
    return row, before


def delete_share(session: Session, brand_id: int, kind: ResourceKind, resource_id: int, user_id: int) -> bool:
    return session.execute(sa.delete(Share).where(
        Share.brand_id == brand_id, Share.resource_type == kind, Share.resource_id == resource_id,
        Share.user_id == user_id)).rowcount > 0


def shares_of(session: Session, brand_id: int, kind: ResourceKind, resource_id: int) -> list[Share]:
    return list(session.scalars(sa.select(Share).where(
        Share.brand_id == brand_id, Share.resource_type == kind, Share.resource_id == resource_id)
        .order_by(Share.created_at, Share.id)))


def shares_of_user(session: Session, brand_id: int, user_id: int, *, live_only: bool = True) -> list[Share]:
    q = sa.select(Share).where(Share.brand_id == brand_id, Share.user_id == user_id)
    if live_only:
        q = q.where(sa.or_(Share.expires_at.is_(None), Share.expires_at > _now()))
    return list(session.scalars(q.order_by(Share.resource_type, Share.resource_id)))


def delete_user_shares(session: Session, brand_id: int, user_id: int) -> int:
    return session.execute(sa.delete(Share).where(Share.brand_id == brand_id, Share.user_id == user_id)).rowcount


def copy_shares(session: Session, brand_id: int, kind: ResourceKind, from_id: int, to_id: int) -> None:
    """Give resource ``to_id`` the same shares as ``from_id`` (a report re-run)."""
    for share in shares_of(session, brand_id, kind, from_id):
        insert_missing(session, Share, {"resource_type": kind, "resource_id": to_id, "user_id": share.user_id},
                       {"brand_id": brand_id, "permission": share.permission, "expires_at": share.expires_at,
                        "created_by": share.created_by, "created_at": utcnow()})


def delete_resource_traces(session: Session, brand_id: int, kind: ResourceKind, resource_id: int) -> None:
    """A deleted resource takes its shares, links and comments with it."""
    for model in (Share, PublicLink):
        session.execute(sa.delete(model).where(model.brand_id == brand_id, model.resource_type == kind,
                                               model.resource_id == resource_id))
    session.execute(sa.update(Comment).where(Comment.brand_id == brand_id, Comment.resource_type == kind,
                                             Comment.resource_id == resource_id).values(parent_id=None))
    session.execute(sa.delete(Comment).where(Comment.brand_id == brand_id, Comment.resource_type == kind,
                                             Comment.resource_id == resource_id))


# -- public links --------------------------------------------------------------
def add_link(session: Session, brand_id: int, kind: ResourceKind, resource_id: int, token_hash: str,
             created_by: int, expires_at: datetime | None) -> PublicLink:
    row = PublicLink(brand_id=brand_id, resource_type=kind, resource_id=resource_id, token_hash=token_hash,
                     created_by=created_by, expires_at=expires_at, created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def link_by_hash(session: Session, token_hash: str) -> PublicLink | None:
    """The only cross-brand lookup: a public link is found by its token's hash alone."""
    return session.scalar(sa.select(PublicLink).where(PublicLink.token_hash == token_hash))


def link_by_id(session: Session, link_id: int) -> PublicLink | None:
    """A public link by id alone (for a view already reached through its token)."""
    return session.scalar(sa.select(PublicLink).where(PublicLink.id == link_id))


def link(session: Session, brand_id: int, link_id: int) -> PublicLink | None:
    return session.scalar(sa.select(PublicLink).where(PublicLink.brand_id == brand_id, PublicLink.id == link_id))


def links_of(session: Session, brand_id: int, kind: ResourceKind | None = None, resource_id: int | None = None,
             created_by: int | None = None) -> list[PublicLink]:
    q = sa.select(PublicLink).where(PublicLink.brand_id == brand_id)
    if kind is not None:
        q = q.where(PublicLink.resource_type == kind, PublicLink.resource_id == resource_id)
    if created_by is not None:
        q = q.where(PublicLink.created_by == created_by)
    return list(session.scalars(q.order_by(PublicLink.created_at, PublicLink.id)))


# -- comments ------------------------------------------------------------------
def comment(session: Session, brand_id: int, comment_id: int) -> Comment | None:
    return session.scalar(sa.select(Comment).where(Comment.brand_id == brand_id, Comment.id == comment_id))


def comments_of(session: Session, brand_id: int, kind: ResourceKind, resource_id: int) -> list[Comment]:
    return list(session.scalars(sa.select(Comment).where(
        Comment.brand_id == brand_id, Comment.resource_type == kind, Comment.resource_id == resource_id)
        .order_by(Comment.created_at, Comment.id)))


def comment_counts(session: Session, brand_id: int, kind: ResourceKind, resource_ids) -> dict[int, tuple[int, int]]:
    """``{resource_id: (comments not deleted, open threads)}`` for the given resources."""
    ids = list(resource_ids)
    if not ids:
        return {}
    rows = session.execute(sa.select(
        Comment.resource_id,
        sa.func.count().filter(Comment.deleted_at.is_(None)),
        sa.func.count().filter(Comment.parent_id.is_(None), Comment.resolved_at.is_(None),
                               Comment.deleted_at.is_(None)))
        .where(Comment.brand_id == brand_id, Comment.resource_type == kind, Comment.resource_id.in_(ids))
        .group_by(Comment.resource_id)).all()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


# -- audit ---------------------------------------------------------------------
def record(session: Session, brand_id: int, actor_id: int | None, actor_name: str, action: str,
           kind: ResourceKind | None = None, resource_id: int | None = None, detail: dict | None = None) -> None:
    session.add(AuditEvent(brand_id=brand_id, actor_id=actor_id, actor_name=actor_name, action=action,
                           resource_type=kind.value if kind else None, resource_id=resource_id,
                           detail=detail or {}, created_at=utcnow()))


def audit_events(session: Session, brand_id: int) -> list[AuditEvent]:
    return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.brand_id == brand_id)
                                .order_by(AuditEvent.created_at, AuditEvent.id)))
