"""Event columns, validation and normalisation.

An event row has ``event_id`` (unique per brand; derived from the row's content
when absent, so re-ingesting an identical row is recognised as a duplicate),
``brand``, ``user_id``, ``event``, ``ts`` (UTC), ``revenue`` (nullable float) and
``properties`` (a JSON object stored as text, nullable). Columns a source has
beyond these are folded into ``properties``.

Validation never drops a row silently: every row ends up either normalised in
the ``good`` frame or, with its original values and a ``reason``, in ``bad``.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import InvalidInputError

__all__ = ["EVENT_COLUMNS", "ARROW_SCHEMA", "Validated", "validate_events", "check_brand_name", "empty_events"]

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


def empty_events() -> pa.Table:
    return ARROW_SCHEMA.empty_table()


@dataclass
class Validated:
    good: pd.DataFrame  # normalised, EVENT_COLUMNS, event_id filled
    bad: pd.DataFrame   # original values (as text) plus `reason`


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | (s.astype("string").str.strip() == "")


def _parse_ts(s: pd.Series) -> pd.Series:
    """Parse timestamps to UTC; unparseable values become NaT. Naive values are UTC;
    numbers are Unix seconds."""
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")
        return out.astype("datetime64[us, UTC]")
    if pd.api.types.is_numeric_dtype(s):
        return pd.to_datetime(s, unit="s", utc=True, errors="coerce").astype("datetime64[us, UTC]")
    text = s.astype("string").str.strip()
    out = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    retry = out.isna() & text.notna() & (text != "")
    if retry.any():
        out.loc[retry] = pd.to_datetime(text[retry], utc=True, errors="coerce", format="mixed")
    return out.astype("datetime64[us, UTC]")


def _parse_revenue(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Revenue as float; returns (values, bad_mask). Blank is null, not bad."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        vals = s.astype("float64")
        return vals, ~np.isfinite(vals.fillna(0.0))
    blank = _blank(s)
    vals = pd.to_numeric(s.where(~blank), errors="coerce").astype("float64")
    bad = (~blank & vals.isna()) | ~np.isfinite(vals.fillna(0.0))
    return vals, bad


def _properties_text(value, extras: dict | None) -> tuple[str | None, str | None]:
    """(canonical JSON text, error) for one row's properties plus folded extra columns."""
    obj = None
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        obj = None
    elif isinstance(value, dict):
        obj = value
    elif isinstance(value, str):
        if value.strip() == "":
            obj = None
        else:
            try:
                obj = json.loads(value)
            except ValueError:
                return None, "properties is not valid JSON"
            if not isinstance(obj, dict):
                return None, "properties is not a JSON object"
    else:
        return None, "properties is not a JSON object"
    if extras:
        obj = {**extras, **(obj or {})}
    if obj is None:
        return None, None
    try:
        return json.dumps(obj, sort_keys=True, default=str, allow_nan=False), None
    except ValueError:
        return None, "properties holds a non-finite number"


def _derive_ids(brand: str, df: pd.DataFrame) -> pd.Series:
    """128-bit content hashes, hex, for rows without an event_id."""
    key = pd.DataFrame({
        "b": brand, "u": df["user_id"], "e": df["event"],
        "t": df["ts"].astype("int64"), "r": df["revenue"].fillna(np.nan),
        "p": df["properties"].fillna(""),
    })
    h1 = pd.util.hash_pandas_object(key, index=False, hash_key="workbench-event1").to_numpy()
    h2 = pd.util.hash_pandas_object(key, index=False, hash_key="workbench-event2").to_numpy()
    return pd.Series([f"{a:016x}{b:016x}" for a, b in zip(h1, h2)], index=df.index, dtype="string")


def validate_events(frame: pd.DataFrame, brand: str, *, now: datetime | None = None,
                    max_future_skew: timedelta = timedelta(hours=24)) -> Validated:
    """Split raw rows into normalised good rows and rejected rows with reasons.

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
    check_brand_name(brand)
    missing = [c for c in ("user_id", "event", "ts") if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"event source lacks required column(s) {missing}; it has {list(frame.columns)}")
    now = now or datetime.now(timezone.utc)
    df = frame.reset_index(drop=True)
    n = len(df)
    reasons: list[list[str]] = [[] for _ in range(n)]

    def flag(mask: pd.Series | np.ndarray, why: str) -> None:
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)):
            reasons[i].append(why)

    for col in ("user_id", "event"):
        flag(_blank(df[col]), f"missing {col}")
    ts_blank = _blank(df["ts"])
    flag(ts_blank, "missing ts")
    ts = _parse_ts(df["ts"])
    flag(ts.isna() & ~ts_blank, "unparseable ts")
    flag(ts > pd.Timestamp(now + max_future_skew), "ts is in the future")

    if "revenue" in df.columns:
        revenue, bad_rev = _parse_revenue(df["revenue"])
        flag(bad_rev, "revenue is not a finite number")
    else:
        revenue = pd.Series(np.nan, index=df.index, dtype="float64")

    if "brand" in df.columns:
        other = df["brand"].notna() & (df["brand"].astype("string") != brand)
        flag(other, f"brand does not match the ingest brand {brand!r}")

    extra_cols = [c for c in df.columns if c not in EVENT_COLUMNS]
    props_in = df["properties"] if "properties" in df.columns else pd.Series(None, index=df.index, dtype=object)
    if extra_cols or props_in.notna().any():
        extras = df[extra_cols].to_dict("records") if extra_cols else [None] * n
        props_out = []
        for i, (value, ex) in enumerate(zip(props_in.tolist(), extras)):
            if ex:
                ex = {k: (v.isoformat() if isinstance(v, (pd.Timestamp, datetime)) else v)
                      for k, v in ex.items() if v is not None and not (isinstance(v, float) and math.isnan(v))}
            text, err = _properties_text(value, ex)
            if err:
                reasons[i].append(err)
            props_out.append(text)
        properties = pd.Series(props_out, index=df.index, dtype="string")
    else:
        properties = pd.Series(pd.NA, index=df.index, dtype="string")

    ok = np.array([not r for r in reasons], dtype=bool)
    good = pd.DataFrame({
        "event_id": (df["event_id"].astype("string").str.strip() if "event_id" in df.columns
                     else pd.Series(pd.NA, index=df.index, dtype="string")),
        "brand": pd.Series(brand, index=df.index, dtype="string"),
        "user_id": df["user_id"].astype("string").str.strip(),
        "event": df["event"].astype("string").str.strip(),
        "ts": ts,
        "revenue": revenue,
        "properties": properties,
    })[ok]
    no_id = good["event_id"].isna() | (good["event_id"] == "")
    if no_id.any():
        good.loc[no_id, "event_id"] = _derive_ids(brand, good[no_id])
    bad = df[~ok].astype("string").copy()
    bad["reason"] = ["; ".join(r) for r in reasons if r]
    return Validated(good=good.reset_index(drop=True), bad=bad.reset_index(drop=True))
