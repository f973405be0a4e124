"""Event columns, validation and normalisation.

An event row has ``event_id`` (unique per brand; derived from the row's content
when absent, so re-ingesting an identical row is recognised as a duplicate),
``brand``, ``user_id``, ``event``, ``ts`` (UTC), ``revenue`` (nullable float) and
``properties`` (a JSON object stored as text, nullable). Columns a source has
beyond these are folded into ``properties``.

Validation never drops a row silently: every row ends up either normalised in
the ``good`` frame or, with its original values and a ``reason``, in ``bad``; the rules
are written in :mod:`workbench.events.validation`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pandas as pd
import pyarrow as pa

from ..errors import InvalidInputError

__all__ = ["EVENT_COLUMNS", "ARROW_SCHEMA", "Validated", "validate_events", "check_brand_name", "empty_events",
           "utc"]

EVENT_COLUMNS = ["event_id", "brand", "user_id", "event", "ts", "revenue", "properties"]
ARROW_SCHEMA = pa.schema([
    ("event_id", pa.string()),
    ("brand", pa.string()),
    ("user_id", pa.string()),
    ("event", pa.string()),
    ("ts", pa.timestamp("us", tz="UTC")),
    ("revenue", pa.float64()),
    ("properties", pa.string()),
])
_BRAND_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def check_brand_name(brand: str) -> str:
    """Return ``brand`` if it is a valid brand name, else raise InvalidInputError."""
    if not isinstance(brand, str) or not _BRAND_RE.match(brand):
        raise InvalidInputError(
            f"invalid brand name {brand!r}: use 1-64 lowercase letters, digits, '_' or '-', "
            "starting with a letter or digit")
    return brand


def utc(value) -> pd.Timestamp:
    """A date, datetime or timestamp text as a UTC timestamp (naive values are UTC, as stored)."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def empty_events() -> pa.Table:
    return ARROW_SCHEMA.empty_table()


@dataclass
class Validated:
    good: pd.DataFrame  # normalised, EVENT_COLUMNS, event_id filled
    bad: pd.DataFrame   # original values (as text) plus `reason`


def validate_events(frame: pd.DataFrame, brand: str, *, now: datetime | None = None,
                    max_future_skew: timedelta = timedelta(hours=24)) -> Validated:
    """Split raw rows into normalised good rows and rejected rows with reasons (the rules of
    :mod:`workbench.events.validation`, without touching any store).

    Parameters
    ----------
    frame : DataFrame
        Raw rows; needs at least ``user_id``, ``event`` and ``ts`` columns.
    brand : str
        The brand every row is ingested for. A ``brand`` column, if present, must
        match it on every row (mismatches are rejected, never re-assigned).
    now, max_future_skew
        Rows stamped after ``now + max_future_skew`` are rejected as far-future.

    Returns
    -------
    Validated
        ``good`` with columns EVENT_COLUMNS and ``bad`` with the original columns
        as text plus ``reason`` (several reasons are joined with "; ").
    """
    import duckdb

    from .sources import open_source
    from .validation import good_sql, rejected_rows_sql, stage

    check_brand_name(brand)
    now = now or datetime.now(timezone.utc)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        opened = open_source(con, frame)
        rel = opened.relation
        stage(con, rel, brand, latest=pd.Timestamp(now) + max_future_skew, in_memory=opened.in_memory)
        bad = con.sql(rejected_rows_sql(rel)).df()
        good = con.sql(f"SELECT * FROM ({good_sql(position=True)}) ORDER BY __wb_row").df()
    finally:
        con.close()
    return Validated(good=good[EVENT_COLUMNS].reset_index(drop=True), bad=bad.reset_index(drop=True))
