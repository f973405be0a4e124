"""Settings: the only place that reads the environment.

Every path and URL the package uses is derived here, so that a notebook, a flow
and the CLI agree on where things live.

Environment variables (all optional):

``WORKBENCH_HOME``
    Root folder for embedded storage and outputs (default: ``./data``).
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
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Workbench settings, read from ``WORKBENCH_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="WORKBENCH_", extra="ignore")

    home: Path = Field(default=Path("data"))
    database_url: str | None = None
    events_path: Path | None = None
    reports_path: Path | None = None
    max_future_skew_hours: float = 24.0
    notebooks_path: Path | None = None
    providers: dict[str, dict] = Field(default_factory=dict)
    task_runner: str = "threads"

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
    """Settings from the environment, with explicit keyword overrides on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)
