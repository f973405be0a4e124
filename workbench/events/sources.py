"""Event sources opened as DuckDB relations, so that files stream and nothing is read row by row.

CSV files are read with every column as text, so that validation sees (and the quarantine keeps)
exactly what the file said: by pyarrow's parallel reader when the file is at most 256 MB and plain,
else streamed by DuckDB's (see :func:`_arrow_csv`). JSON lines keep nested values (``properties``)
as JSON text; Parquet, Arrow tables and record-batch readers keep their types. DataFrames are
scanned in place; their object columns holding dicts or lists (``properties`` given as Python
objects) are turned into JSON text first, the one step that looks at values in Python, and only
for such columns.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import InvalidInputError
from .importing import ImportOptions, detect_encoding, is_utf8, to_utf8
from .schema import EVENT_COLUMNS
from .validation import literal, quote

__all__ = ["open_source", "Opened", "describe_source", "count_rows", "source_kind"]

log = logging.getLogger(__name__)

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


_IN_MEMORY_ROWS = 2_000_000


@dataclass
class Opened:
    """A source opened for ingest: its relation (columns renamed), and the lines that could not be
    read at all (``(line number, reason, raw line)``; CSV rows DuckDB rejects are in its ``reject_errors``
    table when ``csv_rejects``). ``in_memory``: the rows are held in memory already (an Arrow table
    or DataFrame of at most 2M rows, or a small file read whole), so validating them may hold its
    result in memory too."""
    relation: duckdb.DuckDBPyRelation
    unreadable: list[tuple[int, str, str]] = field(default_factory=list)
    csv_rejects: bool = False
    in_memory: bool = False


def open_source(con: duckdb.DuckDBPyConnection, source, options: ImportOptions | None = None, *,
                scratch: Path | None = None) -> Opened:
    """Open a DataFrame, Arrow table or stream, or a CSV / Parquet / JSON-lines file for ingest."""
    options = options or ImportOptions()
    opened = _open(con, source, options, scratch)
    opened.relation = _renamed(opened.relation, options.columns)
    return opened


def _renamed(rel: duckdb.DuckDBPyRelation, columns: dict[str, str]) -> duckdb.DuckDBPyRelation:
    if not columns:
        return rel
    names = [str(c) for c in rel.columns]
    missing = [c for c in columns if c not in names]
    if missing:
        raise InvalidInputError(f"columns maps {missing} but the source has no such column; it has {names}")
    clash = [t for s, t in columns.items() if t in names and t not in columns]
    if clash:
        raise InvalidInputError(f"columns renames onto {clash}, which the source already has; rename or drop "
                                "that column too")
    return rel.project(", ".join(f"{quote(c)} AS {quote(columns.get(c, c))}" for c in names))


def _open(con, source, options: ImportOptions, scratch: Path | None) -> Opened:
    if isinstance(source, pd.DataFrame):
        return Opened(con.from_df(_frame_for_duckdb(source)), in_memory=len(source) <= _IN_MEMORY_ROWS)
    if isinstance(source, pa.Table):
        return Opened(con.from_arrow(source), in_memory=source.num_rows <= _IN_MEMORY_ROWS)
    if isinstance(source, pa.RecordBatchReader):  # read once: kept (spilling) so it can be read again
        con.from_arrow(source).create("__wb_stream")
        return Opened(con.table("__wb_stream"))
    if not isinstance(source, (str, Path)):
        raise InvalidInputError(
            f"cannot ingest a {type(source).__name__}: pass a DataFrame, a pyarrow Table or a file path")
    path = Path(source)
    if not path.exists():
        raise InvalidInputError(f"event source {path} does not exist")
    kind = source_kind(path)
    if kind == "parquet":
        table = _small_parquet(con, path)
        if table is not None:
            return Opened(con.from_arrow(table), in_memory=True)
        return Opened(con.read_parquet(str(path)))
    unreadable: list[tuple[int, str, str]] = []
    encoding = options.encoding or ("utf-8" if path.suffix == ".gz" else detect_encoding(path))
    if not is_utf8(encoding) or encoding == "utf-8-sig":
        if path.suffix == ".gz":
            raise InvalidInputError(f"{path}: a compressed file must be UTF-8; decompress it to pass encoding=")
        target = (scratch or path.parent) / f"{path.stem}.utf8{''.join(path.suffixes[-1:])}"
        target.parent.mkdir(parents=True, exist_ok=True)
        unreadable = [(n, f"line {n} is not valid {encoding} ({why})", raw) for n, why, raw in
                      to_utf8(path, encoding, target)]
        path = target
    try:
        if kind == "csv":
            table = _arrow_csv(con, path)
            if table is not None:
                return Opened(con.from_arrow(table), unreadable, in_memory=True)
            rel = con.sql(f"SELECT * FROM read_csv({literal(str(path))}, all_varchar = true, header = true, "
                          "store_rejects = true)")
            return Opened(rel, unreadable, csv_rejects=True)
        rel = con.sql(f"SELECT * FROM read_json({literal(str(path))}, format='newline_delimited', maximum_depth=1)")
        return Opened(rel.project(", ".join(_json_column(str(c)) for c in rel.columns)), unreadable)
    except duckdb.Error as exc:
        raise InvalidInputError(f"cannot read {path} as {kind}: {str(exc).splitlines()[0]}") from exc


_ARROW_READ_BYTES = 256 << 20


def _small_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> pa.Table | None:
    """A Parquet file read whole by pyarrow, or None when DuckDB should stream it. DuckDB reads a
    file in parallel by row groups; a file with fewer row groups than threads (a 1M-row file
    written in one group, say) would be validated on one core, so when such a file decodes to at
    most 256 MB, pyarrow reads it (in parallel, by column) and DuckDB scans the table in memory.
    Larger files stream through DuckDB."""
    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException) as exc:
        raise InvalidInputError(f"cannot read {path} as parquet: {exc}") from exc
    threads = int(con.sql("SELECT current_setting('threads')").fetchall()[0][0])
    decoded = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if meta.num_row_groups < threads and decoded <= _ARROW_READ_BYTES:
        return pq.read_table(path)
    return None


def _arrow_csv(con: duckdb.DuckDBPyConnection, path: Path) -> pa.Table | None:
    """An uncompressed CSV file of at most 256 MB with a plain dialect, read by pyarrow's parallel
    reader (about twice as fast as DuckDB's), every column as text; None when DuckDB should read it.

    DuckDB's sniffer finds the dialect and column names, so both readers see the same columns,
    and both read empty fields, quoted or not, as NULL. A file whose dialect pyarrow would read
    differently (escape characters, comments, skipped lines, no header), a file with any line
    pyarrow cannot split into those columns, and a file with line breaks inside quoted values go
    to DuckDB's reader, which keeps unreadable lines for the quarantine with their line numbers.
    """
    if path.suffix == ".gz" or path.stat().st_size > _ARROW_READ_BYTES:  # a .gz may hold many times its size
        return None
    sniffed = con.sql(f"SELECT Delimiter, Quote, Escape, HasHeader, SkipRows, Comment, Columns "
                      f"FROM sniff_csv({literal(str(path))}, sample_size = 2048)").fetchall()
    delim, quote_char, escape, header, skip, comment, columns = sniffed[0]
    plain = (len(delim) == 1 and quote_char == '"' and escape in ('"', "", "(empty)") and header and not skip
             and comment in ("", "(empty)"))
    if not plain:
        return None
    names = [c["name"] for c in columns]
    if len(names) < 2:  # one column: a quoted line break would not show as a short line
        return None
    invalid = []

    def refuse(row) -> str:
        invalid.append(row)
        return "skip"
    try:
        table = pacsv.read_csv(
            # 16 MB blocks: fewer, larger batches, which DuckDB validates faster (measured: -13%)
            path, read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=16 << 20),
            # a quoted line break splits a row of 2 or more columns into lines of too few: such files
            # come back invalid and go to DuckDB (reading them as they are costs pyarrow 40% more)
            parse_options=pacsv.ParseOptions(delimiter=delim, newlines_in_values=False, invalid_row_handler=refuse),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, null_values=[""],
                                                 strings_can_be_null=True, quoted_strings_can_be_null=True))
    except (pa.ArrowException, OSError) as exc:
        log.debug("pyarrow could not read %s (%s); DuckDB reads it", path, exc)
        return None
    if invalid:
        return None
    return table


def _json_column(name: str) -> str:
    """Event columns of JSON lines as text (a JSON string unquoted); other columns stay JSON."""
    q = quote(name)
    if name not in EVENT_COLUMNS or name == "properties":
        return q
    return f"CASE WHEN json_type({q}) = 'NULL' THEN NULL ELSE json_extract_string({q}, '$') END AS {q}"


UNREADABLE = "__wb_unreadable"


def unreadable_lines(con: duckdb.DuckDBPyConnection, opened: Opened) -> int:
    """Gather the lines of a source no row came from (undecodable, or refused by the CSV reader)
    into temp table ``__wb_unreadable (line, reason, raw_line)``, with line numbers of the
    original file; returns how many there are."""
    rows = list(opened.unreadable)
    if opened.csv_rejects:
        dropped = sorted(n for n, _, _ in opened.unreadable)
        # one row per line: DuckDB may report several errors of one line
        for line, kind, message, raw in con.sql(
                "SELECT line, arg_min(error_type, error_message), min(error_message), arg_min(csv_line, error_message) "
                "FROM reject_errors GROUP BY line ORDER BY line").fetchall():
            original = _original_line(int(line), dropped)
            rows.append((original, f"line {original} could not be read ({str(kind).lower()}: "
                                   f"{str(message).splitlines()[0]})", raw))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {UNREADABLE} (line BIGINT, reason VARCHAR, raw_line VARCHAR)")
    if rows:
        frame = pd.DataFrame(rows, columns=["line", "reason", "raw_line"]).astype(
            {"line": "int64", "reason": "string", "raw_line": "string"})
        con.register("__wb_unreadable_frame", frame)
        con.execute(f"INSERT INTO {UNREADABLE} SELECT * FROM __wb_unreadable_frame")
        con.unregister("__wb_unreadable_frame")
    return len(rows)


def _original_line(line: int, dropped: list[int]) -> int:
    """Line ``line`` of a copy that left out the ``dropped`` lines, numbered as in the original."""
    for d in dropped:
        if d <= line:
            line += 1
        else:
            break
    return line
