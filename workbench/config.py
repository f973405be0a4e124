"""Settings: the only place that reads the environment.

Every path and URL the package uses is derived here, so that a notebook, a flow
and the CLI agree on where things live.

Environment variables (all optional):

``WORKBENCH_HOME``
    Root folder for embedded storage and outputs. Default: the ``data`` folder of the project
    this process runs in, found by walking up from the working directory (so a notebook in
    ``notebooks/explore`` opens the same workspace as ``make demo``): the nearest folder
    holding ``data/workbench.db``, else the nearest holding the workbench ``pyproject.toml``,
    else ``./data``.
``WORKBENCH_DATABASE_URL``
    SQLAlchemy URL of the application database (default: SQLite file
    ``$WORKBENCH_HOME/workbench.db``). Use ``postgresql+psycopg://...`` for teams.
``WORKBENCH_EVENTS_PATH``
    Folder of the Parquet event store (default: ``$WORKBENCH_HOME/events``).
``WORKBENCH_REPORTS_PATH``
    Folder for rendered reports (default: ``$WORKBENCH_HOME/reports``).
``WORKBENCH_MAX_FUTURE_SKEW_HOURS``
    Events stamped later than now + this many hours are rejected (default 24).
``WORKBENCH_NOTEBOOKS_PATH``
    Folder of the report notebooks (default: ``notebooks/reports`` of this checkout).
``WORKBENCH_PROVIDERS``
    JSON: options of each generation provider, e.g.
    ``{"openai-images": {"base_url": "https://api.openai.com/v1", "api_key": "..."}}``.
``WORKBENCH_TASK_RUNNER``
    ``threads`` (default) or ``dask``: how flows fan out over brands.
``WORKBENCH_DASK_ADDRESS`` / ``WORKBENCH_DASK_WORKERS``
    With ``WORKBENCH_TASK_RUNNER=dask``: the scheduler of an existing Dask cluster
    (``tcp://host:8786``), or, when unset, the number of worker processes of a LocalCluster
    started for the flow run (default 2).
``WORKBENCH_PORTAL_SECRET``
    The team portal's secret (at least 32 characters, random: ``python -c "import secrets;
    print(secrets.token_urlsafe(32))"``). It signs CSRF tokens and short-lived report URLs;
    ``workbench serve`` refuses to start without a good one.
``WORKBENCH_SMTP_HOST`` / ``_PORT`` / ``_USER`` / ``_PASSWORD`` / ``_FROM`` / ``_STARTTLS``
    Where report subscriptions and alerts send email (default ``127.0.0.1:25``, no login,
    from ``workbench@localhost``).
``WORKBENCH_RUN_TIMEOUT_MINUTES``
    A subscription run still "running" after this long is marked failed (default 60).
``WORKBENCH_SESSION_IDLE_MINUTES`` / ``WORKBENCH_SESSION_MAX_HOURS``
    A portal session ends after this long without a request (default 30 minutes) and this
    long after sign-in in any case (default 12 hours).
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings", "discover_home"]


class Settings(BaseSettings):
    """Workbench settings, read from ``WORKBENCH_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="WORKBENCH_", extra="ignore")

    home: Path = Field(default=Path("data"))
    database_url: str | None = None
    events_path: Path | None = None
    reports_path: Path | None = None
    max_future_skew_hours: float = 24.0
    ingest_memory_limit: str = "2GB"  # DuckDB's limit while ingesting; beyond it, work spills to disk
    small_file_limit: int = Field(default=16, ge=1)  # small files in a day partition before it is compacted
    vacuum_retention_hours: float = Field(default=168.0, ge=0)  # versions younger than this stay readable
    notebooks_path: Path | None = None
    providers: dict[str, dict] = Field(default_factory=dict)
    task_runner: str = "threads"
    dask_address: str | None = None
    dask_workers: int = Field(default=2, ge=1)
    portal_secret: SecretStr | None = None
    session_idle_minutes: float = Field(default=30.0, gt=0)
    session_max_hours: float = Field(default=12.0, gt=0)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "workbench@localhost"
    smtp_starttls: bool = False
    run_timeout_minutes: float = Field(default=60.0, gt=0)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'workbench.db').resolve()}"

    @property
    def resolved_events_path(self) -> Path:
        return (self.events_path or self.home / "events").resolve()

    @property
    def resolved_reports_path(self) -> Path:
        return (self.reports_path or self.home / "reports").resolve()

    @property
    def resolved_notebooks_path(self) -> Path:
        return (self.notebooks_path or Path(__file__).resolve().parents[1] / "notebooks" / "reports").resolve()

    @property
    def quarantine_path(self) -> Path:
        return (self.home / "quarantine").resolve()


def get_settings(**overrides) -> Settings:
    """Settings from the environment, with explicit keyword overrides on top; without either,
    ``home`` is discovered (see ``WORKBENCH_HOME``)."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    settings = Settings(**clean)
    if "home" not in settings.model_fields_set:
        settings.home = discover_home(Path.cwd())
    return settings


def discover_home(start: Path) -> Path:
    """The ``data`` folder of the project around ``start`` (see ``WORKBENCH_HOME``)."""
    folders = [start.resolve(), *start.resolve().parents]
    for folder in folders:
        if (folder / "data" / "workbench.db").is_file():
            return folder / "data"
    for folder in folders:
        project = folder / "pyproject.toml"
        if project.is_file() and 'name = "workbench"' in project.read_text(encoding="utf-8", errors="ignore"):
            return folder / "data"
    return Path("data")
