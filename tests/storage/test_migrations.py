"""Migrations go from empty to head (and back) on SQLite and PostgreSQL, and match the models."""
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from workbench.storage import Database
from workbench.storage.models import Base

EXPECTED_TABLES = {
    "brands", "users", "funnels", "cohorts", "segments", "analysis_results", "predictions", "generations",
    "collections", "collection_items", "budgets", "budget_usage", "shares", "public_links", "comments",
    "reports", "ingests", "audit_events", "access_tokens", "portal_sessions", "subscriptions",
    "subscription_runs", "alerts", "deliveries",
}


def _check_round_trip(url: str) -> None:
    db = Database(url)
    assert db.current_revision() is None
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    tables = set(sa.inspect(db.engine).get_table_names())
    assert EXPECTED_TABLES <= tables
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    db.downgrade("base")
    assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
    db.upgrade()
    db.dispose()


def test_sqlite_empty_to_head_and_back(tmp_path):
    _check_round_trip(f"sqlite:///{tmp_path / 'app.db'}")


@pytest.mark.postgres
def test_postgres_empty_to_head_and_back(empty_postgres_url):
    _check_round_trip(empty_postgres_url)


def test_indexes_for_service_lookups(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'app.db'}")
    db.upgrade()
    insp = sa.inspect(db.engine)
    names = {ix["name"] for t in insp.get_table_names() for ix in insp.get_indexes(t)}
    assert {"ix_generations_claim", "ix_generations_brand_status", "ix_shares_resource",
            "ix_comments_resource", "ix_results_lookup"} <= names


def _upgrade_keeps_existing_rows(url: str) -> None:
    """A database at revision 0001 holding users and comments upgrades to head: users become
    members, comments are open threads, nothing is lost."""
    db = Database(url)
    db.upgrade("0001")
    with db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO brands (id, name, created_at) VALUES (1, 'acme', CURRENT_TIMESTAMP)"))
        conn.execute(sa.text("INSERT INTO users (id, brand_id, name, created_at) VALUES (1, 1, 'ann', CURRENT_TIMESTAMP)"))
        conn.execute(sa.text("INSERT INTO comments (id, brand_id, resource_type, resource_id, author_id, body, created_at)"
                             " VALUES (1, 1, 'funnel', 7, 1, 'hello', CURRENT_TIMESTAMP)"))
    db.upgrade()
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name, role, removed_at FROM users")).all() == [("ann", "member", None)]
        assert conn.execute(sa.text("SELECT body, resolved_at FROM comments")).all() == [("hello", None)]
        assert conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar() == 0
    db.downgrade("0001")
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM users")).all() == [("ann",)]
    db.downgrade("base")
    db.dispose()


def test_sqlite_upgrade_keeps_existing_rows(tmp_path):
    _upgrade_keeps_existing_rows(f"sqlite:///{tmp_path / 'app.db'}")


@pytest.mark.postgres
def test_postgres_upgrade_keeps_existing_rows(empty_postgres_url):
    _upgrade_keeps_existing_rows(empty_postgres_url)


def _migrate(url: str, start, results) -> None:
    db = Database(url)
    start.wait(60)
    try:
        db.ensure_schema()
        results.append(db.current_revision())
    except Exception as exc:  # reported to the test, which names it
        results.append(f"{type(exc).__name__}: {exc}")
    finally:
        db.dispose()


def _migrate_at_once(url: str, processes: int = 3) -> None:
    """Several processes open the same new database at the same moment (two writers ingesting
    into a fresh workspace, say): each waits for the migration lock, and all end at head."""
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        start, results = manager.Event(), manager.list()
        workers = [ctx.Process(target=_migrate, args=(url, start, results)) for _ in range(processes)]
        for w in workers:
            w.start()
        start.set()
        for w in workers:
            w.join(120)
        got = list(results)
    head = Database(url).head_revision()
    assert got == [head] * processes, got


def test_sqlite_processes_migrating_at_once(tmp_path):
    _migrate_at_once(f"sqlite:///{tmp_path / 'new.db'}")


@pytest.mark.postgres
def test_postgres_processes_migrating_at_once(empty_postgres_url):
    _migrate_at_once(empty_postgres_url)
