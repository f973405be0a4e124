"""Validation and normalisation of raw event rows, as DuckDB SQL over the whole batch.

Every input row ends up either normalised (the good rows) or, with its original values as text and
a ``reason``, in the quarantine. The rules and their reasons, in the order reasons are joined
("; ") when a row breaks several:

- ``missing user_id`` / ``missing event`` / ``missing ts``: blank or absent value (surrounding
  spaces are trimmed from every text value);
- ``unparseable ts``: not a timestamp. Accepted: ISO 8601 with or without an offset (naive values
  are UTC), a date alone (midnight UTC), Unix epoch seconds (9-10 digits, or any number in a numeric
  column) or milliseconds (12-13 digits, or a number of magnitude >= 1e11), and, for text DuckDB
  does not read, whatever pandas' ``format="mixed"`` reads (only those rows go through pandas);
- ``ts is in the future``: later than now plus the store's allowed clock skew;
- ``revenue is not a finite number``: present but not a number, or infinite/NaN (blank is null);
- ``brand does not match the ingest brand 'x'``: a ``brand`` column naming another brand (rows
  are never re-assigned);
- ``properties is not valid JSON`` / ``properties is not a JSON object`` / ``properties holds a
  non-finite number``.

Columns beyond the event columns are folded into ``properties`` (null values left out; a key given
in ``properties`` itself wins). Properties are stored as compact JSON with top-level keys sorted,
so that the same object is the same text whatever order a source wrote its keys in. A row without
``event_id`` gets the MD5 of its brand, user, event, timestamp (microseconds), revenue and
properties: re-ingesting an identical row is recognised as a duplicate.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime

import duckdb
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from ..errors import InvalidInputError
from .importing import ImportOptions
from .schema import EVENT_COLUMNS

log = logging.getLogger(__name__)

__all__ = ["stage", "reason_sql", "good_sql", "canonical_sql", "derived_id_sql", "quote", "literal", "rejected_rows_sql",
           "STAGED", "REQUIRED"]

REQUIRED = ("user_id", "event", "ts")
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "FLOAT", "DOUBLE")
_TEXT = ("VARCHAR", "JSON")
STAGED = "__wb_staged"


def quote(name: str) -> str:
    """An SQL identifier (the events module's own: ``workbench.analytics`` has a twin, but importing
    it would load the analytics into every ingest)."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(text: str) -> str:
    """An SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def rejected_rows_sql(source: duckdb.DuckDBPyRelation, reason: str) -> str:
    """A query of the rejected rows: the source's values as text plus ``reason``, in source order.
    ``__wb_staged`` keeps no source column, so the source is read again and lined up with the staged
    rows by position (a POSITIONAL JOIN)."""
    source.create_view("__wb_source_again", replace=True)
    cols = ", ".join(f"CAST(s.{quote(c)} AS VARCHAR) AS {quote(c)}" for c in map(str, source.columns))
    return (f"SELECT {cols}, reason FROM (SELECT * FROM __wb_source_again) s POSITIONAL JOIN "
            f"(SELECT {reason} AS reason FROM {STAGED} ORDER BY rowid) r WHERE reason IS NOT NULL")


def derived_id_sql(brand: str, user: str, event: str, ts: str, revenue: str, props: str) -> str:
    """The id of a row that came without one (see the module): MD5 of its content, ``props`` being
    its canonical properties text or NULL."""
    return (f"md5(concat_ws(chr(31), {brand}, {user}, {event}, CAST(epoch_us({ts}) AS VARCHAR), "
            f"coalesce(CAST({revenue} AS VARCHAR), ''), coalesce({props}, '')))")


def _blank_text(col: str) -> str:
    return f"NULLIF(trim(CAST({quote(col)} AS VARCHAR)), '')"


def _ts_expr(col: str, dtype: str) -> str:
    c = quote(col)
    if dtype.startswith("TIMESTAMP") or dtype == "DATE":
        return f"CAST({c} AS TIMESTAMPTZ)"
    if dtype.startswith("DECIMAL") or dtype in _NUMERIC:
        v = f"CAST({c} AS DOUBLE)"
        return (f"CASE WHEN isfinite({v}) THEN to_timestamp(CASE WHEN abs({v}) >= 1e11 THEN {v} / 1000 "
                f"ELSE {v} END) END")
    t = "__wb_ts_text"  # trimmed text, computed once in the inner query of stage()
    # DuckDB's own reading first; only what it refuses is tried as epoch digits (CASE is lazy)
    return (f"CASE WHEN __wb_ts_cast IS NOT NULL THEN __wb_ts_cast "
            f"WHEN regexp_full_match({t}, '-?[0-9]{{9,10}}(\\.[0-9]+)?') THEN to_timestamp(CAST({t} AS DOUBLE)) "
            f"WHEN regexp_full_match({t}, '-?[0-9]{{12,13}}') THEN to_timestamp(CAST({t} AS DOUBLE) / 1000) END")


_MONEY_STRIP = r"[\s$€£¥]|(?i:usd|eur|gbp|jpy|chf)"
_MONEY = {".": (r"[-+]?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]+)?", ",", "."),
          ",": (r"[-+]?([0-9]{1,3}(\.[0-9]{3})+|[0-9]+)(,[0-9]+)?", ".", ",")}


def _revenue_exprs(col: str | None, dtype: str | None, decimal: str = ".") -> tuple[str, str]:
    """(value, is-bad) expressions. Text may be an amount with a currency symbol or code and
    thousands separators; ``decimal`` is its decimal mark."""
    if col is None:
        return "CAST(NULL AS DOUBLE)", "false"
    c = quote(col)
    if dtype.startswith("DECIMAL") or dtype in _NUMERIC:
        v = f"CAST({c} AS DOUBLE)"
        return v, f"coalesce(NOT isfinite({v}), false)"
    t = _blank_text(col)
    pattern, thousands, mark = _MONEY[decimal]
    m = f"regexp_replace({t}, '{_MONEY_STRIP}', '', 'g')"
    amount = (f"CASE WHEN regexp_full_match({m}, '{pattern}') "
              f"THEN TRY_CAST(replace(replace({m}, '{thousands}', ''), '{mark}', '.') AS DOUBLE) END")
    # plain numbers take DuckDB's cast; only the rest are read as amounts (CASE is lazy)
    v = (f"CASE WHEN TRY_CAST({t} AS DOUBLE) IS NOT NULL THEN TRY_CAST({t} AS DOUBLE) ELSE {amount} END"
         if decimal == "." else amount)
    return v, f"({t} IS NOT NULL AND (({v}) IS NULL OR NOT isfinite({v})))"


def _canonical(j: str) -> str:
    """Compact JSON with sorted top-level keys, for a JSON object expression."""
    return f"to_json(map_from_entries(list_sort(map_entries(CAST(CAST({j} AS JSON) AS MAP(VARCHAR, JSON))))))::VARCHAR"


def canonical_sql(col: str) -> str:
    """Canonical text (see the module) of a column holding JSON object text or NULL."""
    return f"CASE WHEN {quote(col)} IS NOT NULL THEN {_canonical(quote(col))} END"


def _props_exprs(col: str | None, dtype: str | None, extras: list[str]) -> tuple[str, str]:
    """(canonical properties text or NULL, error reason or NULL) expressions."""
    if col is None:
        p, err = "CAST(NULL AS VARCHAR)", "CAST(NULL AS VARCHAR)"
    elif dtype in _TEXT:
        p = "__wb_props_text"  # trimmed text, computed once in the inner query of stage()
        err = (f"CASE WHEN {p} IS NULL THEN NULL WHEN NOT json_valid({p}) THEN 'properties is not valid JSON' "
               f"WHEN json_type({p}) <> 'OBJECT' THEN 'properties is not a JSON object' END")
    elif dtype.startswith(("STRUCT", "MAP")):
        p, err = f"CAST(to_json({quote(col)}) AS VARCHAR)", "CAST(NULL AS VARCHAR)"
    else:
        p = f"CAST(NULL AS VARCHAR)"
        err = f"CASE WHEN {quote(col)} IS NOT NULL THEN 'properties is not a JSON object' END"
    if extras:
        pairs = ", ".join(f"{literal(e)}, {quote(e)}" for e in extras)
        ex = f"json_merge_patch('{{}}', json_object({pairs}))"  # merge-patch drops null values
        # props win over extras; merge-patch would drop a null-valued key of props, so the
        # (rare) properties that mention null take the two-step merge that keeps them
        merged = (f"CASE WHEN {p} IS NULL THEN NULLIF({ex}, '{{}}') "
                  f"WHEN contains({p}, 'null') THEN json_merge_patch({p}, json_merge_patch({ex}, {p})) "
                  f"ELSE json_merge_patch({ex}, {p}) END")
    else:
        merged = p
    if col is not None and dtype in _TEXT and not extras:
        merged = f"CAST(json({p}) AS VARCHAR)"  # compact
    return merged, err


def stage(con: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation, brand: str, options=None) -> int:
    """Validate ``rel`` into temp table ``__wb_staged`` of ``con``; returns its row count.

    The table holds one row per source row, in the source's order (``rowid`` is the row's
    position): the normalised values and the parts of the reason, in ``__wb_*`` columns. The
    source's own columns are not copied: the quarantine reads the (few) bad rows' original values
    from the source again, by position (see ``EventStore._quarantine``).
    """
    names = [str(c) for c in rel.columns]
    types = {str(c): str(t).upper() for c, t in zip(rel.columns, rel.types)}
    missing = [c for c in REQUIRED if c not in types]
    if missing:
        raise InvalidInputError(f"event source lacks required column(s) {missing}; it has {names}")
    clash = [c for c in names if c.startswith("__wb_")]
    if clash:
        raise InvalidInputError(f"event source columns may not start with '__wb_': {clash}")
    extras = [c for c in names if c not in EVENT_COLUMNS]
    options = options or ImportOptions()
    rev, rev_bad = _revenue_exprs("revenue" if "revenue" in types else None, types.get("revenue"), options.decimal)
    props, props_err = _props_exprs("properties" if "properties" in types else None, types.get("properties"),
                                    extras)
    ts_text = f"{_blank_text('ts')}"
    brand_bad = (f"({quote('brand')} IS NOT NULL AND CAST({quote('brand')} AS VARCHAR) <> {literal(brand)})"
                 if "brand" in types else "false")
    eid = _blank_text("event_id") if "event_id" in types else "CAST(NULL AS VARCHAR)"
    cast = f"TRY_CAST({ts_text} AS TIMESTAMPTZ)"
    if options.ts_format:
        fmt = f"try_strptime({ts_text}, {literal(options.ts_format)})"
        cast = f"CASE WHEN {fmt} IS NOT NULL THEN CAST({fmt} AS TIMESTAMPTZ) ELSE {cast} END"
    inner = [f"{ts_text} AS __wb_ts_text", f"{cast} AS __wb_ts_cast"]
    if types.get("properties") in _TEXT:
        inner.append(f"{_blank_text('properties')} AS __wb_props_text")
    rel.create_view("__wb_source", replace=True)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {STAGED} AS
        SELECT __wb_user, __wb_event, __wb_ts_blank, __wb_ts, __wb_revenue, __wb_revenue_bad, __wb_brand_bad,
               __wb_props_err, CASE WHEN __wb_props_err IS NULL THEN __wb_props_merged END AS __wb_props,
               __wb_event_id, __wb_ts_raw
        FROM (
            SELECT *, {_blank_text('user_id')} AS __wb_user, {_blank_text('event')} AS __wb_event,
                   CASE WHEN __wb_ts_cast IS NULL THEN __wb_ts_text END AS __wb_ts_raw,
                   __wb_ts_text IS NULL AS __wb_ts_blank, {_ts_expr('ts', types['ts'])} AS __wb_ts,
                   {rev} AS __wb_revenue, {rev_bad} AS __wb_revenue_bad, {brand_bad} AS __wb_brand_bad,
                   {props_err} AS __wb_props_err, {props} AS __wb_props_merged, {eid} AS __wb_event_id
            FROM (SELECT *, {', '.join(inner)} FROM __wb_source))
    """)
    con.execute("DROP VIEW __wb_source")
    _fallback_ts(con, options)
    _fallback_props(con)
    return con.sql(f"SELECT count(*) FROM {STAGED}").fetchall()[0][0]


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


def _fallback_ts(con: duckdb.DuckDBPyConnection, options) -> None:
    """Timestamps DuckDB did not read, read by pandas (only those rows): numeric day-month dates
    (see :func:`_dayfirst`), then whatever ``format="mixed"`` reads."""
    todo = con.sql(f"SELECT rowid AS r, __wb_ts_raw AS t FROM {STAGED} "
                   f"WHERE __wb_ts IS NULL AND NOT __wb_ts_blank").df()
    if todo.empty or options.ts_format:
        return
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
        con.register("__wb_fix", todo)
        con.execute(f"UPDATE {STAGED} SET __wb_ts = f.ts FROM __wb_fix f WHERE {STAGED}.rowid = f.r")
        con.unregister("__wb_fix")


def _fallback_props(con: duckdb.DuckDBPyConnection) -> None:
    """Properties that mention NaN or Infinity are checked by Python's strict JSON (rare rows)."""
    todo = con.sql(f"SELECT rowid AS r, __wb_props AS p FROM {STAGED} WHERE __wb_props_err IS NULL "
                   f"AND regexp_matches(__wb_props, '(?i)(nan|infinity)')").fetchall()
    fixes = []
    for r, p in todo:
        try:
            json.dumps(json.loads(p), allow_nan=False)
        except ValueError:
            fixes.append((r, "properties holds a non-finite number"))
    if fixes:
        con.register("__wb_fix", pd.DataFrame(fixes, columns=["r", "err"]))
        con.execute(f"UPDATE {STAGED} SET __wb_props_err = f.err, __wb_props = NULL FROM __wb_fix f "
                    f"WHERE {STAGED}.rowid = f.r")
        con.unregister("__wb_fix")


def reason_sql(brand: str, latest: datetime) -> str:
    """The reason expression over ``__wb_staged`` (NULL for a good row); rows stamped after
    ``latest`` are in the future."""
    ts = pd.Timestamp(latest)
    limit = literal((ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")).isoformat())
    return f"""NULLIF(concat_ws('; ',
        CASE WHEN __wb_user IS NULL THEN 'missing user_id' END,
        CASE WHEN __wb_event IS NULL THEN 'missing event' END,
        CASE WHEN __wb_ts_blank THEN 'missing ts' WHEN __wb_ts IS NULL THEN 'unparseable ts'
             WHEN __wb_ts > TIMESTAMPTZ {limit} THEN 'ts is in the future' END,
        CASE WHEN __wb_revenue_bad THEN 'revenue is not a finite number' END,
        CASE WHEN __wb_brand_bad THEN {literal(f"brand does not match the ingest brand {brand!r}")} END,
        __wb_props_err), '')"""


def good_sql(brand: str) -> str:
    """The normalised event columns (plus the partition column ``day``) over ``__wb_staged``."""
    b, canonical = literal(brand), canonical_sql("__wb_props")
    derived = derived_id_sql(b, "__wb_user", "__wb_event", "__wb_ts", "__wb_revenue", canonical)
    return f"""
    CASE WHEN __wb_event_id IS NULL THEN {derived} ELSE __wb_event_id END AS event_id,
    {b} AS brand, __wb_user AS user_id, __wb_event AS event, __wb_ts AS ts, __wb_revenue AS revenue,
    CASE WHEN __wb_event_id IS NULL THEN {canonical} ELSE __wb_props END AS properties,
    CAST(__wb_ts AS DATE) AS day
"""
