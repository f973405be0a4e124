"""The append-only event store: a Parquet dataset partitioned by brand.

Layout: ``<root>/brand=<name>/<utc-stamp>-<id>.parquet``. Each ingest writes one
new file under a temporary name and renames it into place, so a reader (another
process, a notebook) only ever sees whole files, and any number of processes can
read while one ingests. Writers of the same brand take a file lock, so that the
check for already-stored ``event_id`` values and the append are one step.

This module is the only one that opens DuckDB over the stored events.
"""
from __future__ import annotations

import fcntl
import logging
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .schema import ARROW_SCHEMA, check_brand_name, empty_events, validate_events
from .sources import describe_source, iter_chunks

__all__ = ["EventStore", "IngestReport", "connect"]

log = logging.getLogger(__name__)


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up for UTC event analytics."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    return con


@dataclass
class IngestReport:
    """What one ingest did: every input row is counted in exactly one of the three counts."""
    brand: str
    source: str
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    quarantine_path: Path | None = None
    data_file: Path | None = None
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.accepted + self.duplicates + self.rejected


class EventStore:
    """Brand-partitioned Parquet events, read in place by DuckDB.

    Parameters
    ----------
    root : Path
        Folder of the dataset.
    quarantine_root : Path
        Folder where rejected rows are kept, one CSV per ingest, with a ``reason`` column.
    """

    def __init__(self, root: Path, quarantine_root: Path, *, max_future_skew: timedelta = timedelta(hours=24)):
        self.root = Path(root)
        self.quarantine_root = Path(quarantine_root)
        self.max_future_skew = max_future_skew
        self.root.mkdir(parents=True, exist_ok=True)

    def brand_dir(self, brand: str) -> Path:
        return self.root / f"brand={check_brand_name(brand)}"

    def brands(self) -> list[str]:
        """Brands that have stored events."""
        return sorted(p.name.split("=", 1)[1] for p in self.root.glob("brand=*")
                      if p.is_dir() and any(p.glob("*.parquet")))

    def files(self, brand: str) -> list[Path]:
        return sorted(self.brand_dir(brand).glob("*.parquet"))

    # -- reading ----------------------------------------------------------------
    def relation(self, con: duckdb.DuckDBPyConnection, brand: str, *,
                 since: datetime | str | None = None, until: datetime | str | None = None) -> duckdb.DuckDBPyRelation:
        """A DuckDB relation over one brand's events, optionally limited to ``since <= ts < until``."""
        files = self.files(brand)
        if files:
            rel = con.read_parquet([str(f) for f in files], union_by_name=True)
        else:
            rel = con.from_arrow(empty_events())
        conds = []
        if since is not None:
            conds.append(f"ts >= TIMESTAMPTZ '{_iso(since)}'")
        if until is not None:
            conds.append(f"ts < TIMESTAMPTZ '{_iso(until)}'")
        return rel.filter(" AND ".join(conds)) if conds else rel

    def stored_ids(self, con: duckdb.DuckDBPyConnection, brand: str) -> None:
        """Load the brand's stored event ids into temp table ``_seen`` of ``con``."""
        files = self.files(brand)
        con.execute("CREATE OR REPLACE TEMP TABLE _seen (event_id VARCHAR)")
        if files:
            con.execute("INSERT INTO _seen SELECT event_id FROM read_parquet($files)", {"files": [str(f) for f in files]})

    # -- writing ----------------------------------------------------------------
    @contextmanager
    def _lock(self, brand: str) -> Iterator[None]:
        d = self.brand_dir(brand)
        d.mkdir(parents=True, exist_ok=True)
        with open(d / ".ingest.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def ingest(self, brand: str, source, *, progress: Callable[[int], None] | None = None) -> IngestReport:
        """Validate and append a source's rows for ``brand``.

        Good rows are appended in one new file, atomically; rows whose ``event_id``
        is already stored (or repeats earlier in the same source) are counted as
        duplicates and skipped; bad rows go to a quarantine CSV with a ``reason``.
        """
        check_brand_name(brand)
        report = IngestReport(brand=brand, source=describe_source(source))
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{uuid.uuid4().hex[:12]}"
        target = self.brand_dir(brand) / f"{name}.parquet"
        tmp = target.with_name(f".{name}.parquet.part")
        qpath = self.quarantine_root / f"brand={brand}" / f"{name}.csv"
        con = connect()
        writer: pq.ParquetWriter | None = None
        try:
            with self._lock(brand):
                self.stored_ids(con, brand)
                for chunk in iter_chunks(source):
                    if len(chunk) == 0:
                        continue
                    checked = validate_events(chunk, brand, max_future_skew=self.max_future_skew)
                    if len(checked.bad):
                        self._quarantine(qpath, checked.bad)
                        report.rejected += len(checked.bad)
                        for why in checked.bad["reason"]:
                            report.reasons[why] = report.reasons.get(why, 0) + 1
                    fresh = self._drop_seen(con, checked.good)
                    report.duplicates += len(checked.good) - fresh.num_rows
                    if fresh.num_rows:
                        if writer is None:
                            writer = pq.ParquetWriter(tmp, ARROW_SCHEMA, compression="zstd")
                        writer.write_table(fresh, row_group_size=1_000_000)
                        report.accepted += fresh.num_rows
                    if progress:
                        progress(len(chunk))
                if writer is not None:
                    writer.close()
                    writer = None
                    os.replace(tmp, target)  # atomic: readers see all of it or nothing
                    report.data_file = target
        finally:
            if writer is not None:
                writer.close()
            tmp.unlink(missing_ok=True)
            con.close()
        if report.rejected:
            report.quarantine_path = qpath
            log.warning("ingest %s: %d row(s) rejected, kept in %s", brand, report.rejected, qpath)
        log.info("ingest %s: %d accepted, %d duplicates, %d rejected",
                 brand, report.accepted, report.duplicates, report.rejected)
        return report

    @staticmethod
    def _drop_seen(con: duckdb.DuckDBPyConnection, good: pd.DataFrame) -> pa.Table:
        """Rows whose event_id is not stored yet (first occurrence wins), and remember them."""
        table = pa.Table.from_pandas(good, schema=ARROW_SCHEMA, preserve_index=False)
        table = table.append_column("_pos", pa.array(range(table.num_rows), pa.int64()))
        con.register("_chunk", table)
        try:
            fresh = con.sql("""
                SELECT * EXCLUDE (_rn, _pos) FROM (
                    SELECT c.*, row_number() OVER (PARTITION BY c.event_id ORDER BY c._pos) AS _rn
                    FROM _chunk c ANTI JOIN _seen s ON s.event_id = c.event_id
                ) WHERE _rn = 1 ORDER BY _pos
            """).to_arrow_table()
            con.register("_fresh", fresh)
            con.execute("INSERT INTO _seen SELECT event_id FROM _fresh")
            con.unregister("_fresh")
        finally:
            con.unregister("_chunk")
        return fresh.cast(ARROW_SCHEMA)

    @staticmethod
    def _quarantine(path: Path, bad: pd.DataFrame) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = not path.exists()
        bad.to_csv(path, mode="a", header=header, index=False)


def _iso(value: datetime | str) -> str:
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.isoformat()
