"""A brand's members and their roles (``acme.members``)."""
from __future__ import annotations

import re

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..domain import Role, parse
from ..errors import AlreadyExistsError, NotFoundError, invalid_input
from ..storage import collaboration as crepo
from ..storage.models import User, utcnow
from ..storage.repositories import add_unique
from . import access

__all__ = ["Members", "MemberSpec", "NAME_PATTERN"]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


class MemberSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    email: str | None = Field(default=None, max_length=256, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    role: Role = Role.MEMBER

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_PATTERN.match(v):
            raise ValueError("a member name is 1-128 letters, digits or . _ @ + - and starts with a letter or digit")
        return v


def _checked(**fields) -> MemberSpec:
    try:
        return MemberSpec(**fields)
    except ValidationError as exc:
        raise invalid_input(exc, "member") from exc


def role_of(value) -> Role:
    return parse(Role, value, "role")


class Members:
    """Add, list, change and remove the brand's members. Changes need a brand admin."""

    def __init__(self, ctx):
        self.ctx = ctx

    def _admin_only(self, what: str) -> None:
        access.require_admin(self.ctx, what, "only brand admins manage members")

    def add(self, name: str, *, email: str | None = None, role: str = "member") -> None:
        """Add a member (``role``: ``admin`` or ``member``). A removed member comes back."""
        spec = _checked(name=name, email=email, role=role_of(role))
        self._admin_only("add members")
        self.ctx.ensure_brand()
        with self.ctx.db.session(write=True) as s:
            existing = crepo.member(s, self.ctx.brand_id, spec.name, include_removed=True)
            if existing is not None and existing.removed_at is None:
                raise AlreadyExistsError(f"{spec.name!r} is already a member of {self.ctx.brand!r}")
            if existing is not None:
                existing.removed_at, existing.role, existing.email = None, spec.role.value, spec.email
            else:
                add_unique(s, User(brand_id=self.ctx.brand_id, name=spec.name, email=spec.email,
                                   role=spec.role.value, created_at=utcnow()),
                           f"{spec.name!r} is already a member of {self.ctx.brand!r}")
            crepo.record(s, self.ctx.brand_id, self.ctx.actor.user_id, self.ctx.actor.name, "member.add",
                         detail={"member": spec.name, "role": spec.role.value})

    def list(self) -> pd.DataFrame:
        """Current members: ``name, email, role, created_at``."""
        with self.ctx.db.session() as s:
            rows = [{"name": u.name, "email": u.email, "role": u.role, "created_at": u.created_at}
                    for u in crepo.members(s, self.ctx.brand_id)]
        return pd.DataFrame(rows, columns=["name", "email", "role", "created_at"])

    def _get(self, session, name: str) -> User:
        user = crepo.member(session, self.ctx.brand_id, name) if isinstance(name, str) else None
        if user is None or user.name == crepo.OWNER_NAME:
            raise NotFoundError(f"no member {name!r} in brand {self.ctx.brand!r}")
        return user

    def set_role(self, name: str, role: str) -> None:
        new = role_of(role)
        self._admin_only("change roles")
        with self.ctx.db.session(write=True) as s:
            user = self._get(s, name)
            before, user.role = user.role, new.value
            crepo.record(s, self.ctx.brand_id, self.ctx.actor.user_id, self.ctx.actor.name, "member.role",
                         detail={"member": name, "from": before, "to": new.value})

    def remove(self, name: str) -> None:
        """Remove a member: they can no longer act, their shares go; what they wrote stays."""
        self._admin_only("remove members")
        with self.ctx.db.session(write=True) as s:
            user = self._get(s, name)
            user.removed_at = utcnow()
            crepo.delete_user_shares(s, self.ctx.brand_id, user.id)
            crepo.record(s, self.ctx.brand_id, self.ctx.actor.user_id, self.ctx.actor.name, "member.remove",
                         detail={"member": name})
