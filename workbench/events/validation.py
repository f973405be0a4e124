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
in ``properties`` itself wins; the extra columns' keys come first). Properties are stored as compact
JSON. A row without ``event_id`` gets the MD5 of its brand, user, event, timestamp (microseconds),
revenue and properties in a canonical form (top-level keys sorted, so that the same object is the
same text whatever order a source wrote its keys in), and that canonical form is what is stored:
re-ingesting an identical row is recognised as a duplicate.

The whole batch is validated by one DuckDB query into a staged table (see :func:`stage`), held as
an Arrow table when the batch is in memory already, else as a DuckDB table that spills to disk;
Python only sees the rows DuckDB cannot judge: timestamps it does not read, and properties that may
hold NaN or Infinity (which DuckDB's JSON reader accepts and strict JSON does not).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import InvalidInputError
from .fallbacks import fallback_props, fallback_ts
from .importing import ImportOptions
from .schema import EVENT_COLUMNS, utc
from .staged import ROWS, STAGED, STORED, Staged, staged_view

log = logging.getLogger(__name__)

__all__ = ["stage", "good_sql", "canonical_sql", "derived_id_sql", "quote", "literal", "rejected_rows_sql",
           "REQUIRED"]

REQUIRED = ("user_id", "event", "ts")
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "FLOAT", "DOUBLE")
_TEXT = ("VARCHAR", "JSON")


def quote(name: str) -> str:
    """An SQL identifier (the events module's own: ``workbench.analytics`` has a twin, but importing
    it would load the analytics into every ingest)."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(text: str) -> str:
    """An SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def good_sql(*, position: bool = False) -> str:
    """A query of the good rows of ``__wb_staged``: the event columns plus the partition column
    ``day`` (and the row's position as ``__wb_row``)."""
    return (f"SELECT {'__wb_row, ' if position else ''}{', '.join(STORED)} FROM {STAGED} "
            "WHERE __wb_reason IS NULL")


def rejected_rows_sql(source: duckdb.DuckDBPyRelation) -> str:
    """A query of the rejected rows: the source's values as text plus ``reason``, in source order.
    ``__wb_staged`` keeps no source column, so the source is read again and lined up with the staged
    rows by position (a POSITIONAL JOIN)."""
    source.create_view("__wb_source_again", replace=True)
    cols = ", ".join(f"CAST(s.{quote(c)} AS VARCHAR) AS {quote(c)}" for c in map(str, source.columns))
    return (f"SELECT {cols}, reason FROM (SELECT * FROM __wb_source_again) s POSITIONAL JOIN "
            f"(SELECT __wb_reason AS reason FROM {STAGED} ORDER BY __wb_row) r WHERE reason IS NOT NULL")


def derived_id_sql(brand: str, user: str, event: str, ts: str, revenue: str, props: str) -> str:
    """The id of a row that came without one (see the module): MD5 of its content, ``props`` being
    its canonical properties text or NULL."""
    return (f"md5(concat_ws(chr(31), {brand}, {user}, {event}, CAST(epoch_us({ts}) AS VARCHAR), "
            f"coalesce(CAST({revenue} AS VARCHAR), ''), coalesce({props}, '')))")


def _as_text(col: str, dtype: str) -> str:
    return quote(col) if dtype == "VARCHAR" else f"CAST({quote(col)} AS VARCHAR)"


def _blank_text(col: str, dtype: str = "VARCHAR") -> str:
    return f"NULLIF(trim({_as_text(col, dtype)}), '')"


def _clean_text(col: str, dtype: str) -> str:
    """Text without surrounding spaces, blank as NULL; trim (costly on long values) only runs on
    values that start or end with a space."""
    t = _as_text(col, dtype)
    if dtype not in _TEXT:
        return t
    return f"CASE WHEN starts_with({t}, ' ') OR ends_with({t}, ' ') THEN NULLIF(trim({t}), '') ELSE NULLIF({t}, '') END"


def _is_number(dtype: str) -> bool:
    return dtype.startswith("DECIMAL") or dtype in _NUMERIC


def _ts_parts(dtype: str, ts_format: str | None) -> tuple[str, str, str]:
    """(first try, trimmed text, value) expressions for ``ts``, each over the previous one's level
    (``__wb_ts_try``, ``__wb_ts_text``). The text is only made for values the first try refused."""
    c = quote("ts")
    if dtype.startswith("TIMESTAMP") or dtype == "DATE":
        return f"CAST({c} AS TIMESTAMPTZ)", "CAST(NULL AS VARCHAR)", "__wb_ts_try"
    if _is_number(dtype):
        v = f"CAST({c} AS DOUBLE)"
        epoch = (f"CASE WHEN isfinite({v}) THEN to_timestamp(CASE WHEN abs({v}) >= 1e11 THEN {v} / 1000 "
                 f"ELSE {v} END) END")
        return epoch, f"CASE WHEN __wb_ts_try IS NULL THEN CAST({c} AS VARCHAR) END", "__wb_ts_try"
    t = _as_text("ts", dtype)
    first = f"TRY_CAST({t} AS TIMESTAMPTZ)"  # DuckDB's cast tolerates surrounding spaces
    if ts_format:
        fmt = f"try_strptime({t}, {literal(ts_format)})"
        first = f"CASE WHEN {fmt} IS NOT NULL THEN CAST({fmt} AS TIMESTAMPTZ) ELSE {first} END"
    text = f"CASE WHEN __wb_ts_try IS NULL THEN {_blank_text('ts', dtype)} END"
    x = "__wb_ts_text"
    retry = f"TRY_CAST({x} AS TIMESTAMPTZ)"
    if ts_format:
        retry = f"coalesce(CAST(try_strptime({x}, {literal(ts_format)}) AS TIMESTAMPTZ), {retry})"
    # then what the cast refused, trimmed; then epoch digits (CASE is lazy: only refused values get here)
    value = (f"CASE WHEN __wb_ts_try IS NOT NULL THEN __wb_ts_try WHEN {x} IS NULL THEN NULL "
             f"WHEN {retry} IS NOT NULL THEN {retry} "
             f"WHEN regexp_full_match({x}, '-?[0-9]{{9,10}}(\\.[0-9]+)?') THEN to_timestamp(CAST({x} AS DOUBLE)) "
             f"WHEN regexp_full_match({x}, '-?[0-9]{{12,13}}') THEN to_timestamp(CAST({x} AS DOUBLE) / 1000) END")
    return first, text, value


_MONEY_STRIP = r"[\s$€£¥]|(?i:usd|eur|gbp|jpy|chf)"
_MONEY = {".": (r"[-+]?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]+)?", ",", "."),
          ",": (r"[-+]?([0-9]{1,3}(\.[0-9]{3})+|[0-9]+)(,[0-9]+)?", ".", ",")}


def _revenue_parts(dtype: str | None, decimal: str) -> tuple[str, str, str]:
    """(first try, value, is-bad) expressions for ``revenue``; value is over the first try
    (``__wb_rev_try``), is-bad over the value (``__wb_rev``). Text may be an amount with a
    currency symbol or code and thousands separators; ``decimal`` is its decimal mark."""
    if dtype is None:
        return "CAST(NULL AS DOUBLE)", "CAST(NULL AS DOUBLE)", "false"
    c = quote("revenue")
    if _is_number(dtype):
        return f"CAST({c} AS DOUBLE)", "__wb_rev_try", "coalesce(NOT isfinite(__wb_rev), false)"
    raw = _as_text("revenue", dtype)
    t = _blank_text("revenue", dtype)
    pattern, thousands, mark = _MONEY[decimal]
    m = f"regexp_replace({t}, '{_MONEY_STRIP}', '', 'g')"
    amount = (f"CASE WHEN regexp_full_match({m}, '{pattern}') "
              f"THEN TRY_CAST(replace(replace({m}, '{thousands}', ''), '{mark}', '.') AS DOUBLE) END")
    # plain numbers take DuckDB's cast (which allows surrounding spaces); only the rest are read as amounts
    first = f"TRY_CAST({raw} AS DOUBLE)" if decimal == "." else "CAST(NULL AS DOUBLE)"
    value = f"CASE WHEN __wb_rev_try IS NOT NULL THEN __wb_rev_try WHEN {c} IS NULL THEN NULL ELSE {amount} END"
    bad = (f"CASE WHEN __wb_rev IS NOT NULL THEN NOT isfinite(__wb_rev) WHEN {c} IS NULL THEN false "
           f"ELSE {t} IS NOT NULL END")
    return first, value, bad


def _canonical(j: str) -> str:
    """Compact JSON with sorted top-level keys, for a JSON object expression."""
    return f"to_json(map_from_entries(list_sort(map_entries(CAST(CAST({j} AS JSON) AS MAP(VARCHAR, JSON))))))::VARCHAR"


def canonical_sql(col: str) -> str:
    """Canonical text (see the module) of a column holding JSON object text or NULL."""
    return f"CASE WHEN {quote(col)} IS NOT NULL THEN {_canonical(quote(col))} END"


def _props_parts(dtype: str | None) -> tuple[str, str, str]:
    """(compact text, error, object) expressions for ``properties``: the compact text of valid JSON,
    then the error reason and the JSON object text, both over the compact text (``__wb_pc``). The
    object is NULL whenever there is an error (and when the value is absent or blank)."""
    if dtype is None:
        return "CAST(NULL AS VARCHAR)", "CAST(NULL AS VARCHAR)", "CAST(NULL AS VARCHAR)"
    c = quote("properties")
    if dtype in _TEXT:
        t = _as_text("properties", dtype)
        compact = f"CAST(TRY(json({t})) AS VARCHAR)"  # one parse; NULL when not valid JSON
        err = (f"CASE WHEN {c} IS NULL THEN NULL "
               f"WHEN __wb_pc IS NULL THEN CASE WHEN trim({t}) <> '' THEN 'properties is not valid JSON' END "
               f"WHEN NOT starts_with(__wb_pc, '{{') THEN 'properties is not a JSON object' END")
        return compact, err, "CASE WHEN starts_with(__wb_pc, '{') THEN __wb_pc END"
    if dtype.startswith(("STRUCT", "MAP")):
        return f"CAST(to_json({c}) AS VARCHAR)", "CAST(NULL AS VARCHAR)", "__wb_pc"
    return ("CAST(NULL AS VARCHAR)", f"CASE WHEN {c} IS NOT NULL THEN 'properties is not a JSON object' END",
            "CAST(NULL AS VARCHAR)")


def _extras_sql(extras: dict[str, str]) -> str:
    """The properties object ``__wb_po`` with the extra columns folded in: their non-null
    ``"key":value`` pairs put as text before the object's own members, unless a key of the object
    may be one of theirs, where JSON merge-patch decides (the object's values win). Rows whose
    extra values are all present take one concatenation."""
    pairs, keys, values, risky = [], [], [], False
    for name, dtype in extras.items():
        key = json.dumps(name, ensure_ascii=False)
        risky = risky or "\\" in key
        keys.append(f"contains(__wb_po, {literal(key)})")
        present = f"{quote(name)} IS NOT NULL" + (f" AND CAST({quote(name)} AS VARCHAR) <> 'null'"
                                                  if dtype == "JSON" else "")
        value = f"CAST(to_json({quote(name)}) AS VARCHAR)"
        pairs.append(f"CASE WHEN {present} THEN {literal(key + ':')} || {value} END")
        values.append((present, key, value))
    members = f"concat_ws(',', {', '.join(pairs)})"
    collides = "true" if risky else " OR ".join(keys)
    ex, p = f"('{{' || {members} || '}}')", "__wb_po"
    # merge-patch would drop a null-valued key of the object, so objects mentioning null take two steps
    patched = (f"CASE WHEN contains({p}, 'null') THEN json_merge_patch({p}, json_merge_patch({ex}, {p})) "
               f"ELSE json_merge_patch({ex}, {p}) END")
    full = " AND ".join(present for present, _, _ in values)
    pieces = ", ".join(f"{literal((',' if i else '{') + key + ':')}, {value}" for i, (_, key, value) in enumerate(values))
    # CASE is lazy: each row computes only its branch; concat_ws leaves out absent pairs
    merged = (f"CASE WHEN {p} IS NULL OR {p} = '{{}}' THEN CASE WHEN {full} THEN concat({pieces}, '}}') "
              f"ELSE coalesce(NULLIF({ex}, '{{}}'), {p}) END "
              f"WHEN {collides} THEN CAST({patched} AS VARCHAR) "
              f"WHEN {full} THEN concat({pieces}, ',', substr({p}, 2)) "
              f"ELSE '{{' || concat_ws(',', {', '.join(pairs)}, substr({p}, 2)) END")
    return merged


_NON_FINITE = r"(?i)[:,\[]-?(nan|inf)|[0-9]e\+?[0-9]{3}"


def _suspect_sql(extras: dict[str, str]) -> str:
    """Whether a row's properties may hold a non-finite number (see :func:`.fallbacks.fallback_props`): its
    JSON text shows NaN or Infinity where a value starts, or a 3-digit exponent, or a floating
    extra column is not finite."""
    checks = [f"coalesce(regexp_matches(__wb_pc, {literal(_NON_FINITE)}), false)"]
    for name, dtype in extras.items():
        if dtype in ("FLOAT", "DOUBLE"):
            checks.append(f"coalesce(NOT isfinite({quote(name)}), false)")
        elif dtype == "JSON":
            checks.append(f"coalesce(regexp_matches(CAST({quote(name)} AS VARCHAR), {literal(_NON_FINITE)}), false)")
    return " OR ".join(checks)


def reason_sql(brand: str, latest: datetime) -> str:
    """The reason expression over the staged columns (NULL for a good row); rows stamped after
    ``latest`` are in the future. Reasons are only spelled out for rows that have one."""
    limit = f"TIMESTAMPTZ {literal(utc(latest).isoformat())}"
    return f"""CASE WHEN user_id IS NULL OR event IS NULL OR ts IS NULL OR ts > {limit} OR __wb_rev_bad
                    OR __wb_brand_bad OR __wb_props_err IS NOT NULL THEN concat_ws('; ',
        CASE WHEN user_id IS NULL THEN 'missing user_id' END,
        CASE WHEN event IS NULL THEN 'missing event' END,
        CASE WHEN __wb_ts_blank THEN 'missing ts' WHEN ts IS NULL THEN 'unparseable ts'
             WHEN ts > {limit} THEN 'ts is in the future' END,
        CASE WHEN __wb_rev_bad THEN 'revenue is not a finite number' END,
        CASE WHEN __wb_brand_bad THEN {literal(f"brand does not match the ingest brand {brand!r}")} END,
        __wb_props_err) END"""


def _event_id_sql(brand: str) -> str:
    """The stored id: the given one, else derived from the content (see the module)."""
    derived = derived_id_sql(literal(brand), "user_id", "event", "ts", "revenue", "properties")
    return f"CASE WHEN __wb_id_derived THEN {derived} ELSE event_id END"


def stage(con: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation, brand: str, options=None, *,
          latest: datetime, in_memory: bool = False) -> Staged:
    """Validate ``rel`` into ``__wb_staged`` of ``con``.

    It holds one row per source row, in the source's order (``__wb_row`` is the row's position):
    the stored columns (``STORED``: ``event_id``, ``brand``, ``user_id``, ``event``, ``ts``,
    ``revenue``, ``properties`` and the partition column ``day``), the row's ``__wb_reason``
    (NULL: good), the parts it is made of (``__wb_*``) and ``__wb_key``, a 64-bit hash of its
    ``event_id`` and ``day`` as first staged (read only while the rows are held in Arrow, see
    :meth:`Staged.may_repeat`; rows a fallback fixes have moved to DuckDB). The source's own
    columns are not copied: the quarantine reads the (few) bad rows' original values from the
    source again, by position (see :func:`rejected_rows_sql`). Rows are stamped in the future
    after ``latest``.

    Parameters
    ----------
    in_memory : bool
        Hold the staged rows as an Arrow table (for sources already in memory: no copy into
        DuckDB's storage, and good rows leave without one); else as a DuckDB table, which spills
        to disk beyond the memory limit.

    Returns
    -------
    Staged
        The row count, and the Arrow table when the rows are held in Arrow.
    """
    names = [str(c) for c in rel.columns]
    types = {str(c): str(t).upper() for c, t in zip(rel.columns, rel.types)}
    missing = [c for c in REQUIRED if c not in types]
    if missing:
        raise InvalidInputError(f"event source lacks required column(s) {missing}; it has {names}")
    clash = [c for c in names if c.startswith("__wb_")]
    if clash:
        raise InvalidInputError(f"event source columns may not start with '__wb_': {clash}")
    options = options or ImportOptions()
    rel.create_view("__wb_source", replace=True)
    query = _staging_sql(brand, types, options, latest)
    if in_memory:
        table = con.sql(query).to_arrow_table()
        table = table.append_column("__wb_row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
        con.register(STAGED, table)
        staged = Staged(table.num_rows, table)
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {ROWS} AS {query}")
        staged_view(con)
        staged = Staged(con.sql(f"SELECT count(*) FROM {ROWS}").fetchall()[0][0])
    con.execute("DROP VIEW __wb_source")
    fixed = fallback_ts(con, options, staged) + fallback_props(con, staged)
    if fixed:  # what depends on the fixed values, for those rows only (now held by DuckDB)
        con.register("__wb_fixed", pd.DataFrame({"r": sorted(set(fixed))}))
        con.execute(f"UPDATE {ROWS} SET day = CAST(ts AS DATE), __wb_reason = {reason_sql(brand, latest)}, "
                    f"event_id = {_event_id_sql(brand)} WHERE rowid IN (SELECT r FROM __wb_fixed)")
        con.unregister("__wb_fixed")
    return staged


def _staging_sql(brand: str, types: dict[str, str], options: ImportOptions, latest: datetime) -> str:
    """The one validation query over view ``__wb_source`` (see :func:`stage`)."""
    extras = {c: t for c, t in types.items() if c not in EVENT_COLUMNS}
    ts_try, ts_text, ts = _ts_parts(types["ts"], options.ts_format)
    rev_try, rev, rev_bad = _revenue_parts(types.get("revenue"), options.decimal)
    compact, props_err, props_obj = _props_parts(types.get("properties"))
    merged = _extras_sql(extras) if extras else "__wb_po"
    suspect = _suspect_sql(extras)
    brand_bad = (f"({quote('brand')} IS NOT NULL AND CAST({quote('brand')} AS VARCHAR) <> {literal(brand)})"
                 if "brand" in types else "false")
    given = _clean_text("event_id", types["event_id"]) if "event_id" in types else "CAST(NULL AS VARCHAR)"
    # one level per dependency: each level's expressions read the columns the level below made
    return f"""
        SELECT *, hash(event_id, day) AS __wb_key FROM (
        SELECT {_event_id_sql(brand)} AS event_id, {literal(brand)} AS brand, user_id, event, ts, revenue,
               properties, day, {reason_sql(brand, latest)} AS __wb_reason, __wb_id_derived, __wb_ts_blank,
               __wb_ts_raw, __wb_rev_bad, __wb_brand_bad, __wb_props_err, __wb_suspect
        FROM (
          SELECT __wb_user AS user_id, __wb_event AS event, __wb_ts AS ts, __wb_rev AS revenue,
                 CASE WHEN __wb_given_id IS NULL THEN {_canonical('__wb_merged')} ELSE __wb_merged END AS properties,
                 CAST(__wb_ts AS DATE) AS day, __wb_given_id AS event_id, __wb_given_id IS NULL AS __wb_id_derived,
                 __wb_ts_blank, __wb_ts_raw, __wb_rev_bad,
                 __wb_brand_bad, __wb_props_err, {suspect} AS __wb_suspect
          FROM (
            SELECT *, {merged} AS __wb_merged, {rev_bad} AS __wb_rev_bad,
                   __wb_ts_try IS NULL AND __wb_ts_text IS NULL AS __wb_ts_blank,
                   CASE WHEN __wb_ts IS NULL THEN __wb_ts_text END AS __wb_ts_raw
            FROM (
              SELECT *, {_clean_text('user_id', types['user_id'])} AS __wb_user,
                       {_clean_text('event', types['event'])} AS __wb_event, {ts} AS __wb_ts, {rev} AS __wb_rev,
                       {brand_bad} AS __wb_brand_bad, {given} AS __wb_given_id, {props_err} AS __wb_props_err,
                       {props_obj} AS __wb_po
                FROM (
                  SELECT *, {ts_text} AS __wb_ts_text FROM (
                    SELECT *, {ts_try} AS __wb_ts_try, {rev_try} AS __wb_rev_try, {compact} AS __wb_pc
                    FROM __wb_source))))))
    """


