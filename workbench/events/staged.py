"""The staged batch of an ingest: where the validated rows are held, and how the rest reads them.

:func:`.validation.stage` makes it. Every query reads view or table ``__wb_staged``, which carries
each row's position in the source as ``__wb_row``: an Arrow table registered under that name when
the batch is held in memory, else a view over DuckDB table ``__wb_staged_rows`` (whose ``rowid``
is the position), which spills to disk beyond DuckDB's memory limit.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

__all__ = ["Staged", "STAGED", "ROWS", "STORED", "staged_view", "editable"]

STAGED = "__wb_staged"  # what every query reads: the staged rows with their position ``__wb_row``
ROWS = "__wb_staged_rows"  # the DuckDB table behind it, when the rows are not held in Arrow
STORED = ("event_id", "brand", "user_id", "event", "ts", "revenue", "properties", "day")


@dataclass
class Staged:
    """What :func:`.validation.stage` made: ``rows`` staged rows, held in ``arrow`` (the staged table, in
    source order) or, when that is None, in a DuckDB table."""
    rows: int
    arrow: pa.Table | None = None

    def may_repeat(self) -> bool:
        """Whether two good rows may share a day and ``event_id``. For rows held in Arrow, a sort of
        their 64-bit keys (``hash(event_id, day)``) answers "no" exactly when all keys differ, far
        cheaper than grouping the ids; equal keys (repeats, or very rarely a collision) answer
        "maybe", and so does a DuckDB-held batch."""
        if self.arrow is None:
            return True
        keys, reasons = self.arrow.column("__wb_key"), self.arrow.column("__wb_reason")
        if reasons.null_count < len(reasons):
            keys = keys.filter(reasons.is_null())
        ordered = np.sort(keys.to_numpy())
        return bool((ordered[1:] == ordered[:-1]).any())

    def all_good(self) -> pa.Table | None:
        """The stored columns (``STORED``) of every staged row, without a copy, when the rows are
        held in Arrow and none was rejected; None otherwise."""
        if self.arrow is None or self.arrow.column("__wb_reason").null_count < self.rows:
            return None
        return self.arrow.select(list(STORED))


def staged_view(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE OR REPLACE TEMP VIEW {STAGED} AS SELECT rowid AS __wb_row, * FROM {ROWS}")


def editable(con: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    """Move Arrow-held staged rows into a DuckDB table (``rowid`` is still the position), so that
    the fallbacks can update them: only when a fallback has something to fix."""
    if staged.arrow is None:
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ROWS} AS SELECT * EXCLUDE (__wb_row) FROM {STAGED} ORDER BY __wb_row")
    con.unregister(STAGED)
    staged_view(con)
    staged.arrow = None
