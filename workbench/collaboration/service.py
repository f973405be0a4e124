"""Shares, public links, threaded comments and the audit log of one brand (``acme.collab``).

Every method resolves its resource in this brand and asks :func:`~.access.authorize` first;
an unknown ref and another brand's read the same. Changes to access (grants, revocations,
links) and deletions are written to the audit log in the same transaction.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd

from ..domain import NAMED_KINDS, Action, Permission, ResourceKind, parse
from ..errors import InvalidInputError, NotFoundError, PermissionDeniedError
from ..storage import collaboration as crepo
from ..storage import resources
from ..storage.models import Comment, utcnow
from . import access
from .links import LinkToken, hash_token, new_token

__all__ = ["Collab", "MAX_COMMENT", "acting_user_id"]

MAX_COMMENT = 10_000


def acting_user_id(session, ctx) -> int:
    """The acting user's row id (the local owner gets one the first time it needs it)."""
    return ctx.actor.user_id if ctx.actor.user_id is not None else crepo.owner_user(session, ctx.brand_id).id


def _level(value) -> Permission:
    return parse(Permission, value, "level")


def _expiry(value) -> datetime | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InvalidInputError(f"expires_at {value!r} is not a date and time") from None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts <= pd.Timestamp.now(tz="UTC"):
        raise InvalidInputError(f"expires_at {ts.isoformat()} is in the past")
    return ts.to_pydatetime()


def _body(body) -> str:
    if not isinstance(body, str):
        raise InvalidInputError("a comment body is text")
    text = body.strip()
    if not text:
        raise InvalidInputError("a comment needs a body: it is empty after stripping whitespace")
    if len(text) > MAX_COMMENT:
        raise InvalidInputError(f"a comment is at most {MAX_COMMENT:,} characters; this one has {len(text):,}")
    return text


def _ref(kind: ResourceKind, row):
    return row.name if kind in NAMED_KINDS else row.id


class Collab:
    """Collaboration on the brand's resources, as the scope's acting user."""

    def __init__(self, ctx):
        self.ctx = ctx

    def _record(self, s, action: str, kind=None, resource_id=None, **detail) -> None:
        crepo.record(s, self.ctx.brand_id, self.ctx.actor.user_id, self.ctx.actor.name, action, kind,
                     resource_id, detail)

    # -- the rule --------------------------------------------------------------
    def can(self, action, kind, ref) -> bool:
        """Whether the acting user may ``action`` (view, comment, edit, share, delete) the resource."""
        with self.ctx.db.session() as s:
            return access.can(s, self.ctx, action, kind, ref)

    def allowed(self, kind, ref) -> dict[str, bool]:
        """Every action at once: ``{"view": ..., "comment": ..., "edit": ..., "share": ...,
        "delete": ...}`` for the acting user (one lookup; NotFoundError if unknown)."""
        with self.ctx.db.session() as s:
            kind = resources.resource_kind(kind)
            row = resources.resolve(s, self.ctx.brand_id, kind, ref)
            got = access.access_of(s, self.ctx, kind, row)
            return {a.value: access.allows(got, a) for a in Action}

    def discussion(self, kind, ref) -> tuple[object, dict[str, bool], list[dict]]:
        """What a page about one resource needs, in one transaction: the resource row (needs
        VIEW), what the acting user may do to it (:meth:`allowed`), and its thread (:meth:`thread`)."""
        with self.ctx.db.session() as s:
            kind = resources.resource_kind(kind)
            row, got = access.checked(s, self.ctx, Action.VIEW, kind, ref)
            allowed = {a.value: access.allows(got, a) for a in Action}
            return row, allowed, self._thread(s, kind, row)

    def level(self, kind, ref) -> str | None:
        """The acting user's level on the resource (``VIEW`` ... ``ADMIN``), or None."""
        with self.ctx.db.session() as s:
            kind = resources.resource_kind(kind)
            row = resources.resolve(s, self.ctx.brand_id, kind, ref)
            got = access.access_of(s, self.ctx, kind, row).level
            return got.value if got else None

    # -- shares ----------------------------------------------------------------
    def share(self, kind, ref, user: str, level, *, expires_at=None) -> None:
        """Grant ``user`` (a member of this brand) ``level`` on the resource, or change it."""
        level, expiry = _level(level), _expiry(expires_at)
        with self.ctx.db.session(write=True) as s:
            kind = resources.resource_kind(kind)
            row = access.authorize(s, self.ctx, Action.SHARE, kind, ref)
            own = access.access_of(s, self.ctx, kind, row).level
            if level.rank > own.rank:
                raise PermissionDeniedError(f"cannot grant {level.value}: above your own level {own.value}")
            target = crepo.member(s, self.ctx.brand_id, user) if isinstance(user, str) else None
            if target is None or target.name == crepo.OWNER_NAME:
                raise NotFoundError(f"no member {user!r} in brand {self.ctx.brand!r}")
            _, before = crepo.upsert_share(s, self.ctx.brand_id, kind, row.id, target.id, level, expiry,
                                           acting_user_id(s, self.ctx))
            self._record(s, "share.grant" if before is None else "share.change", kind, row.id, user=user,
                         level=level.value, previous=before.value if before else None,
                         expires_at=expiry.isoformat() if expiry else None)

    def unshare(self, kind, ref, user: str) -> bool:
        """Revoke ``user``'s share on the resource; False when they had none."""
        with self.ctx.db.session(write=True) as s:
            kind = resources.resource_kind(kind)
            row = access.authorize(s, self.ctx, Action.SHARE, kind, ref)
            target = crepo.member(s, self.ctx.brand_id, user, include_removed=True) if isinstance(user, str) else None
            if target is None:
                raise NotFoundError(f"no member {user!r} in brand {self.ctx.brand!r}")
            done = crepo.delete_share(s, self.ctx.brand_id, kind, row.id, target.id)
            if done:
                self._record(s, "share.revoke", kind, row.id, user=user)
            return done

    def shares(self, kind, ref) -> pd.DataFrame:
        """Who the resource is shared with: ``user, level, expires_at, granted_by, created_at``."""
        with self.ctx.db.session() as s:
            row = access.authorize(s, self.ctx, Action.VIEW, kind, ref)
            rows = crepo.shares_of(s, self.ctx.brand_id, resources.resource_kind(kind), row.id)
            names = crepo.user_names(s, [r.user_id for r in rows] + [r.created_by for r in rows])
            out = [{"user": names.get(r.user_id), "level": r.permission.value, "expires_at": r.expires_at,
                    "granted_by": names.get(r.created_by), "created_at": r.created_at} for r in rows]
        return pd.DataFrame(out, columns=["user", "level", "expires_at", "granted_by", "created_at"])

    def shared_with_me(self) -> pd.DataFrame:
        """Live shares to the acting user: ``kind, ref, title, level, expires_at``."""
        cols = ["kind", "ref", "title", "level", "expires_at"]
        if self.ctx.actor.user_id is None:
            return pd.DataFrame(columns=cols)
        out = []
        with self.ctx.db.session() as s:
            for share in crepo.shares_of_user(s, self.ctx.brand_id, self.ctx.actor.user_id):
                row = resources.find(s, self.ctx.brand_id, share.resource_type, share.resource_id)
                if row is not None:
                    out.append({"kind": share.resource_type.value, "ref": _ref(share.resource_type, row),
                                "title": resources.title_of(share.resource_type, row),
                                "level": share.permission.value, "expires_at": share.expires_at})
        return pd.DataFrame(out, columns=cols)

    # -- public links ----------------------------------------------------------
    def create_link(self, kind, ref, *, expires_at=None) -> LinkToken:
        """A read-only public link. The token is in the returned object only; it is stored as
        a SHA-256 hash and cannot be shown again."""
        expiry = _expiry(expires_at)
        token = new_token()
        with self.ctx.db.session(write=True) as s:
            kind = resources.resource_kind(kind)
            row = access.authorize(s, self.ctx, Action.SHARE, kind, ref)
            link = crepo.add_link(s, self.ctx.brand_id, kind, row.id, hash_token(token), acting_user_id(s, self.ctx),
                                  expiry)
            self._record(s, "link.create", kind, row.id, link_id=link.id,
                         expires_at=expiry.isoformat() if expiry else None)
            return LinkToken(id=link.id, token=token, expires_at=expiry)

    def revoke_link(self, link_id: int) -> bool:
        """Revoke one link (needs ADMIN on its resource); False when it was revoked already."""
        with self.ctx.db.session(write=True) as s:
            link = crepo.link(s, self.ctx.brand_id, link_id) if isinstance(link_id, int) else None
            if link is None:
                raise NotFoundError(f"no link {link_id!r} in this brand")
            access.authorize(s, self.ctx, Action.SHARE, link.resource_type, link.resource_id)
            if link.revoked_at is not None:
                return False
            link.revoked_at = utcnow()
            self._record(s, "link.revoke", link.resource_type, link.resource_id, link_id=link.id)
            return True

    def revoke_links(self, kind=None, ref=None, *, created_by: str | None = None) -> int:
        """Revoke in bulk: every live link to one resource, or every live link one member made
        (a brand admin, or that member). Returns how many were revoked."""
        with self.ctx.db.session(write=True) as s:
            kind_ = resource_id = creator = None
            if kind is not None:
                kind_ = resources.resource_kind(kind)
                resource_id = access.authorize(s, self.ctx, Action.SHARE, kind_, ref).id
            if created_by is not None:
                user = crepo.member(s, self.ctx.brand_id, created_by, include_removed=True)
                if user is None:
                    raise NotFoundError(f"no member {created_by!r} in brand {self.ctx.brand!r}")
                if not self.ctx.actor.is_admin and user.id != self.ctx.actor.user_id:
                    raise PermissionDeniedError("only brand admins revoke other members' links")
                creator = user.id
            if kind_ is None and creator is None:
                raise InvalidInputError("say which links: a resource (kind, ref), created_by=, or both")
            n = 0
            for link in crepo.links_of(s, self.ctx.brand_id, kind_, resource_id, creator):
                if link.revoked_at is None:
                    link.revoked_at = utcnow()
                    n += 1
                    self._record(s, "link.revoke", link.resource_type, link.resource_id, link_id=link.id)
            return n

    def links(self, kind, ref) -> pd.DataFrame:
        """The resource's links (never their tokens): ``id, created_by, created_at, expires_at, revoked_at``."""
        cols = ["id", "created_by", "created_at", "expires_at", "revoked_at"]
        with self.ctx.db.session() as s:
            kind = resources.resource_kind(kind)
            row = access.authorize(s, self.ctx, Action.SHARE, kind, ref)
            rows = crepo.links_of(s, self.ctx.brand_id, kind, row.id)
            names = crepo.user_names(s, [r.created_by for r in rows])
            out = [{"id": r.id, "created_by": names.get(r.created_by), "created_at": r.created_at,
                    "expires_at": r.expires_at, "revoked_at": r.revoked_at} for r in rows]
        return pd.DataFrame(out, columns=cols)

    # -- comments --------------------------------------------------------------
    def comment(self, kind, ref, body: str, *, reply_to: int | None = None) -> int:
        """Comment on the resource (or reply to a comment of its thread); returns the comment id."""
        text = _body(body)
        with self.ctx.db.session(write=True) as s:
            kind = resources.resource_kind(kind)
            row = access.authorize(s, self.ctx, Action.COMMENT, kind, ref)
            if reply_to is not None:
                parent = self._comment(s, reply_to)
                if (parent.resource_type, parent.resource_id) != (kind, row.id):
                    raise InvalidInputError(f"comment {reply_to} belongs to another resource's thread; "
                                            "a reply belongs to its parent's resource")
            c = Comment(brand_id=self.ctx.brand_id, resource_type=kind, resource_id=row.id, parent_id=reply_to,
                        author_id=acting_user_id(s, self.ctx), body=text, created_at=utcnow())
            s.add(c)
            s.flush()
            return c.id

    def _comment(self, s, comment_id) -> Comment:
        """The brand's comment (another brand's reads as unknown)."""
        c = crepo.comment(s, self.ctx.brand_id, comment_id) if isinstance(comment_id, int) else None
        if c is None:
            raise NotFoundError(f"no comment {comment_id!r} in this brand")
        return c

    def _own_comment(self, s, comment_id, action: Action, *, admin_may: bool) -> Comment:
        c = self._comment(s, comment_id)
        access.authorize(s, self.ctx, action, c.resource_type, c.resource_id)
        mine = self.ctx.actor.user_id is not None and c.author_id == self.ctx.actor.user_id
        if self.ctx.actor.is_local_owner:
            mine = c.author_id == crepo.owner_user(s, self.ctx.brand_id).id
        if not (mine or (admin_may and self.ctx.actor.is_admin)):
            raise PermissionDeniedError(f"{self.ctx.actor.name!r} may not change comment {comment_id}: "
                                        f"only its author{' or a brand admin' if admin_may else ''} may")
        if c.deleted_at is not None:
            raise InvalidInputError(f"comment {comment_id} was deleted")
        return c

    def edit_comment(self, comment_id: int, body: str) -> None:
        """Change a comment's body (its author only)."""
        text = _body(body)
        with self.ctx.db.session(write=True) as s:
            c = self._own_comment(s, comment_id, Action.VIEW, admin_may=False)
            c.body, c.edited_at = text, utcnow()

    def delete_comment(self, comment_id: int) -> None:
        """Delete a comment (its author or a brand admin): its place and replies stay, its body goes."""
        with self.ctx.db.session(write=True) as s:
            c = self._own_comment(s, comment_id, Action.VIEW, admin_may=True)
            c.body, c.deleted_at = "", utcnow()
            self._record(s, "comment.delete", c.resource_type, c.resource_id, comment_id=c.id)

    def _set_resolved(self, comment_id: int, resolved: bool) -> None:
        with self.ctx.db.session(write=True) as s:
            c = self._comment(s, comment_id)
            access.authorize(s, self.ctx, Action.COMMENT, c.resource_type, c.resource_id)
            if c.parent_id is not None:
                raise InvalidInputError(f"comment {comment_id} is a reply; resolve the thread's first comment")
            c.resolved_at = utcnow() if resolved else None
            c.resolved_by = acting_user_id(s, self.ctx) if resolved else None

    def resolve_thread(self, comment_id: int) -> None:
        self._set_resolved(comment_id, True)

    def reopen_thread(self, comment_id: int) -> None:
        self._set_resolved(comment_id, False)

    def thread(self, kind, ref) -> pd.DataFrame:
        """The resource's comments in thread order (depth first, oldest first): ``id, parent_id,
        depth, author, body, created_at, edited_at, deleted, resolved`` (a deleted comment keeps
        its place with ``body`` None; ``resolved`` is its thread's)."""
        cols = ["id", "parent_id", "depth", "author", "body", "created_at", "edited_at", "deleted", "resolved"]
        return pd.DataFrame(self.thread_records(kind, ref), columns=cols)

    def thread_records(self, kind, ref) -> list[dict]:
        """:meth:`thread` as a list of dicts (what pages render)."""
        with self.ctx.db.session() as s:
            kind = resources.resource_kind(kind)
            return self._thread(s, kind, access.authorize(s, self.ctx, Action.VIEW, kind, ref))

    def _thread(self, s, kind, row) -> list[dict]:
        rows = crepo.comments_of(s, self.ctx.brand_id, kind, row.id)
        names = crepo.user_names(s, [c.author_id for c in rows])
        children: dict = {}
        for c in rows:
            children.setdefault(c.parent_id, []).append(c)
        out: list[dict] = []

        def walk(parent_id, depth, resolved):
            for c in children.get(parent_id, []):
                res = (c.resolved_at is not None) if depth == 0 else resolved
                out.append({"id": c.id, "parent_id": c.parent_id, "depth": depth, "author": names.get(c.author_id),
                            "body": None if c.deleted_at else c.body, "created_at": c.created_at,
                            "edited_at": c.edited_at, "deleted": c.deleted_at is not None, "resolved": res})
                walk(c.id, depth + 1, res)

        walk(None, 0, False)
        return out

    def comment_counts(self, kind) -> pd.DataFrame:
        """Per resource of ``kind`` the acting user may view: ``ref, comments, open_threads``."""
        import sqlalchemy as sa
        kind = resources.resource_kind(kind)
        model = resources.RESOURCES[kind].model
        with self.ctx.db.session() as s:
            rows = s.scalars(sa.select(model).where(resources.visible(kind, self.ctx.brand_id, self.ctx.actor))
                             .order_by(model.id)).all()
            counts = crepo.comment_counts(s, self.ctx.brand_id, kind, [r.id for r in rows])
            out = [{"ref": _ref(kind, r), "comments": counts.get(r.id, (0, 0))[0],
                    "open_threads": counts.get(r.id, (0, 0))[1]} for r in rows]
        return pd.DataFrame(out, columns=["ref", "comments", "open_threads"])

    # -- audit -----------------------------------------------------------------
    def audit(self) -> pd.DataFrame:
        """Every grant, change, revocation, link and deletion: ``at, actor, action, kind, resource_id,
        detail`` (brand admins only)."""
        access.require_admin(self.ctx, "read the audit log", "brand admins only")
        with self.ctx.db.session() as s:
            out = [{"at": e.created_at, "actor": e.actor_name, "action": e.action, "kind": e.resource_type,
                    "resource_id": e.resource_id, "detail": e.detail} for e in crepo.audit_events(s, self.ctx.brand_id)]
        return pd.DataFrame(out, columns=["at", "actor", "action", "kind", "resource_id", "detail"])
