"""The brand context: what every service is given to work for one brand, as one user.

A :class:`BrandContext` holds the application database, the event store, the brand (id and
name) and the acting user (:class:`Actor`). Services take it and nothing larger; the
analyst-facing :class:`~workbench.workspace.BrandScope` holds one and stays a thin face on
top. The acting user is the brand's local owner (an admin, no user row) for notebooks,
flows and the CLI, or a named member when a scope is opened with ``user=``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Callable

import duckdb

from .config import Settings
from .domain import Role
from .events import EventStore
from .events.schema import utc
from .storage import Database

__all__ = ["Actor", "BrandContext", "LOCAL_OWNER", "unknown_brand", "check_period", "period_bound"]


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def period_bound(value, what: str):
    """``since``/``until`` as a UTC timestamp: a date or datetime, or ISO text ("2026-03-01",
    "2026-03-01T12:00Z"); anything else (such as "yesterday") is an InvalidInputError."""
    import pandas as pd

    from .errors import InvalidInputError
    if value is None:
        return None
    if isinstance(value, str):
        if not _ISO_DATE.match(value.strip()):
            raise InvalidInputError(f"{what} {value!r} is not a date: use YYYY-MM-DD (or an ISO date and time, "
                                    "e.g. 2026-03-01T12:00Z)")
        value = value.strip()
    try:
        ts = utc(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} {value!r} is not a date: use YYYY-MM-DD") from exc
    if ts is pd.NaT:
        raise InvalidInputError(f"{what} is not a date")
    return ts


def check_period(since, until):
    """(since, until) checked: each a date, and since before until."""
    from .errors import InvalidInputError
    start, end = period_bound(since, "since"), period_bound(until, "until")
    if start is not None and end is not None and start >= end:
        raise InvalidInputError(f"since ({start.isoformat()}) must be before until ({end.isoformat()}): "
                                "until is the first moment left out")
    return start, end


def unknown_brand(name: str, known: list[str]):
    """NotFoundError for a brand nobody wrote to, suggesting close names."""
    import difflib

    from .errors import NotFoundError
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else (
        f"; known brands: {', '.join(known)}" if known else "; none exist yet: ingest events to create one")
    return NotFoundError(f"no brand {name!r}{hint}")


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
    """Database, event store, brand and acting user: all a service needs for one brand.

    A brand exists once something was written for it. A context may name a brand that does
    not exist yet: reading it (``brand_id``) raises a NotFoundError that suggests close names,
    and a write first calls :meth:`ensure_brand`, which creates it.
    """
    db: Database
    store: EventStore
    settings: Settings
    known_id: int | None
    brand: str
    actor: Actor = LOCAL_OWNER
    provider_config: dict = field(default_factory=dict)
    connection: Callable[[], duckdb.DuckDBPyConnection] | None = None
    version: int | None = None  # the event table version reads are pinned to (None: the latest)
    _created: list = field(default_factory=list, repr=False, compare=False)

    @property
    def brand_id(self) -> int:
        """The brand's id; NotFoundError (with close matches) for a brand nothing was written to."""
        if self.known_id is not None:
            return self.known_id
        if self._created:
            return self._created[0]
        from .storage import repositories as repo
        with self.db.session() as s:
            found = repo.brand_id(s, self.brand)
            names = repo.brand_names(s)
        if found is not None:
            self._created.append(found)
            return found
        raise unknown_brand(self.brand, names)

    def ensure_brand(self) -> int:
        """The brand's id, creating the brand (a write is about to happen)."""
        if self.known_id is not None or self._created:
            return self.brand_id
        from .storage import repositories as repo
        with self.db.session(write=True) as s:
            self._created.append(repo.get_or_create_brand(s, self.brand).id)
        return self._created[0]

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

    def at(self, version: int | None) -> "BrandContext":
        """This context reading the event table as it was at ``version`` (None: the latest)."""
        return replace(self, version=version)

    def pinned(self) -> "BrandContext":
        """This context pinned to a version: the one it already reads, else the latest now, so that
        a calculation reads one version throughout and can record it."""
        return self if self.version is not None else replace(self, version=self.store.version(self.brand))

    def events(self, since: datetime | str | None = None, until: datetime | str | None = None
               ) -> duckdb.DuckDBPyRelation:
        """This brand's events (``since <= ts < until``) as a DuckDB relation (NotFoundError for a
        brand nothing was written to)."""
        self.brand_id  # noqa: B018 - an unknown brand is an error, not an empty table
        since, until = check_period(since, until)
        return self.store.relation(self.con, self.brand, since=since, until=until, version=self.version)
