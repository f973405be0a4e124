"""The brand context: what every service is given to work for one brand, as one user.

A :class:`BrandContext` holds the application database, the event store, the brand (id and
name) and the acting user (:class:`Actor`). Services take it and nothing larger; the
analyst-facing :class:`~workbench.workspace.BrandScope` holds one and stays a thin face on
top. The acting user is the brand's local owner (an admin, no user row) for notebooks,
flows and the CLI, or a named member when a scope is opened with ``user=``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Callable

import duckdb

from .config import Settings
from .domain import Role
from .events import EventStore
from .storage import Database

__all__ = ["Actor", "BrandContext", "LOCAL_OWNER"]


@dataclass(frozen=True)
class Actor:
    """Who acts. ``user_id`` is None for the brand's local owner (notebooks, flows, the CLI
    without ``--as``), who is an admin of the brand."""
    user_id: int | None
    name: str
    role: Role = Role.ADMIN

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_local_owner(self) -> bool:
        return self.user_id is None


LOCAL_OWNER = Actor(user_id=None, name="(owner)", role=Role.ADMIN)


@dataclass(frozen=True)
class BrandContext:
    """Database, event store, brand and acting user: all a service needs for one brand."""
    db: Database
    store: EventStore
    settings: Settings
    brand_id: int
    brand: str
    actor: Actor = LOCAL_OWNER
    provider_config: dict = field(default_factory=dict)
    connection: Callable[[], duckdb.DuckDBPyConnection] | None = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection that reads the event store in place."""
        return self.connection()

    @property
    def artifacts_path(self) -> Path:
        """Where generation artifacts are written (one folder per brand id)."""
        return self.settings.home.resolve() / "artifacts"

    def acting_as(self, actor: Actor) -> "BrandContext":
        return replace(self, actor=actor)

    def events(self, since: datetime | str | None = None, until: datetime | str | None = None
               ) -> duckdb.DuckDBPyRelation:
        """This brand's events (``since <= ts < until``) as a DuckDB relation."""
        return self.store.relation(self.con, self.brand, since=since, until=until)
