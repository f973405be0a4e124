"""Turn any accepted ``events`` value into a DuckDB relation with standard columns.

Analytics accept a pandas DataFrame, a pyarrow Table, a DuckDB relation or a
Parquet path/glob. They compute with an in-memory DuckDB engine and return
pandas frames; they never write anywhere.
"""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from ..errors import InvalidInputError, MissingColumnsError

__all__ = ["as_relation", "source_relation", "parse_window", "window_us", "breakdown_source", "quote", "literal"]

_WINDOW_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def quote(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(value: str) -> str:
    """Quote an SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def parse_window(window) -> timedelta:
    """A positive ``timedelta`` from a timedelta or a string such as ``"7d"``, ``"36h"``, ``"90m"``."""
    if isinstance(window, str):
        m = _WINDOW_RE.match(window)
        if not m:
            raise InvalidInputError(
                f"window {window!r} is not understood: use a timedelta or a string like '7d', '36h', '90m', '2w'")
        window = timedelta(**{_UNITS[m.group(2).lower()]: float(m.group(1))})
    elif isinstance(window, pd.Timedelta):
        window = window.to_pytimedelta()
    if not isinstance(window, timedelta):
        raise InvalidInputError(f"window must be a timedelta or a string like '7d', not {type(window).__name__}")
    if window <= timedelta(0):
        raise InvalidInputError(f"window must be positive, got {window}")
    return window


def window_us(window: timedelta) -> int:
    """A window in whole microseconds (the funnels compare integer epoch microseconds)."""
    return int(window / timedelta(microseconds=1))


def breakdown_source(breakdown: str, columns: list[str]) -> tuple[str, str]:
    """Where a breakdown's values come from: ``("column", name)`` or ``("json", key)`` (a key
    of the JSON ``properties`` column). ``"properties.country"`` is always the key; a bare
    name is a column when the events have one, else a properties key."""
    if breakdown.startswith("properties.") and "properties" in columns:
        return "json", breakdown.split(".", 1)[1]
    if breakdown in columns:
        return "column", breakdown
    if "properties" in columns:
        return "json", breakdown
    raise InvalidInputError(
        f"breakdown {breakdown!r} is neither a column of the events ({', '.join(columns)}) "
        "nor usable as a properties key (there is no properties column)")


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    return con


def _time_expr(col: str, sql_type: str, time: str) -> str:
    """UTC time of ``col`` whatever its type; independent of the connection's TimeZone."""
    aware = "TIME ZONE" in sql_type or "TZ" in sql_type
    if time == "epoch_us":
        if sql_type in ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE"):
            return f"epoch_us({col})"  # a naive TIMESTAMP is taken as UTC; an aware one is absolute
        return f"epoch_us(CAST({col} AS {'TIMESTAMPTZ' if aware or sql_type == 'VARCHAR' else 'TIMESTAMP'}))"
    if sql_type == "VARCHAR" or aware:
        return f"timezone('UTC', CAST({col} AS TIMESTAMPTZ))"
    return col if sql_type == "TIMESTAMP" else f"CAST({col} AS TIMESTAMP)"


def source_relation(events, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyRelation:
    """The events as a DuckDB relation, columns untouched (a string or Path is read as Parquet)."""
    if isinstance(events, duckdb.DuckDBPyRelation):
        return events
    con = con or _connect()
    if isinstance(events, pd.DataFrame):
        return con.from_df(events)
    if isinstance(events, pa.Table):
        return con.from_arrow(events)
    if isinstance(events, (str, Path)):
        try:
            return con.read_parquet(str(events), union_by_name=True)
        except duckdb.Error as exc:
            raise InvalidInputError(f"cannot read Parquet events at {events}: {exc}") from exc
    raise InvalidInputError(
        f"events must be a DataFrame, pyarrow Table, DuckDB relation or Parquet path, not {type(events).__name__}")


def as_relation(events, *, required: dict[str, str], optional: dict[str, str] | None = None,
                expressions: dict[str, str] | None = None, time: str = "timestamp",
                con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyRelation:
    """Select and rename the columns an analysis needs.

    Parameters
    ----------
    events : DataFrame | pyarrow.Table | DuckDBPyRelation | str | Path
        The event log (a string or Path is read as Parquet; globs allowed).
    required : dict
        ``{standard_name: column_in_events}``; a missing one raises MissingColumnsError.
    optional : dict
        Same, but absent columns become NULL.
    expressions : dict
        ``{name: SQL expression over the original columns}``, added as they are.
    time : {"timestamp", "epoch_us"}
        ``ts`` as a naive UTC TIMESTAMP, or as BIGINT microseconds since the epoch
        (cheapest for engines that only compare and subtract times).

    Returns
    -------
    DuckDBPyRelation
        Columns: the standard names.
    """
    rel = source_relation(events, con)
    columns = list(rel.columns)
    missing = [src for src in required.values() if src not in columns]
    if missing:
        raise MissingColumnsError(missing, columns)
    types = dict(zip(columns, (str(t).upper() for t in rel.types)))
    exprs = []
    for std, src in required.items():
        if std == "ts":
            exprs.append(f"{_time_expr(quote(src), types[src], time)} AS ts")
        elif std == "event" and types[src] != "VARCHAR":
            exprs.append(f"CAST({quote(src)} AS VARCHAR) AS event")  # a no-op cast would block filter pushdown
        else:
            exprs.append(f"{quote(src)} AS {quote(std)}")
    for std, src in (optional or {}).items():
        exprs.append(f"{quote(src)} AS {quote(std)}" if src in columns else f"NULL AS {quote(std)}")
    for name, sql in (expressions or {}).items():
        exprs.append(f"{sql} AS {quote(name)}")
    return rel.project(", ".join(exprs))
