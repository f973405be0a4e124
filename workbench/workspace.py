"""Workspace and BrandScope: the analyst-facing facade over storage, events and analytics.

>>> import workbench as wb
>>> ws = wb.open()                 # embedded default: everything under ./data
>>> acme = ws.brand("acme")        # every read and write below is limited to "acme"
>>> acme.ingest("events.csv")
>>> acme.funnel(["view", "add_to_cart", "purchase"], "7d")
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import duckdb
import pandas as pd

from . import analytics, reports
from .analytics import segments as segments_mod
from .analytics.segments import SegmentSpec, segment_spec
from .config import Settings, get_settings
from .definitions import SavedCohorts, SavedFunnels, SavedSegments
from .errors import NotFoundError
from .predictions import ForecastRun, Predictions
from .events import EventStore, IngestReport, check_brand_name, connect
from .storage import Database
from .storage import repositories as repo

if TYPE_CHECKING:
    from .studio import Studio

__all__ = ["Workspace", "BrandScope", "open_workspace"]

log = logging.getLogger(__name__)


class Workspace:
    """Application database + event store, opened from one Settings object."""

    def __init__(self, settings: Settings, *, migrate: bool = True):
        self.settings = settings
        self.db = Database(settings.resolved_database_url)
        if migrate:
            self.db.ensure_schema()
        self.store = EventStore(settings.resolved_events_path, settings.quarantine_path,
                                max_future_skew=timedelta(hours=settings.max_future_skew_hours))
        self._con: duckdb.DuckDBPyConnection | None = None
        # provider name -> constructor options (URLs, keys)
        self.provider_config: dict[str, dict] = {k: dict(v) for k, v in settings.providers.items()}

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The workspace's in-memory DuckDB connection (reads the Parquet store in place)."""
        if self._con is None:
            self._con = connect()
        return self._con

    @property
    def artifacts_path(self) -> Path:
        """Where generation artifacts are written (one folder per brand id)."""
        return self.settings.home.resolve() / "artifacts"

    def brand(self, name: str) -> "BrandScope":
        """A scope limited to brand ``name`` (created on first use)."""
        check_brand_name(name)
        with self.db.session() as s:
            brand_id = repo.brand_id(s, name)
        if brand_id is None:
            # A write transaction from the start: two processes creating the same brand
            # must queue, not fail on SQLite's read-to-write lock upgrade.
            with self.db.session(write=True) as s:
                brand_id = repo.get_or_create_brand(s, name).id
        return BrandScope(self, name, brand_id)

    def brands(self) -> list[str]:
        """Brands known to the application database or holding events."""
        with self.db.session() as s:
            names = set(repo.brand_names(s))
        return sorted(names | set(self.store.brands()))

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        self.db.dispose()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace(database={self.db.engine.url!r}, events={str(self.store.root)!r})"


class BrandScope:
    """Everything for one brand. No method returns another brand's rows."""

    def __init__(self, workspace: Workspace, name: str, brand_id: int):
        self.workspace, self.name, self.id = workspace, name, brand_id

    def __repr__(self) -> str:
        return f"BrandScope({self.name!r})"

    # -- events -----------------------------------------------------------------
    def ingest(self, source, *, progress: Callable[[int], None] | None = None) -> IngestReport:
        """Validate and append events (DataFrame, pyarrow Table, CSV, Parquet or JSON-lines path).

        Returns an IngestReport with ``accepted``, ``duplicates``, ``rejected`` and
        ``quarantine_path`` (the CSV holding rejected rows with a ``reason``).
        """
        report = self.workspace.store.ingest(self.name, source, progress=progress)
        with self.workspace.db.session(write=True) as s:
            repo.record_ingest(s, self.id, report)
        return report

    def events(self, since: datetime | str | None = None, until: datetime | str | None = None
               ) -> duckdb.DuckDBPyRelation:
        """This brand's events (``since <= ts < until``) as a DuckDB relation; ``.df()`` for pandas."""
        return self.workspace.store.relation(self.workspace.con, self.name, since=since, until=until)

    def events_table(self, con=None, *, segment=None):
        """This brand's events as an Ibis table on ``con`` (an Ibis connection; default: a new
        in-memory DuckDB one), limited to a segment's members when given (a saved segment's
        name, or a definition). Pass it to :mod:`workbench.analytics` to run the portable
        path, e.g. on Spark with ``con = workbench.spark.connect(spark)``."""
        import ibis

        if not self.workspace.store.files(self.name):
            raise NotFoundError(f"brand {self.name!r} has no events yet: ingest some first")
        con = con if con is not None else ibis.duckdb.connect()
        table = con.read_parquet(str(self.workspace.store.brand_dir(self.name) / "*.parquet"))
        return table if segment is None else segments_mod.filter_events(table, self._segment_spec(segment))

    # -- saved definitions ------------------------------------------------------
    @property
    def funnels(self) -> SavedFunnels:
        """Saved funnels: create / list / update / delete / calculate / results."""
        return SavedFunnels(self)

    @property
    def cohorts(self) -> SavedCohorts:
        """Saved retention cohorts: create / list / update / delete / calculate / results."""
        return SavedCohorts(self)

    @property
    def segments(self) -> SavedSegments:
        """Saved segments: create / list / update / delete / members / size / calculate."""
        return SavedSegments(self)

    @property
    def studio(self) -> "Studio":
        """AI Studio: generations, budgets, versions, collections, analytics."""
        from .studio import Studio
        return Studio(self)

    @property
    def predictions(self) -> Predictions:
        """Stored forecasts: create / create_many / list / get."""
        return Predictions(self)

    def forecast(self, metric: str = "revenue", horizon: int = 90, **kwargs) -> ForecastRun:
        """Forecast a daily metric with Prophet, backtest it against seasonal naive, and store
        the prediction (see :meth:`Predictions.create`)."""
        return self.predictions.create(metric, horizon, **kwargs)

    # -- analytics --------------------------------------------------------------
    def _segment_spec(self, segment) -> SegmentSpec:
        if isinstance(segment, str):
            return self.segments.get(segment)
        return segment_spec(segment)

    def scoped_events(self, *, segment=None, since=None, until=None) -> duckdb.DuckDBPyRelation:
        """Events in ``[since, until)``, limited to a segment's members when given
        (a saved segment's name, or a definition)."""
        rel = self.events(since, until)
        if segment is None:
            return rel
        return segments_mod.filter_events(rel, self._segment_spec(segment))

    def segment_users(self, segment, *, as_of=None) -> pd.DataFrame:
        """Members (``user_id``) of a saved segment (by name) or of a definition."""
        return segments_mod.segment_users(self.events(), self._segment_spec(segment), as_of=as_of)

    def funnel(self, steps, window, *, breakdown: str | None = None, segment=None, since=None,
               until=None) -> pd.DataFrame:
        """:func:`workbench.analytics.funnel` over this brand's events."""
        return analytics.funnel(self.scoped_events(segment=segment, since=since, until=until), steps, window,
                                breakdown=breakdown)

    def funnel_dropoff(self, steps, window, *, segment=None, since=None, until=None) -> pd.DataFrame:
        """:func:`workbench.analytics.funnel_dropoff` (drop-offs vs users still in their window)."""
        return analytics.funnel_dropoff(self.scoped_events(segment=segment, since=since, until=until), steps, window)

    def time_to_convert(self, steps, window, *, segment=None, since=None, until=None) -> pd.DataFrame:
        """:func:`workbench.analytics.time_to_convert` over this brand's events."""
        return analytics.time_to_convert(self.scoped_events(segment=segment, since=since, until=until), steps, window)

    def funnel_over_time(self, steps, window, *, period: str = "week", segment=None, since=None,
                         until=None) -> pd.DataFrame:
        """:func:`workbench.analytics.funnel_over_time` over this brand's events."""
        return analytics.funnel_over_time(self.scoped_events(segment=segment, since=since, until=until), steps,
                                          window, period=period)

    def revenue_curve(self, *, segment=None, since=None, until=None, **kwargs) -> pd.DataFrame:
        """:func:`workbench.analytics.revenue_curve` (cumulative revenue per cohort user)."""
        return analytics.revenue_curve(self.scoped_events(segment=segment, since=since, until=until), **kwargs)

    def retention(self, *, segment=None, since=None, until=None, **kwargs) -> pd.DataFrame:
        """:func:`workbench.analytics.retention` over this brand's events."""
        return analytics.retention(self.scoped_events(segment=segment, since=since, until=until), **kwargs)

    def daily_metrics(self, metrics: list[str] | None = None, *, segment=None, since=None,
                      until=None) -> pd.DataFrame:
        """:func:`workbench.analytics.daily_metrics` over this brand's events (zero-filled days)."""
        end = pd.Timestamp(until) - pd.Timedelta(days=1) if until is not None else None
        return analytics.daily_metrics(self.scoped_events(segment=segment, since=since, until=until), metrics,
                                       start=since, end=end)

    def correlations(self, metrics: list[str] | None = None, *, method: str = "pearson",
                     differences: bool = False, segment=None, since=None, until=None) -> pd.DataFrame:
        """Correlations between this brand's daily metrics."""
        daily = self.daily_metrics(metrics, segment=segment, since=since, until=until)
        return analytics.correlations(daily, method, differences=differences)

    def anomalies(self, metric: str = "active_users", *, segment=None, since=None, until=None,
                  **kwargs) -> pd.DataFrame:
        """Anomalies in one of this brand's daily metrics."""
        daily = self.daily_metrics([metric], segment=segment, since=since, until=until)
        return analytics.anomalies(daily[metric], **kwargs)

    def anomaly_digest(self, metrics: list[str], *, segment=None, since=None, until=None,
                       **kwargs) -> pd.DataFrame:
        """Anomalies of several daily metrics in one long frame (``metric`` first)."""
        daily = self.daily_metrics(metrics, segment=segment, since=since, until=until)
        parts = [analytics.anomalies(daily[m], **kwargs).assign(metric=m) for m in metrics]
        out = pd.concat(parts, ignore_index=True)
        return out[["metric", "ds", "value", "expected", "score", "is_anomaly"]]

    # -- reports ----------------------------------------------------------------
    def report(self, name: str, **parameters) -> "reports.ReportRun":
        """Run report notebook ``name`` (funnel, retention, prediction, kpi) to HTML and record it."""
        return reports.run_report(self, name, parameters)

    def reports(self) -> pd.DataFrame:
        """This brand's report runs, newest first."""
        return reports.list_reports(self)


def open_workspace(home: str | Path | None = None, *, database_url: str | None = None,
                   events_path: str | Path | None = None, migrate: bool = True) -> Workspace:
    """Open a workspace. With no arguments: SQLite and Parquet under ``./data``
    (or ``$WORKBENCH_HOME``); arguments override the environment."""
    settings = get_settings(home=home, database_url=database_url, events_path=events_path)
    return Workspace(settings, migrate=migrate)
