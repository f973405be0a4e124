"""Engine, sessions and migrations of the application database.

The only module that creates SQLAlchemy engines. SQLite (embedded default) gets
WAL mode, foreign keys and a busy timeout, so that a notebook and a flow can use
the same file at once.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session, sessionmaker

from ..errors import StorageError

__all__ = ["Database", "MIGRATIONS_PATH"]

log = logging.getLogger(__name__)
MIGRATIONS_PATH = Path(__file__).parent / "migrations"
_ALEMBIC_LOCK = threading.Lock()
_MIGRATION_LOCK_KEY = 0x776F726B62656E63  # "workbenc": the advisory lock migrations hold on PostgreSQL


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # pysqlite's own transaction handling is switched off: SQLAlchemy's "begin"
    # event issues BEGIN (or BEGIN IMMEDIATE) itself.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class Database:
    """An application database: an engine, a session factory and its migrations.

    Parameters
    ----------
    url : str
        SQLAlchemy URL, e.g. ``sqlite:///data/workbench.db`` or
        ``postgresql+psycopg://user@host/db``.
    """

    def __init__(self, url: str):
        self.url = url
        try:
            sa_url = sa.engine.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise StorageError(f"WORKBENCH_DATABASE_URL is not a database URL: {url!r}") from exc
        if sa_url.drivername == "postgresql":  # no driver named: the one installed (psycopg 3), not psycopg2
            sa_url = sa_url.set(drivername="postgresql+psycopg")
            self.url = url = sa_url.render_as_string(hide_password=False)
        self.is_sqlite = sa_url.get_backend_name() == "sqlite"
        if self.is_sqlite and sa_url.database not in (None, "", ":memory:"):
            Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict = {"future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = sa.create_engine(sa_url, **kwargs)
        if self.is_sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            # Let "BEGIN IMMEDIATE" (see `transaction(write=True)`) be issued by us, not pysqlite.
            sa.event.listen(self.engine, "begin", self._sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @staticmethod
    def _sqlite_begin(conn) -> None:
        mode = conn.info.pop("begin_mode", "BEGIN")
        conn.exec_driver_sql(mode)

    # -- migrations -------------------------------------------------------------
    def _alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_PATH))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    @contextmanager
    def _migrating(self) -> Iterator[Config]:
        """Alembic's configuration on a connection holding the database's migration lock, so that
        processes opening a new database at once migrate it one after the other (the later ones
        then find it up to date): SQLite's write lock taken at BEGIN, a transaction-scoped
        advisory lock on PostgreSQL. Alembic's command API keeps module-level state: one thread
        at a time."""
        cfg = self._alembic_config()
        with _ALEMBIC_LOCK, self.engine.connect() as conn:
            if self.is_sqlite:
                conn.info["begin_mode"] = "BEGIN IMMEDIATE"
            with conn.begin():
                if not self.is_sqlite:
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
                cfg.attributes["connection"] = conn
                yield cfg

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema to ``revision`` (default: the newest)."""
        with self._migrating() as cfg:
            command.upgrade(cfg, revision)

    def ensure_schema(self) -> None:
        """Migrate to the newest revision unless already there (cheap when up to date)."""
        if self.current_revision() != self.head_revision():
            self.upgrade()

    def downgrade(self, revision: str = "base") -> None:
        with self._migrating() as cfg:
            command.downgrade(cfg, revision)

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    # -- sessions ---------------------------------------------------------------
    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction, committed on success, rolled back on error.

        ``write=True`` takes SQLite's write lock at the start (``BEGIN IMMEDIATE``),
        so that read-check-write sequences (budgets, claims) are atomic across
        processes; on PostgreSQL callers use row locks (``with_for_update``).
        """
        conn = None
        if self.is_sqlite and write:
            conn = self.engine.connect()
            conn.info["begin_mode"] = "BEGIN IMMEDIATE"
            session = Session(bind=conn, expire_on_commit=False)
        else:
            session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            if conn is not None:
                conn.close()

    def dispose(self) -> None:
        self.engine.dispose()
