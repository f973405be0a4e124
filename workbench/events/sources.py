"""Event sources opened as DuckDB relations, so that files stream and nothing is read row by row.

CSV files are read with every column as text, so that validation sees (and the quarantine keeps)
exactly what the file said; JSON lines keep nested values (``properties``) as JSON text; Parquet,
Arrow tables and record-batch readers keep their types. DataFrames are scanned in place; their
object columns holding dicts or lists (``properties`` given as Python objects) are turned into JSON
text first, the one step that looks at values in Python, and only for such columns.
"""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InvalidInputError

__all__ = ["open_source", "describe_source", "count_rows", "source_kind"]

_KINDS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
          ".ndjson": "jsonl", ".json": "jsonl"}


def source_kind(path: Path) -> str:
    """``csv``, ``parquet`` or ``jsonl`` from a file name (``.gz`` ignored); InvalidInputError otherwise."""
    suffixes = [s for s in path.suffixes if s != ".gz"]
    kind = _KINDS.get(suffixes[-1].lower() if suffixes else "")
    if kind is None:
        raise InvalidInputError(
            f"cannot tell the format of {path}: use a .csv, .parquet or .jsonl file, or pass a DataFrame")
    return kind


def describe_source(source) -> str:
    if isinstance(source, (str, Path)):
        return str(Path(source).resolve())
    return f"<{type(source).__name__}>"


def count_rows(source) -> int | None:
    """Row count when it is cheap to know (for progress bars), else None."""
    if isinstance(source, pd.DataFrame):
        return len(source)
    if isinstance(source, pa.Table):
        return source.num_rows
    if isinstance(source, (str, Path)) and Path(source).exists() and source_kind(Path(source)) == "parquet":
        return pq.ParquetFile(source).metadata.num_rows
    return None


def _jsonable(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return value


def _frame_for_duckdb(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding dicts/lists become JSON text; other object columns become text."""
    out = frame.reset_index(drop=True)
    changed = {}
    for col in out.columns:
        s = out[col]
        if s.dtype == object:
            sample = s.dropna()
            if len(sample) and sample.map(lambda v: isinstance(v, (dict, list))).any():
                changed[col] = s.map(_jsonable).astype("string")
            elif len(sample) and not sample.map(lambda v: isinstance(v, str)).all():
                changed[col] = s.map(lambda v: v if v is None or isinstance(v, str) else str(v)).astype("string")
            else:
                changed[col] = s.astype("string")
    if changed:
        out = out.assign(**changed)
    out.columns = [str(c) for c in out.columns]
    return out


def open_source(con: duckdb.DuckDBPyConnection, source) -> duckdb.DuckDBPyRelation:
    """A relation over a DataFrame, Arrow table or stream, or a CSV / Parquet / JSON-lines file."""
    if isinstance(source, pd.DataFrame):
        return con.from_df(_frame_for_duckdb(source))
    if isinstance(source, (pa.Table, pa.RecordBatchReader)):
        return con.from_arrow(source)
    if not isinstance(source, (str, Path)):
        raise InvalidInputError(
            f"cannot ingest a {type(source).__name__}: pass a DataFrame, a pyarrow Table or a file path")
    path = Path(source)
    if not path.exists():
        raise InvalidInputError(f"event source {path} does not exist")
    kind = source_kind(path)
    try:
        if kind == "csv":
            return con.read_csv(str(path), all_varchar=True, header=True)
        if kind == "parquet":
            return con.read_parquet(str(path))
        rel = con.sql(f"SELECT * FROM read_json({_quote(path)}, format='newline_delimited', maximum_depth=1)")
        return rel.project(", ".join(_json_column(str(c)) for c in rel.columns))
    except duckdb.Error as exc:
        raise InvalidInputError(f"cannot read {path} as {kind}: {str(exc).splitlines()[0]}") from exc


def _json_column(name: str) -> str:
    """Event columns of JSON lines as text (a JSON string unquoted); other columns stay JSON."""
    q = '"' + name.replace('"', '""') + '"'
    if name not in ("event_id", "brand", "user_id", "event", "ts", "revenue"):
        return q
    return f"CASE WHEN json_type({q}) = 'NULL' THEN NULL ELSE json_extract_string({q}, '$') END AS {q}"


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
