"""The one authorisation rule: what a user may do to a resource.

Levels are ``VIEW < COMMENT < EDIT < ADMIN``. A user's level on a resource is ``ADMIN``
when they are a brand admin (the local owner of a notebook scope is one) or the resource's
owner; otherwise the highest share that is neither expired nor revoked; otherwise none.

=========  ===================  ==================================================
action     needs                covers
=========  ===================  ==================================================
view       VIEW                 get, results, thread, shares, open the report
comment    COMMENT              comment, reply, resolve and reopen a thread
edit       EDIT                 update, recalculate, regenerate/edit, re-run a report,
                                add to a collection
share      ADMIN                grant, change or revoke shares; create or revoke links
                                (never from a share that expires)
delete     owner or brand admin delete the resource
=========  ===================  ==================================================

:func:`authorize` is what every service method calls before it touches a resource; it
raises ``NotFoundError`` (an unknown ref and another brand's read the same) or
``PermissionDeniedError``. :func:`can` answers the same question as a bool.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ..domain import Action, Permission, ResourceKind, parse
from ..errors import PermissionDeniedError
from ..storage import resources

__all__ = ["Access", "access_of", "allows", "authorize", "checked", "can", "action_of", "require_admin", "REQUIRED"]

REQUIRED = {Action.VIEW: Permission.VIEW, Action.COMMENT: Permission.COMMENT, Action.EDIT: Permission.EDIT,
            Action.SHARE: Permission.ADMIN}


@dataclass(frozen=True)
class Access:
    """What one user holds on one resource."""
    level: Permission | None
    is_owner: bool = False
    is_admin: bool = False
    expires_at: datetime | None = None  # of the share the level comes from (None: it does not expire)


def action_of(action) -> Action:
    return parse(Action, action, "action")


def access_of(session: Session, ctx, kind: ResourceKind, row) -> Access:
    """The acting user's access to a resource row of the context's brand."""
    actor = ctx.actor
    if actor.is_admin:
        return Access(Permission.ADMIN, is_owner=actor.user_id is not None and
                      resources.owner_id(kind, row) == actor.user_id, is_admin=True)
    if resources.owner_id(kind, row) == actor.user_id:
        return Access(Permission.ADMIN, is_owner=True)
    level, expires = resources.share_level(session, ctx.brand_id, kind, row.id, actor.user_id)
    return Access(level, expires_at=expires)


def allows(access: Access, action: Action) -> bool:
    """The rule itself (see the module's table)."""
    if action == Action.DELETE:
        return access.is_owner or access.is_admin
    if access.level is None or access.level.rank < REQUIRED[action].rank:
        return False
    if action == Action.SHARE and access.expires_at is not None:
        return False  # access that runs out cannot be handed on
    return True


def require_admin(ctx, doing: str, because: str) -> None:
    """PermissionDeniedError unless the acting user is a brand admin: for what belongs to the brand
    rather than to one resource (members, the audit log, the event table's upkeep)."""
    if not ctx.actor.is_admin:
        raise PermissionDeniedError(f"{ctx.actor.name!r} may not {doing}: {because}")


def authorize(session: Session, ctx, action, kind, ref):
    """The resource row when the acting user may do ``action`` to it; NotFoundError when
    it does not exist in this brand; PermissionDeniedError otherwise."""
    return checked(session, ctx, action, kind, ref)[0]


def checked(session: Session, ctx, action, kind, ref) -> tuple[object, Access]:
    """:func:`authorize`, also returning the user's :class:`Access` (to tell what else they may do)."""
    action, kind = action_of(action), resources.resource_kind(kind)
    row = resources.resolve(session, ctx.brand_id, kind, ref)
    access = access_of(session, ctx, kind, row)
    if not allows(access, action):
        need = "the owner or a brand admin" if action == Action.DELETE else f"{REQUIRED[action].value} level"
        if action == Action.SHARE and access.level == Permission.ADMIN:
            need = "ADMIN level that does not expire"
        held = access.level.value if access.level else "no access"
        raise PermissionDeniedError(f"{ctx.actor.name!r} may not {action.value} {kind.value} {ref!r}: "
                                    f"it needs {need}, and they hold {held}")
    return row, access


def can(session: Session, ctx, action, kind, ref) -> bool:
    """Whether the acting user may do ``action`` to the resource (NotFoundError if unknown)."""
    action, kind = action_of(action), resources.resource_kind(kind)
    row = resources.resolve(session, ctx.brand_id, kind, ref)
    return allows(access_of(session, ctx, kind, row), action)
