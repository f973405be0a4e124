"""One brand's events as a Delta Lake table (delta-rs), partitioned by UTC day.

Delta gives what the store needs without home-made bookkeeping: a commit log that makes every
append, compaction and deletion one atomic version (readers in other processes see whole versions
only), optimistic concurrency between writers, time travel to any version whose files have not
been vacuumed, and files any engine can read (Spark, DuckDB, Polars). Data files are plain Parquet
under ``day=YYYY-MM-DD/`` folders; the partition column ``day`` lives in the folder name only, so
reading a version's files directly (as DuckDB does) gives exactly the event columns.

The table never uses deletion vectors or column mapping: a version is exactly its list of files.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterable

import pyarrow as pa
from deltalake import ColumnProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import AddAction

from ..errors import NotFoundError
from .schema import ARROW_SCHEMA

__all__ = ["EventTable", "PARTITION", "TABLE_SCHEMA"]

log = logging.getLogger(__name__)

PARTITION = "day"
SLAB_ROWS = 1_000_000  # rows handed to delta-rs at once (it holds them in memory until it commits)
TABLE_SCHEMA = pa.schema(list(ARROW_SCHEMA) + [pa.field(PARTITION, pa.date32())])
# dictionary encoding only where values repeat (brand, user, event): for ids, timestamps, amounts and
# properties it costs time in every file and saves nothing. No min/max statistics for users and
# properties: files are not ordered by them, so their ranges would prune nothing, and computing them
# compares every value. Event ids keep theirs: the duplicate check's join skips stored row groups
# whose id range misses the batch's (time-ordered ids such as ULIDs: 3.6 ms instead of 12 ms for a
# day of 137k events)
_NO_DICTIONARY = ("event_id", "ts", "revenue", "properties")
_NO_STATS = ("user_id", "properties")
_WRITER = WriterProperties(compression="ZSTD", max_row_group_size=1_000_000, column_properties={
    c: ColumnProperties(dictionary_enabled=False if c in _NO_DICTIONARY else None,
                        statistics_enabled="NONE" if c in _NO_STATS else None)
    for c in (*_NO_DICTIONARY, *_NO_STATS)})
# file statistics only for the columns reads filter on: user ids (personal data) never land in the log
_CONFIG = {"delta.logRetentionDuration": "interval 3650 days", "delta.checkpointInterval": "10",
           "delta.dataSkippingStatsColumns": "event,ts,revenue"}


def _rows_upto(batches, limit: int):
    """Batches from ``batches`` until about ``limit`` rows have passed (the last one may overrun)."""
    rows = 0
    for batch in batches:
        yield batch
        rows += batch.num_rows
        if rows >= limit:
            return


def _day_list(days: Iterable[date | str]) -> list[str]:
    return sorted({d if isinstance(d, str) else d.isoformat() for d in days})


class EventTable:
    """The Delta table of one brand at ``path`` (which may not exist yet)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def open(self, version: int | None = None, as_of: datetime | None = None) -> DeltaTable | None:
        """The table at ``version`` (or at the time ``as_of``; default: latest); None if none exists."""
        if not (self.path / "_delta_log").is_dir():
            return None
        try:
            dt = DeltaTable(str(self.path))
            if version is not None:
                if version < 0 or version > dt.version():
                    raise NotFoundError(f"no version {version} of these events: versions are 0 to {dt.version()}")
                dt.load_as_version(version)
            elif as_of is not None:
                dt.load_as_version(as_of)
            return dt
        except TableNotFoundError:
            return None

    def version(self) -> int | None:
        dt = self.open()
        return None if dt is None else dt.version()

    @staticmethod
    def files(dt: DeltaTable, days: Iterable[date | str] | None = None,
              since: date | None = None, until: date | None = None) -> list[str]:
        """Data files of a table version, pruned to some days or to ``since <= day <= until``."""
        filters = []
        if days is not None:
            wanted = _day_list(days)
            if not wanted:
                return []
            filters.append((PARTITION, "in", wanted))
        if since is not None:
            filters.append((PARTITION, ">=", since.isoformat()))
        if until is not None:
            filters.append((PARTITION, "<=", until.isoformat()))
        return [_local(u) for u in dt.file_uris(file_pruning_predicate=filters or None)]

    def append(self, data: pa.RecordBatchReader, dt: DeltaTable | None = None) -> DeltaTable:
        """Append batches (the event columns plus ``day``) as one commit to ``dt`` (the table as
        already opened; None: create it); returns the table at the new version.

        Up to SLAB_ROWS rows are handed to delta-rs at once. A larger stream is written slab by
        slab into a scratch table beside this one (delta-rs keeps what it writes in memory until a
        commit), its files are then moved in and committed here in one transaction: memory stays
        bounded and readers still see all of the append or none of it."""
        batches = (b.cast(TABLE_SCHEMA) for b in data)
        first, rows = [], 0
        for batch in batches:
            first.append(batch)
            rows += batch.num_rows
            if rows > SLAB_ROWS:
                break
        else:
            self._write(dt, pa.Table.from_batches(first, TABLE_SCHEMA))  # a table: delta-rs writes it faster than a stream
            return self._refreshed(dt)
        self._append_in_slabs(dt, itertools.chain(first, batches))
        return self._refreshed(dt)

    def _write(self, dt: DeltaTable | None, data: pa.Table) -> None:
        write_deltalake(dt if dt is not None else str(self.path), data, mode="append", partition_by=[PARTITION],
                        writer_properties=_WRITER, configuration=_CONFIG)

    def _refreshed(self, dt: DeltaTable | None) -> DeltaTable:
        if dt is None:
            return DeltaTable(str(self.path))
        dt.update_incremental()
        return dt

    def _append_in_slabs(self, dt: DeltaTable | None, batches) -> None:
        scratch = self.path.parent / ".staging" / f"{self.path.name}-{uuid.uuid4().hex}"
        try:
            while True:
                slab = list(_rows_upto(batches, SLAB_ROWS))
                if not slab:
                    break
                write_deltalake(str(scratch), pa.Table.from_batches(slab, TABLE_SCHEMA),
                                mode="append", partition_by=[PARTITION], writer_properties=_WRITER)
                del slab
            staged = DeltaTable(str(scratch)).get_add_actions(flatten=True)
            staged = pa.table(staged) if not isinstance(staged, pa.Table) else staged
            actions = []
            for rel, size, records, day in zip(*(staged.column(c).to_pylist() for c in
                                                  ("path", "size_bytes", "num_records", f"partition.{PARTITION}"))):
                target = self.path / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(scratch / rel, target)  # same filesystem: a rename; uncommitted until the commit
                day = day if isinstance(day, str) else day.isoformat()
                actions.append(AddAction(rel, size, {PARTITION: day}, int(target.stat().st_mtime * 1000), True,
                                         json.dumps({"numRecords": records})))
            if dt is None:
                dt = DeltaTable.create(str(self.path), TABLE_SCHEMA, partition_by=[PARTITION], configuration=_CONFIG,
                                       mode="ignore")
            dt.create_write_transaction(actions, mode="append", schema=TABLE_SCHEMA, partition_by=[PARTITION])
            log.info("appended %d files to %s in one commit", len(actions), self.path)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    @staticmethod
    def small_file_days(dt: DeltaTable, days: Iterable[str], *, small_bytes: int, limit: int) -> list[str]:
        """Of ``days``, those whose partition holds more than ``limit`` files under ``small_bytes``
        (read from the table's file list, no file is opened)."""
        actions = dt.get_add_actions(flatten=True)
        actions = pa.table(actions) if not isinstance(actions, pa.Table) else actions
        sizes = actions.column("size_bytes").to_pylist()
        parts = actions.column(f"partition.{PARTITION}").to_pylist()
        wanted, counts = set(_day_list(days)), {}
        for day, size in zip(parts, sizes):
            key = day if isinstance(day, str) else day.isoformat()
            if key in wanted and size < small_bytes:
                counts[key] = counts.get(key, 0) + 1
        return sorted(d for d, n in counts.items() if n > limit)

    def _committed(self, change, empty: dict) -> dict:
        """``change(dt)`` on the latest table (``empty`` when there is none); when another writer
        committed first, the table is read again and the change tried again (three times in all)."""
        for attempt in range(3):
            dt = self.open()
            if dt is None:
                return empty
            try:
                return change(dt)
            except CommitFailedError:
                if attempt == 2:
                    raise
                log.info("%s met a concurrent commit; retrying", self.path)
                time.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    def compact(self, days: Iterable[str] | None = None, *, target_bytes: int) -> dict:
        """Merge small files (of some days, or all) in one commit, then write a checkpoint so that
        readers replay one Parquet file instead of every commit."""
        filters = None if days is None else [(PARTITION, "in", _day_list(days))]

        def merge(dt: DeltaTable) -> dict:
            out = dt.optimize.compact(partition_filters=filters, target_size=target_bytes, writer_properties=_WRITER)
            if out.get("numFilesRemoved"):
                dt.create_checkpoint()
            return out
        return self._committed(merge, {"numFilesAdded": 0, "numFilesRemoved": 0})

    def delete(self, predicate: str) -> dict:
        """Delete matching rows (files rewritten without them) in one commit."""
        return self._committed(lambda dt: dt.delete(predicate, writer_properties=_WRITER), {"num_deleted_rows": 0})

    def vacuum(self, retention: timedelta, *, full: bool = False) -> list[str]:
        """Delete files no version newer than ``retention`` needs (``full``: also unreferenced files
        older than it, such as those of a killed writer)."""
        dt = self.open()
        if dt is None:
            return []
        return dt.vacuum(retention_hours=int(retention.total_seconds() // 3600), dry_run=False,
                         enforce_retention_duration=False, full=full)

    def history(self, limit: int | None = None) -> list[dict]:
        dt = self.open()
        return [] if dt is None else dt.history(limit)


def _local(uri: str) -> str:
    return uri[len("file://"):] if uri.startswith("file://") else uri
