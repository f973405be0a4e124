"""What DuckDB cannot judge in a staged batch, judged in Python for those rows only: timestamps
it does not read (numeric day-month dates, and whatever pandas reads) and properties that may hold
NaN or Infinity (which DuckDB's JSON reader accepts and strict JSON does not). Each returns the
positions of the rows it changed; :func:`.validation.stage` then recomputes what depends on them.
"""
from __future__ import annotations

import json
import logging

import duckdb
import pandas as pd
import pyarrow.compute as pc
from pandas.tseries.api import guess_datetime_format

from ..errors import InvalidInputError
from .staged import ROWS, STAGED, Staged, editable

__all__ = ["fallback_ts", "fallback_props"]

log = logging.getLogger(__name__)


_DMY = r"^(\d{1,2})[./-](\d{1,2})[./-](\d{2,4})([ T].*)?$"


def _dayfirst(texts: pd.Series, dayfirst: bool | None) -> bool | None:
    """How to read numeric dates like 02.03.2026: as given, else as the values show (a first
    field above 12 is a day, a second one above 12 is a day); InvalidInputError when they
    cannot tell. None: there are no such dates."""
    parts = texts.str.extract(_DMY)
    dmy = parts[0].notna()
    if not dmy.any():
        return None
    if dayfirst is not None:
        return dayfirst
    first, second = parts.loc[dmy, 0].astype(int), parts.loc[dmy, 1].astype(int)
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    if day_first != month_first:
        log.info("numeric dates read %s-first, as their values show", "day" if day_first else "month")
        return day_first
    example = texts[dmy].iloc[0]
    raise InvalidInputError(
        f"ts holds dates like {example!r} that read either day-first or month-first"
        + (" (and the values contradict each other)" if day_first else "")
        + ": ingest with dayfirst=True or dayfirst=False, or give ts_format=, e.g. '%d.%m.%Y %H:%M'")


def fallback_ts(con: duckdb.DuckDBPyConnection, options, staged: Staged) -> list[int]:
    """Timestamps DuckDB did not read, read by pandas (only those rows): numeric day-month dates
    (see :func:`_dayfirst`), then whatever ``format="mixed"`` reads. Returns the rows set."""
    if staged.arrow is not None and staged.arrow.column("__wb_ts_raw").null_count == staged.rows:
        return []
    todo = con.sql(f"SELECT __wb_row AS r, __wb_ts_raw AS t FROM {STAGED} WHERE __wb_ts_raw IS NOT NULL").df()
    if todo.empty or options.ts_format:
        return []
    texts = todo["t"].astype("string")
    dayfirst = _dayfirst(texts, options.dayfirst)
    parsed = pd.Series(pd.NaT, index=todo.index, dtype="datetime64[ns, UTC]")
    if dayfirst is not None:
        dmy = texts.str.match(_DMY)
        guessed = guess_datetime_format(texts[dmy].iloc[0], dayfirst=dayfirst)
        parsed[dmy] = pd.to_datetime(texts[dmy], utc=True, errors="coerce", dayfirst=dayfirst,
                                     format=guessed or "mixed")
    rest = parsed.isna()
    if rest.any():
        parsed[rest] = pd.to_datetime(texts[rest], utc=True, errors="coerce", format="mixed")
    todo = todo.assign(ts=parsed)[parsed.notna()][["r", "ts"]]
    if len(todo):
        _fix(con, staged, todo, "ts = f.ts")
    return todo["r"].tolist()


def fallback_props(con: duckdb.DuckDBPyConnection, staged: Staged) -> list[int]:
    """Properties that may hold NaN or Infinity (DuckDB reads ``NaN``, ``inf``, ``1e999`` in any
    case, and keeps them as written) are checked by Python's strict JSON (rare rows). Returns the
    rows found in error."""
    if staged.arrow is not None and not pc.any(staged.arrow.column("__wb_suspect")).as_py():
        return []
    todo = con.sql(f"SELECT __wb_row AS r, properties AS p FROM {STAGED} "
                   "WHERE __wb_suspect AND properties IS NOT NULL").fetchall()
    fixes = []
    for r, p in todo:
        try:
            json.dumps(json.loads(p), allow_nan=False)
        except ValueError:
            fixes.append((r, "properties holds a non-finite number"))
    if fixes:
        _fix(con, staged, pd.DataFrame(fixes, columns=["r", "err"]), "__wb_props_err = f.err, properties = NULL")
    return [r for r, _ in fixes]


def _fix(con: duckdb.DuckDBPyConnection, staged: Staged, fixes: pd.DataFrame, assignments: str) -> None:
    """Set ``assignments`` (over the fix as ``f``) on the staged rows at positions ``fixes.r``,
    moving Arrow-held rows into DuckDB first."""
    editable(con, staged)
    con.register("__wb_fix", fixes)
    con.execute(f"UPDATE {ROWS} SET {assignments} FROM __wb_fix f WHERE {ROWS}.rowid = f.r")
    con.unregister("__wb_fix")
