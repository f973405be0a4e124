"""Shared fixtures: a throw-away workspace, and a real PostgreSQL database per test session.

PostgreSQL: ``WORKBENCH_TEST_POSTGRES_URL`` (an admin URL; default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``). The fixture creates a
fresh database and drops it afterwards. When the server is unreachable the tests
skip on a laptop and fail under ``CI=true``.
"""
from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

import workbench as wb

# Prefect: no telemetry, a private home, patience for the ephemeral server. Set before prefect is imported.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_HOME", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".prefect"))
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ADMIN_URL = os.environ.get("WORKBENCH_TEST_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def ws(tmp_path):
    """A fresh embedded workspace (SQLite + Parquet) under a temporary folder."""
    workspace = wb.open(tmp_path / "data")
    yield workspace
    workspace.close()


def _admin_engine():
    return sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})


@pytest.fixture(scope="session")
def postgres_url():
    """URL of a brand-new PostgreSQL database, dropped at the end of the session."""
    yield from _temporary_database()


@pytest.fixture
def empty_postgres_url():
    """URL of a PostgreSQL database of its own (for migrations from nothing), dropped after the test."""
    yield from _temporary_database()


def _temporary_database():
    name = f"workbench_test_{uuid.uuid4().hex[:10]}"
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        message = f"PostgreSQL unreachable at {ADMIN_URL}: {exc.orig}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    url = sa.engine.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with engine.connect() as conn:
        conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"),
            {"n": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    engine.dispose()


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the whole session (it takes 15-30 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
