"""The append-only event store: one Delta Lake table per brand, partitioned by UTC day.

Layout: ``<root>/brand=<name>/`` is that brand's Delta table (``_delta_log/`` plus Parquet files
under ``day=YYYY-MM-DD/``); ``<root>/.locks/`` holds one lock file per brand.

Ingest validates a whole batch in DuckDB (see :mod:`.validation`), writes rejected rows to a
quarantine CSV, drops duplicates and appends the rest as one Delta commit; a reader in any process
sees all of an ingest or none of it. An event is identified by its ``event_id`` within its UTC day
(as PostHog and Mixpanel deduplicate): the duplicate check reads only the ids stored in the day
partitions the batch touches, so its cost follows the batch, not the store. Writers of one brand
hold a file lock around check-and-append; compaction runs beside them (Delta's optimistic
concurrency resolves its commit), and readers never wait.

Every change is a table version: ``relation(..., version=)`` reads any version whose files were not
vacuumed, which is how stored results are re-run on the data they were computed on.

This module is the only one that opens DuckDB over the stored events.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import pandas as pd

from ..errors import InvalidInputError, NotFoundError
from .schema import check_brand_name, empty_events, utc
from .importing import ImportOptions, import_options
from .sources import UNREADABLE, describe_source, open_source, unreadable_lines
from .table import EventTable
from .staged import STAGED, Staged
from .validation import good_sql, literal, rejected_rows_sql, stage

__all__ = ["EventStore", "IngestReport", "connect"]

log = logging.getLogger(__name__)


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up for UTC event analytics."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    return con


@dataclass
class IngestReport:
    """What one ingest did: every input row is counted in exactly one of the three counts.

    ``version`` is the table version that made the accepted rows visible (None: nothing added).
    """
    brand: str
    source: str
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    quarantine_path: Path | None = None
    version: int | None = None
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.accepted + self.duplicates + self.rejected


class EventStore:
    """Brand tables in Delta Lake format, read in place by DuckDB.

    Parameters
    ----------
    root : Path
        Folder of the brand tables.
    quarantine_root : Path
        Folder where rejected rows are kept, one CSV per ingest, with a ``reason`` column.
    max_future_skew : timedelta
        Rows stamped later than now plus this are rejected.
    memory_limit : str
        DuckDB's memory limit while ingesting (beyond it, work spills to ``<root>/.tmp``).
    small_file_limit : int
        After an ingest, a day partition holding more small files than this is compacted.
    target_file_bytes : int
        Size compaction aims for.
    """

    def __init__(self, root: Path, quarantine_root: Path, *, max_future_skew: timedelta = timedelta(hours=24),
                 memory_limit: str = "2GB", small_file_limit: int = 16, target_file_bytes: int = 128 << 20):
        self.root = Path(root)
        self.quarantine_root = Path(quarantine_root)
        self.max_future_skew = max_future_skew
        self.memory_limit = memory_limit
        self.small_file_limit = small_file_limit
        self.target_file_bytes = target_file_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def brand_dir(self, brand: str) -> Path:
        return self.root / f"brand={check_brand_name(brand)}"

    def table(self, brand: str) -> EventTable:
        return EventTable(self.brand_dir(brand))

    def brands(self) -> list[str]:
        """Brands that have a table of events."""
        return sorted(p.name.split("=", 1)[1] for p in self.root.glob("brand=*")
                      if (p / "_delta_log").is_dir())

    def has_events(self, brand: str) -> bool:
        return (self.brand_dir(brand) / "_delta_log").is_dir()

    def version(self, brand: str) -> int | None:
        """The brand table's latest version (None: no events were ever stored)."""
        return self.table(brand).version()

    def files(self, brand: str, *, version: int | None = None, as_of: datetime | None = None,
              since: datetime | str | None = None, until: datetime | str | None = None) -> list[str]:
        """The Parquet files of one table version (default latest), pruned to days that can hold
        ``since <= ts < until``."""
        dt = self.table(brand).open(version, as_of)
        if dt is None:
            if version is not None:
                raise NotFoundError(f"brand {brand!r} has no version {version} of its events")
            return []
        return EventTable.files(dt, since=_day(since), until=_day(until))

    # -- reading ----------------------------------------------------------------
    def relation(self, con: duckdb.DuckDBPyConnection, brand: str, *,
                 since: datetime | str | None = None, until: datetime | str | None = None,
                 version: int | None = None, as_of: datetime | None = None) -> duckdb.DuckDBPyRelation:
        """A DuckDB relation over one brand's events (``since <= ts < until``) at a table version."""
        files = self.files(brand, version=version, as_of=as_of, since=since, until=until)
        if files:
            missing = [f for f in files[:1] + files[-1:] if not Path(f).exists()]
            if missing:
                raise NotFoundError(f"version {version} of brand {brand!r}'s events is no longer readable: "
                                    "its files were removed by vacuum")
            rel = con.read_parquet(files, hive_partitioning=False, union_by_name=True)
        else:
            rel = con.from_arrow(empty_events())
        conds = []
        if since is not None:
            conds.append(f"ts >= TIMESTAMPTZ '{_iso(since)}'")
        if until is not None:
            conds.append(f"ts < TIMESTAMPTZ '{_iso(until)}'")
        return rel.filter(" AND ".join(conds)) if conds else rel

    # -- writing ----------------------------------------------------------------
    @contextmanager
    def lock(self, brand: str) -> Iterator[None]:
        """The brand's writer lock (check-and-append, deletes, conversion)."""
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"brand={check_brand_name(brand)}.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _ingest_connection(self) -> tuple[duckdb.DuckDBPyConnection, Path]:
        con = connect()
        # the ingest's own scratch folder: DuckDB creates it only if it spills (most ingests do not)
        (self.root / ".tmp").mkdir(exist_ok=True)
        tmp = self.root / ".tmp" / uuid.uuid4().hex
        con.execute(f"SET memory_limit = '{self.memory_limit}'")
        con.execute(f"SET temp_directory = '{tmp}'")
        con.execute("SET preserve_insertion_order = true")
        return con, tmp

    def ingest(self, brand: str, source, *, progress: Callable[[int], None] | None = None,
               options: ImportOptions | dict | None = None) -> IngestReport:
        """Validate and append a source's rows for ``brand``, read as ``options`` say (see
        :mod:`.importing`: encoding, column names, dates, amounts).

        Good rows are appended as one table version; rows whose ``event_id`` is already stored
        for their day (or repeats earlier in the same source) are counted as duplicates and
        skipped; bad rows, and lines that could not be read at all (with their line number), go
        to a quarantine CSV with a ``reason``.
        """
        check_brand_name(brand)
        options = import_options(options)
        report = IngestReport(brand=brand, source=describe_source(source))
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        qpath = self.quarantine_root / f"brand={brand}" / f"{stamp}-{uuid.uuid4().hex[:12]}.csv"
        con, tmp = self._ingest_connection()
        clock = _Phases()
        try:
            opened = open_source(con, source, options, scratch=tmp)
            clock.lap("open")
            try:
                staged = stage(con, opened.relation, brand, options, in_memory=opened.in_memory,
                               latest=datetime.now(timezone.utc) + self.max_future_skew)
            except duckdb.Error as exc:
                raise InvalidInputError(f"cannot read {report.source}: {str(exc).splitlines()[0]}") from exc
            total = staged.rows + unreadable_lines(con, opened)
            clock.lap("validate")
            self._quarantine(con, opened.relation, qpath, report)
            clock.lap("quarantine")
            if progress:
                progress(total)
            with self.lock(brand):
                clock.lap("wait for lock")
                self._append_fresh(con, brand, staged, report, clock)
        finally:
            con.close()
            shutil.rmtree(tmp, ignore_errors=True)
        log.debug("ingest %s phases: %s", brand, clock)
        report.duplicates = total - report.accepted - report.rejected
        if report.rejected:
            report.quarantine_path = qpath
            log.warning("ingest %s: %d row(s) rejected, kept in %s", brand, report.rejected, qpath)
        log.info("ingest %s: %d accepted, %d duplicates, %d rejected (version %s)",
                 brand, report.accepted, report.duplicates, report.rejected, report.version)
        return report

    @staticmethod
    def _quarantine(con: duckdb.DuckDBPyConnection, source: duckdb.DuckDBPyRelation, path: Path,
                    report: IngestReport) -> None:
        """Count rejections by reason, and write the rejected rows' original values with their
        reason (the source is read again only when something was rejected)."""
        counts = con.sql(f"SELECT __wb_reason, count(*) FROM {STAGED} WHERE __wb_reason IS NOT NULL "
                         "GROUP BY ALL ORDER BY 1").fetchall()
        report.reasons = {r: int(n) for r, n in counts}
        unreadable = con.sql(f"SELECT count(*) FROM {UNREADABLE}").fetchall()[0][0]
        if unreadable:
            report.reasons["unreadable line"] = int(unreadable)
        report.rejected = sum(report.reasons.values())
        if not report.rejected:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = (f" UNION ALL BY NAME (SELECT reason, raw_line FROM {UNREADABLE} ORDER BY line)"
                 if unreadable else "")
        rows = rejected_rows_sql(source) if report.rejected > unreadable else ""
        query = f"({rows}){lines}" if rows else f"SELECT reason, raw_line FROM {UNREADABLE} ORDER BY line"
        con.execute(f"COPY ({query}) TO {literal(str(path))} (HEADER, DELIMITER ',')")

    def _append_fresh(self, con: duckdb.DuckDBPyConnection, brand: str, staged: Staged, report: IngestReport,
                      clock: "_Phases") -> None:
        """Under the brand's lock: drop rows already stored for their day, append the rest."""
        table = self.table(brand)
        days = [d for (d,) in con.sql(f"SELECT DISTINCT day FROM {STAGED} WHERE __wb_reason IS NULL").fetchall()]
        if not days:
            return
        dt = table.open()
        stored = EventTable.files(dt, days=days) if dt is not None else []
        conds = []
        # repeats within the batch: an aggregate finds the (usually no) repeated keys and their first row
        if staged.may_repeat():
            con.execute(f"CREATE OR REPLACE TEMP TABLE __wb_repeats AS SELECT day, event_id, min(__wb_row) AS first_row "
                        f"FROM {STAGED} WHERE __wb_reason IS NULL GROUP BY day, event_id HAVING count(*) > 1")
            if con.sql("SELECT count(*) FROM __wb_repeats").fetchall()[0][0]:
                conds.append("NOT EXISTS (SELECT 1 FROM __wb_repeats r WHERE r.event_id = g.event_id "
                             "AND r.day = g.day AND r.first_row <> g.__wb_row)")
        if stored:
            # the batch's keys already stored: a semi join probes the stored ids against the batch
            # (a hash table of the batch, not of the day's stored ids); a file's day is its folder's
            # (day=...), so only the ids are read
            con.execute("CREATE OR REPLACE TEMP VIEW __wb_stored AS SELECT event_id, day FROM read_parquet("
                        f"[{', '.join(literal(f) for f in stored)}], hive_partitioning = true, "
                        "hive_types = {'day': DATE})")
            con.execute(f"CREATE OR REPLACE TEMP TABLE __wb_known AS SELECT s.day, s.event_id FROM __wb_stored s "
                        f"SEMI JOIN ({good_sql()}) g ON s.event_id = g.event_id AND s.day = g.day")
            if con.sql("SELECT count(*) FROM __wb_known").fetchall()[0][0]:
                conds.append("NOT EXISTS (SELECT 1 FROM __wb_known k WHERE k.event_id = g.event_id AND k.day = g.day)")
        clock.lap("find duplicates")
        every_row = None if conds else staged.all_good()
        if every_row is not None:  # held in Arrow, all good and new: written as they are
            fresh = every_row.to_reader()
        else:
            query = con.sql(f"SELECT * EXCLUDE (__wb_row) FROM ({good_sql(position=True)}) g "
                            + ("WHERE " + " AND ".join(conds) if conds else ""))
            # a batch held in memory is exported in parallel; a larger one streams
            fresh = query.to_arrow_table().to_reader() if staged.arrow is not None else query.to_arrow_reader(262_144)
        counted = _Counted(fresh)
        if counted.empty:
            return
        dt = table.append(counted.reader(), dt)
        report.version = dt.version()
        report.accepted = counted.rows
        clock.lap("write")
        crowded = EventTable.small_file_days(dt, [d.isoformat() for d in days],
                                             small_bytes=self.target_file_bytes // 4, limit=self.small_file_limit)
        if crowded:
            out = table.compact(crowded, target_bytes=self.target_file_bytes)
            log.info("compacted %s day(s) of %s: %s files merged into %s", len(crowded), brand,
                     out.get("numFilesRemoved"), out.get("numFilesAdded"))
            clock.lap("compact")

    def version_at(self, brand: str, as_of: datetime | str) -> int:
        """The version that was the latest at time ``as_of``."""
        dt = self.table(brand).open(as_of=utc(as_of).to_pydatetime())
        if dt is None:
            raise NotFoundError(f"brand {brand!r} has no events")
        return dt.version()

    # -- upkeep -----------------------------------------------------------------
    def convert_legacy(self) -> list[dict]:
        """Convert every brand still in the pre-Delta layout (row counts checked); see :mod:`.legacy`."""
        from .legacy import convert_brand, legacy_brands
        return [convert_brand(self, b) for b in legacy_brands(self.root)]

    def compact(self, brand: str) -> dict:
        """Merge each day partition's small files into files of about ``target_file_bytes``."""
        out = self.table(brand).compact(None, target_bytes=self.target_file_bytes)
        return {"brand": brand, "files_removed": int(out.get("numFilesRemoved", 0)),
                "files_added": int(out.get("numFilesAdded", 0)), "version": self.version(brand)}

    def vacuum(self, brand: str, *, retention: timedelta = timedelta(days=7)) -> list[str]:
        """Delete data files that no version younger than ``retention`` reads, and files of
        writers that never committed. Versions older than that can no longer be read."""
        removed = self.table(brand).vacuum(retention, full=retention >= timedelta(hours=1))
        cutoff = time.time() - 3600
        for scratch in (self.root / ".tmp").glob("*"):  # spill folders of ingests that were killed
            if scratch.is_dir() and scratch.stat().st_mtime < cutoff:
                shutil.rmtree(scratch, ignore_errors=True)
        log.info("vacuum %s: %d file(s) removed", brand, len(removed))
        return removed

    def forget_user(self, brand: str, user_id: str) -> dict:
        """Delete every event and quarantined row of ``user_id``; the deleting version is returned.
        The user's rows stay in files of earlier versions until :meth:`vacuum` removes them."""
        if not isinstance(user_id, str) or not user_id.strip():
            raise InvalidInputError("forget_user needs a non-empty user_id")
        digest = hashlib.sha256(user_id.encode()).hexdigest()
        with self.lock(brand):
            # the commit log keeps the delete's predicate: it names the user by SHA-256 only
            out = self.table(brand).delete(f"encode(sha256(user_id), 'hex') = '{digest}'")
            quarantined = _forget_in_quarantine(self.quarantine_root / f"brand={brand}", user_id)
        return {"brand": brand, "user_sha256": digest, "events_deleted": int(out.get("num_deleted_rows", 0)),
                "quarantined_deleted": quarantined, "version": self.version(brand)}

    def history(self, brand: str, limit: int | None = 20) -> pd.DataFrame:
        """The table's versions, newest first: ``version``, ``timestamp``, ``operation``, ``rows_added``."""
        rows = []
        for h in self.table(brand).history(limit):
            metrics = h.get("operationMetrics") or {}
            rows.append({"version": h.get("version"), "timestamp": pd.Timestamp(h.get("timestamp"), unit="ms", tz="UTC"),
                         "operation": h.get("operation"),
                         "rows_added": metrics.get("num_added_rows", metrics.get("numOutputRows"))})
        return pd.DataFrame(rows, columns=["version", "timestamp", "operation", "rows_added"])


class _Phases:
    """Seconds spent in each phase of an ingest (logged at DEBUG)."""

    def __init__(self):
        self._last, self.seconds = time.perf_counter(), {}

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._last
        self._last = now

    def __str__(self) -> str:
        return ", ".join(f"{p} {s:.3f} s" for p, s in self.seconds.items())


class _Counted:
    """A record-batch stream that counts its rows as they pass (and knows whether it is empty)."""

    def __init__(self, reader):
        self._source, self.rows = reader, 0
        self._first = next((b for b in reader if b.num_rows), None)

    @property
    def empty(self) -> bool:
        return self._first is None

    def _batches(self):
        self.rows += self._first.num_rows
        yield self._first
        for batch in self._source:
            self.rows += batch.num_rows
            yield batch
        self._source.close()  # DuckDB's result is released as soon as the last batch is out

    def reader(self):
        import pyarrow as pa
        return pa.RecordBatchReader.from_batches(self._source.schema, self._batches())


def _forget_in_quarantine(folder: Path, user_id: str) -> int:
    """Rewrite quarantine CSVs without ``user_id``'s rows; returns how many rows were removed."""
    removed = 0
    for path in sorted(folder.glob("*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "user_id" not in frame.columns:
            continue
        keep = frame["user_id"].str.strip() != user_id
        if keep.all():
            continue
        removed += int((~keep).sum())
        tmp = path.with_suffix(".csv.part")
        frame[keep].to_csv(tmp, index=False)
        tmp.replace(path)
    return removed


def _day(value: datetime | str | None) -> date | None:
    return None if value is None else utc(value).date()


def _iso(value: datetime | str) -> str:
    return utc(value).isoformat()
