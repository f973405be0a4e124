"""Conversion of stores written before the Delta Lake layout (one Parquet file per ingest).

The old layout is ``<root>/brand=<name>/*.parquet`` without a ``_delta_log``. Converting a brand
reads its files, rewrites their rows into a new Delta table beside it (partitioned by day), checks
the row count is the same, and only then swaps the folders; a failed count leaves the old files
untouched and raises. Rows whose ``event_id`` was derived by the old rule (a pandas hash of the
row) get the id the new rule derives, so that re-ingesting a source ingested before the upgrade
is still recognised as duplicates.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..errors import WorkbenchError
from .table import PARTITION, EventTable

__all__ = ["legacy_brands", "convert_brand"]

log = logging.getLogger(__name__)


def legacy_brands(root: Path) -> list[str]:
    """Brands of ``root`` still in the old one-file-per-ingest layout."""
    return sorted(p.name.split("=", 1)[1] for p in Path(root).glob("brand=*")
                  if p.is_dir() and not (p / "_delta_log").exists() and any(p.glob("*.parquet")))


def _old_derived_ids(brand: str, frame: pd.DataFrame) -> pd.Series:
    """The ids the old rule derived for these (stored) rows: two seeded 64-bit pandas hashes."""
    key = pd.DataFrame({
        "b": brand, "u": frame["user_id"].astype("string"), "e": frame["event"].astype("string"),
        "t": frame["ts"].astype("datetime64[us, UTC]").astype("int64"),
        "r": frame["revenue"].astype("float64").fillna(np.nan),
        "p": frame["properties"].astype("string").fillna(""),
    })
    h1 = pd.util.hash_pandas_object(key, index=False, hash_key="workbench-event1").to_numpy()
    h2 = pd.util.hash_pandas_object(key, index=False, hash_key="workbench-event2").to_numpy()
    return pd.Series([f"{a:016x}{b:016x}" for a, b in zip(h1, h2)], index=frame.index, dtype="string")


def convert_brand(store, brand: str) -> dict:
    """Convert one brand's old files into its Delta table (under the brand's writer lock).

    Returns ``{"brand", "rows", "files", "version"}``; raises WorkbenchError if the converted table
    does not hold exactly the old row count.
    """
    from .store import connect
    from .validation import canonical_sql, derived_id_sql

    folder = store.brand_dir(brand)
    with store.lock(brand):
        files = sorted(folder.glob("*.parquet"))
        if (folder / "_delta_log").exists() or not files:
            return {"brand": brand, "rows": 0, "files": 0, "version": store.version(brand)}
        before = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        staging = store.root / f".convert-brand={brand}"
        shutil.rmtree(staging, ignore_errors=True)
        con = connect()
        try:
            frame = con.read_parquet([str(f) for f in files], union_by_name=True).df()
            derived = frame["event_id"].astype("string") == _old_derived_ids(brand, frame)
            con.register("__wb_old", frame.assign(__wb_derived=derived.fillna(False).to_numpy()))
            canon = canonical_sql("properties")
            derived = derived_id_sql("brand", "user_id", "event", "ts", "revenue", canon)
            rel = con.sql(f"""
                SELECT CASE WHEN __wb_derived THEN {derived} ELSE event_id END AS event_id,
                       brand, user_id, event, ts, revenue, {canon} AS properties,
                       CAST(ts AS DATE) AS {PARTITION}
                FROM __wb_old ORDER BY ts""")
            table = EventTable(staging)
            if before:
                table.append(rel.to_arrow_reader(batch_size=1_000_000))
            after = sum(table.open().get_add_actions(flatten=True).column("num_records").to_pylist()) if before else 0
        finally:
            con.close()
        if after != before:
            shutil.rmtree(staging, ignore_errors=True)
            raise WorkbenchError(f"converting brand {brand!r} to the Delta layout gave {after} rows for "
                                 f"{before}; the old files in {folder} were left as they were")
        backup = store.root / f".legacy-brand={brand}"
        shutil.rmtree(backup, ignore_errors=True)
        folder.rename(backup)
        staging.rename(folder)
        shutil.rmtree(backup, ignore_errors=True)
    log.warning("converted brand %s to the Delta layout: %d rows from %d files (checked)", brand, before, len(files))
    return {"brand": brand, "rows": before, "files": len(files), "version": store.version(brand)}
