"""Workspace and BrandScope: the analyst-facing facade over storage, events and the services.

>>> import workbench as wb
>>> ws = wb.open()                 # embedded default: everything under ./data
>>> acme = ws.brand("acme")        # every read and write below is limited to "acme"
>>> acme.ingest("events.csv")
>>> acme.funnel(["view", "add_to_cart", "purchase"], "7d")
>>> bob = ws.brand("acme", user="bob")   # the same brand, acting as member bob

A scope holds a :class:`~workbench.context.BrandContext` and hands it to the services; it
adds nothing but names. ``ws.brand("acme")`` acts as the brand's local owner (an admin).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import duckdb
import pandas as pd

from . import reports as reports_mod
from .analyses import brand as analysis
from .analyses import ForecastRun, Predictions, SavedCohorts, SavedFunnels, SavedSegments
from .analytics import segments as segments_mod
from .collaboration import Collab, LinkView, Members, open_link
from .config import Settings, get_settings
from .context import LOCAL_OWNER, Actor, BrandContext, unknown_brand
from .domain import Role
from .errors import NotFoundError
from .events import EventStore, IngestReport, check_brand_name, connect
from .events.importing import import_options
from .events.service import EventData
from .storage import Database
from .storage import collaboration as crepo
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
                                max_future_skew=timedelta(hours=settings.max_future_skew_hours),
                                memory_limit=settings.ingest_memory_limit,
                                small_file_limit=settings.small_file_limit)
        self.store.convert_legacy()  # stores written before the Delta layout (cheap when there are none)
        self._con: duckdb.DuckDBPyConnection | None = None
        # provider name -> constructor options (URLs, keys)
        self.provider_config: dict[str, dict] = {k: dict(v) for k, v in settings.providers.items()}
        log.info("workspace: database %s, events %s", self.db.engine.url.render_as_string(hide_password=True),
                 self.store.root)

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

    def brand(self, name: str, *, user: str | None = None) -> "BrandScope":
        """A scope limited to brand ``name``, acting as its local owner, or as member ``user``
        (NotFoundError when there is no such member). Nothing is created by asking: reading a
        brand nothing was written to is a NotFoundError that suggests close names; the first
        write (ingest, a definition, a generation, a member...) creates it."""
        check_brand_name(name)
        with self.db.session() as s:
            brand_id = repo.brand_id(s, name)
            known = repo.brand_names(s)
        if brand_id is None and self.store.has_events(name):
            with self.db.session(write=True) as s:  # events stored before the brand was recorded
                brand_id = repo.get_or_create_brand(s, name).id
        actor = LOCAL_OWNER
        if user is not None:
            if brand_id is None:
                raise unknown_brand(name, known)
            with self.db.session() as s:
                member = crepo.member(s, brand_id, user) if isinstance(user, str) else None
                if member is None or member.name == crepo.OWNER_NAME:
                    raise NotFoundError(f"no member {user!r} in brand {name!r}")
                actor = Actor(user_id=member.id, name=member.name, role=Role(member.role))
        return self.scope(brand_id, name, actor)

    def scope(self, brand_id: int | None, name: str, actor: Actor) -> "BrandScope":
        """A scope for a brand and actor already looked up (the portal's signed-in member)."""
        ctx = BrandContext(db=self.db, store=self.store, settings=self.settings, known_id=brand_id, brand=name,
                           actor=actor, provider_config=self.provider_config, connection=lambda: self.con)
        return BrandScope(self, ctx)

    def brands(self) -> list[str]:
        """Brands known to the application database or holding events."""
        with self.db.session() as s:
            names = set(repo.brand_names(s))
        return sorted(names | set(self.store.brands()))

    def delete_brand(self, name: str) -> dict:
        """Delete a brand and everything of it: its rows in the application database, its events,
        quarantined rows, generation artifacts and rendered reports. Returns what was removed."""
        import shutil

        check_brand_name(name)
        with self.db.session() as s:
            brand_id = repo.brand_id(s, name)
            known = repo.brand_names(s)
        if brand_id is None and not self.store.has_events(name):
            raise unknown_brand(name, known)
        folders = [self.store.brand_dir(name), self.settings.quarantine_path / f"brand={name}",
                   self.settings.resolved_reports_path / name]
        if brand_id is not None:
            folders.append(self.artifacts_path / str(brand_id))
            with self.db.session(write=True) as s:
                repo.delete_brand(s, brand_id)
        removed = [str(f) for f in folders if f.exists()]
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        log.warning("deleted brand %s (%s)", name, ", ".join(removed) or "no files")
        return {"brand": name, "database": brand_id is not None, "folders": removed}

    def deliver(self, now: datetime | None = None) -> dict:
        """One delivery pass over every brand: due subscription slots are rendered once and their
        messages sent, failed sends retried (what the ``deliveries`` flow runs every minute)."""
        from .delivery import tick
        return tick(self, now)

    def open_link(self, token: str) -> LinkView:
        """What a public link shows (read-only; no sign-in): see :func:`workbench.collaboration.open_link`."""
        return open_link(self.db, token)

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


def _read_files(con, files: list[str]):
    """An Ibis table over exactly these Parquet files (not their folders: a Delta table's
    folders also hold files of other versions)."""
    if con.name == "duckdb":
        return con.read_parquet(files, hive_partitioning=False)
    if con.name == "pyspark":
        import uuid
        name = f"wb_events_{uuid.uuid4().hex[:12]}"
        con._session.read.parquet(*files).createOrReplaceTempView(name)  # noqa: SLF001 - Ibis keeps the session
        return con.table(name)
    return con.read_parquet(files)


class BrandScope:
    """Everything for one brand, as one acting user. No method returns another brand's rows."""

    def __init__(self, workspace: Workspace, context: BrandContext):
        self.workspace, self.context = workspace, context

    @property
    def name(self) -> str:
        return self.context.brand

    @property
    def id(self) -> int:
        return self.context.brand_id

    @property
    def user(self) -> str | None:
        """The acting member's name (None: the brand's local owner)."""
        return None if self.context.actor.is_local_owner else self.context.actor.name

    def __repr__(self) -> str:
        return f"BrandScope({self.name!r}" + (f", user={self.user!r})" if self.user else ")")

    # -- events -----------------------------------------------------------------
    def ingest(self, source, *, progress: Callable[[int], None] | None = None, **options) -> IngestReport:
        """Validate and append events (DataFrame, pyarrow Table, CSV, Parquet or JSON-lines path).

        ``options`` say how to read an export (:mod:`workbench.events.importing`): ``encoding``
        (detected when not given), ``columns={"distinct_id": "user_id", ...}``, ``dayfirst``,
        ``ts_format`` and ``decimal``. Returns an IngestReport with ``accepted``, ``duplicates``,
        ``rejected`` and ``quarantine_path`` (the CSV holding rejected rows with a ``reason``).
        """
        opts = import_options(options)
        brand_id = self.context.ensure_brand()
        report = self.workspace.store.ingest(self.name, source, progress=progress, options=opts)
        with self.workspace.db.session(write=True) as s:
            repo.record_ingest(s, brand_id, report)
        return report

    def events(self, since: datetime | str | None = None, until: datetime | str | None = None, *,
               version: int | None = None, as_of: datetime | str | None = None) -> duckdb.DuckDBPyRelation:
        """This brand's events (``since <= ts < until``) as a DuckDB relation; ``.df()`` for pandas.
        ``version`` (see ``acme.data.history()``) or ``as_of`` (a time) reads the table as it was."""
        return self.at(version, as_of=as_of).context.events(since, until)

    def at(self, version: int | None = None, *, as_of: datetime | str | None = None) -> "BrandScope":
        """This scope reading the events as they were at ``version`` or at time ``as_of`` (every
        analysis and stored result of the returned scope reads that version)."""
        if as_of is not None:
            version = self.workspace.store.version_at(self.name, as_of)
        if version is None:
            return self
        return BrandScope(self.workspace, self.context.at(int(version)))

    @property
    def data(self) -> EventData:
        """The event table's versions and upkeep: version, history, compact, vacuum, forget_user."""
        return EventData(self.context)

    def forget_user(self, user_id: str, *, vacuum: bool = False) -> dict:
        """Delete every event and quarantined row of ``user_id`` (see :meth:`EventData.forget_user`)."""
        return self.data.forget_user(user_id, vacuum=vacuum)

    def events_table(self, con=None, *, segment=None, version: int | None = None):
        """This brand's events as an Ibis table on ``con`` (an Ibis connection; default: a new
        in-memory DuckDB one), limited to a segment's members when given (a saved segment's
        name, or a definition). Pass it to :mod:`workbench.analytics` to run the portable
        path, e.g. on Spark with ``con = workbench.spark.connect(spark)``. It reads the files of
        one table version (the latest, the scope's, or ``version``)."""
        import ibis

        files = self.workspace.store.files(self.name, version=self.context.version if version is None else version)
        if not files:
            raise NotFoundError(f"brand {self.name!r} has no events yet: ingest some first")
        con = con if con is not None else ibis.duckdb.connect()
        table = _read_files(con, files)
        return table if segment is None else segments_mod.filter_events(
            table, analysis.segment_spec_of(self.context, segment))

    # -- services -----------------------------------------------------------------
    @property
    def funnels(self) -> SavedFunnels:
        """Saved funnels: create / list / update / delete / calculate / results."""
        return SavedFunnels(self.context)

    @property
    def cohorts(self) -> SavedCohorts:
        """Saved retention cohorts: create / list / update / delete / calculate / results."""
        return SavedCohorts(self.context)

    @property
    def segments(self) -> SavedSegments:
        """Saved segments: create / list / update / delete / members / size / calculate."""
        return SavedSegments(self.context)

    @property
    def studio(self) -> "Studio":
        """AI Studio: generations, budgets, versions, collections, analytics."""
        from .studio import Studio
        return Studio(self.context)

    @property
    def predictions(self) -> Predictions:
        """Stored forecasts: create / create_many / list / get."""
        return Predictions(self.context)

    @property
    def members(self) -> Members:
        """The brand's members and roles: add / list / set_role / remove."""
        return Members(self.context)

    @property
    def collab(self) -> Collab:
        """Shares, public links, comment threads and the audit log, as this scope's user."""
        return Collab(self.context)

    @property
    def subscriptions(self):
        """Report subscriptions: create / list / pause / resume / delete / runs."""
        from .delivery import Subscriptions
        return Subscriptions(self.context)

    @property
    def alerts(self):
        """Anomaly alerts on daily metrics: create / list / delete (checked nightly)."""
        from .delivery import Alerts
        return Alerts(self.context)

    def forecast(self, metric: str = "revenue", horizon: int = 90, **kwargs) -> ForecastRun:
        """Forecast a daily metric with Prophet, backtest it against seasonal naive, and store
        the prediction (see :meth:`Predictions.create`)."""
        return self.predictions.create(metric, horizon, **kwargs)

    # -- analytics (see workbench.analyses.brand) -----------------------------------
    def scoped_events(self, *, segment=None, since=None, until=None) -> duckdb.DuckDBPyRelation:
        """Events in ``[since, until)``, limited to a segment's members when given."""
        return analysis.scoped_events(self.context, segment=segment, since=since, until=until)

    def segment_users(self, segment, *, as_of=None) -> pd.DataFrame:
        """Members (``user_id``) of a saved segment (by name) or of a definition."""
        return analysis.segment_users(self.context, segment, as_of=as_of)

    def funnel(self, steps, window, *, breakdown: str | None = None, segment=None, since=None,
               until=None) -> pd.DataFrame:
        """:func:`workbench.analytics.funnel` over this brand's events."""
        return analysis.funnel(self.context, steps, window, breakdown=breakdown, segment=segment, since=since,
                               until=until)

    def funnel_dropoff(self, steps, window, *, segment=None, since=None, until=None) -> pd.DataFrame:
        """:func:`workbench.analytics.funnel_dropoff` (drop-offs vs users still in their window)."""
        return analysis.funnel_dropoff(self.context, steps, window, segment=segment, since=since, until=until)

    def time_to_convert(self, steps, window, *, segment=None, since=None, until=None) -> pd.DataFrame:
        """:func:`workbench.analytics.time_to_convert` over this brand's events."""
        return analysis.time_to_convert(self.context, steps, window, segment=segment, since=since, until=until)

    def funnel_over_time(self, steps, window, *, period: str = "week", segment=None, since=None,
                         until=None) -> pd.DataFrame:
        """:func:`workbench.analytics.funnel_over_time` over this brand's events."""
        return analysis.funnel_over_time(self.context, steps, window, period=period, segment=segment, since=since,
                                         until=until)

    def revenue_curve(self, *, segment=None, since=None, until=None, **kwargs) -> pd.DataFrame:
        """:func:`workbench.analytics.revenue_curve` (cumulative revenue per cohort user)."""
        return analysis.revenue_curve(self.context, segment=segment, since=since, until=until, **kwargs)

    def retention(self, *, segment=None, since=None, until=None, **kwargs) -> pd.DataFrame:
        """:func:`workbench.analytics.retention` over this brand's events."""
        return analysis.retention(self.context, segment=segment, since=since, until=until, **kwargs)

    def daily_metrics(self, metrics: list[str] | None = None, *, segment=None, since=None,
                      until=None) -> pd.DataFrame:
        """:func:`workbench.analytics.daily_metrics` over this brand's events (zero-filled days)."""
        return analysis.daily_metrics(self.context, metrics, segment=segment, since=since, until=until)

    def correlations(self, metrics: list[str] | None = None, *, method: str = "pearson",
                     differences: bool = False, segment=None, since=None, until=None) -> pd.DataFrame:
        """Correlations between this brand's daily metrics."""
        return analysis.correlations(self.context, metrics, method=method, differences=differences,
                                     segment=segment, since=since, until=until)

    def anomalies(self, metric: str = "active_users", *, segment=None, since=None, until=None,
                  **kwargs) -> pd.DataFrame:
        """Anomalies in one of this brand's daily metrics."""
        return analysis.anomalies(self.context, metric, segment=segment, since=since, until=until, **kwargs)

    def anomaly_digest(self, metrics: list[str], *, segment=None, since=None, until=None,
                       **kwargs) -> pd.DataFrame:
        """Anomalies of several daily metrics in one long frame (``metric`` first)."""
        return analysis.anomaly_digest(self.context, metrics, segment=segment, since=since, until=until, **kwargs)

    # -- reports ----------------------------------------------------------------
    def report(self, name: str, **parameters) -> "reports_mod.ReportRun":
        """Run report notebook ``name`` (funnel, retention, prediction, kpi) to HTML and record it."""
        return reports_mod.run_report(self.context, name, parameters)

    def get_report(self, report_id: int):
        """One recorded report run: name, parameters, status, paths (needs VIEW)."""
        return reports_mod.get_report(self.context, report_id)

    def rerun_report(self, report_id: int) -> "reports_mod.ReportRun":
        """Run a recorded report again with its parameters (needs EDIT on it)."""
        return reports_mod.rerun_report(self.context, report_id)

    def reports(self) -> pd.DataFrame:
        """This brand's report runs the acting user may view, newest first."""
        return reports_mod.list_reports(self.context)

    def delete_report(self, report_id: int) -> None:
        """Delete a report run (owner or brand admin)."""
        reports_mod.delete_report(self.context, report_id)


def open_workspace(home: str | Path | None = None, *, database_url: str | None = None,
                   events_path: str | Path | None = None, migrate: bool = True) -> Workspace:
    """Open a workspace. With no arguments: SQLite and Parquet under ``./data``
    (or ``$WORKBENCH_HOME``); arguments override the environment."""
    settings = get_settings(home=home, database_url=database_url, events_path=events_path)
    return Workspace(settings, migrate=migrate)
