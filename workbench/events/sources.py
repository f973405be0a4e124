"""Readers of event sources, chunk by chunk, so that large files stream."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InvalidInputError

__all__ = ["iter_chunks", "describe_source", "count_rows"]

CHUNK_ROWS = 250_000
_KINDS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def _kind(path: Path) -> str:
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
    path = Path(source)
    if _kind(path) == "parquet":
        return pq.ParquetFile(path).metadata.num_rows
    return None


def iter_chunks(source, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Yield pandas chunks of a DataFrame, Arrow table, or CSV / Parquet / JSON-lines file.

    CSV and JSON-lines values are read as text so that validation sees (and the
    quarantine keeps) exactly what the file said.
    """
    if isinstance(source, pd.DataFrame):
        for start in range(0, max(len(source), 1), chunk_rows):
            yield source.iloc[start:start + chunk_rows]
        return
    if isinstance(source, pa.Table):
        for batch in source.to_batches(chunk_rows) or [source.schema.empty_table()]:
            yield batch.to_pandas()
        return
    if not isinstance(source, (str, Path)):
        raise InvalidInputError(
            f"cannot ingest a {type(source).__name__}: pass a DataFrame, a pyarrow Table or a file path")
    path = Path(source)
    if not path.exists():
        raise InvalidInputError(f"event source {path} does not exist")
    kind = _kind(path)
    if kind == "csv":
        yield from pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], chunksize=chunk_rows)
    elif kind == "parquet":
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
    else:
        try:
            yield from pd.read_json(path, lines=True, dtype=False, chunksize=chunk_rows)
        except ValueError as exc:
            raise InvalidInputError(f"{path} is not valid JSON lines: {exc}") from exc
