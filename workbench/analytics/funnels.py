"""Exact ordered funnels.

Semantics
---------
An *attempt* starts at any event matching step 1, at time t1. Step k is reached
in that attempt when events e2..ek match steps 2..k with
t1 <= t2 <= ... <= tk <= t1 + window (the window is inclusive). Other events may
occur in between. Each step uses a different event row; when two consecutive
steps name the same event, the later one must be strictly later.

Each step greedily takes the earliest eligible event row (earliest time, then
earliest row among that user's rows of the same event); taking the earliest is
never worse for the later steps, so the greedy chain reaches the furthest step
possible from that start. A user counts once, at the furthest step reached in
any attempt. Their timings come from the *counted attempt*: the earliest-starting
attempt among those reaching their furthest step.

DuckDB reads the step events, unsorted, with a 64-bit key per user (a hash of the id,
or the integer id itself); ``_user_groups`` groups the rows by key in compiled code and
checks, for string or other ids, that every group holds one id (a collision reruns the
query sorted by the ids themselves); a compiled walk (``_funnel_kernel``) puts each
user's rows in time order and follows every attempt in one pass. The portable Ibis
formulation of the same semantics is in :mod:`.portable`; the tests hold the two equal.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, NamedTuple, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InvalidInputError
from . import portable
from ._inputs import as_relation, breakdown_source, literal, parse_window, quote, source_relation, window_us

if TYPE_CHECKING:
    from ._user_groups import Grouped

log = logging.getLogger(__name__)

__all__ = ["funnel", "funnel_users", "funnel_over_time", "time_to_convert", "funnel_dropoff", "MIN_STEPS",
           "MAX_STEPS"]

MIN_STEPS, MAX_STEPS = 2, 20


def _check_steps(steps: Sequence[str]) -> list[str]:
    if isinstance(steps, str) or not isinstance(steps, Sequence):
        raise InvalidInputError(f"steps must be a list of event names, not {type(steps).__name__}")
    steps = list(steps)
    if not MIN_STEPS <= len(steps) <= MAX_STEPS:
        raise InvalidInputError(f"a funnel needs {MIN_STEPS} to {MAX_STEPS} steps, got {len(steps)}")
    for s in steps:
        if not isinstance(s, str) or not s:
            raise InvalidInputError(f"every step must be a non-empty event name, got {s!r}")
    return steps


def _breakdown_expr(breakdown: str, columns: list[str]) -> str:
    """SQL expression over the original events giving each row's breakdown value."""
    kind, name = breakdown_source(breakdown, columns)
    if kind == "json":
        return f"json_extract_string(properties, {literal('$.' + name)})"
    return f"CAST({quote(name)} AS VARCHAR)"


# How rows are grouped by user before the walk. "hash": read them unsorted and group them
# by a 64-bit key (``_user_groups``): the ids themselves when they are integers (through
# a bijection), else a hash of the id, after which every group is checked to hold one id;
# on a collision the query is rerun with "dense": sorted by the ids themselves, which
# cannot collide. Results are always exact.
_KEY_MODES = ("hash", "dense")
_HASH_SQL = "hash(user_id)"
_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


def _needs_rank(steps: list[str], k: int) -> int | None:
    """For step k (1-based), the last earlier non-adjacent step with the same event, if any:
    its row must not be reused by step k."""
    name = steps[k - 1]
    if name == steps[k - 2]:
        return None
    return max((j for j in range(1, k - 1) if steps[j - 1] == name), default=None)


class _Walk(NamedTuple):
    """Per user with a step-1 event (times in epoch microseconds, NO_TIME when missing)."""
    rows: pa.Table
    first_row: np.ndarray  # one of the user's rows (where their user_id is read)
    bd_code: np.ndarray    # index into bd_values
    bd_values: list        # sorted values, then None
    level: np.ndarray
    times: np.ndarray      # users x steps
    entered: np.ndarray
    last_start: np.ndarray


def _user_rows(rel, steps: list[str], breakdown: bool, key: str, integer_ids: bool) -> pa.Table:
    """The users' step rows: ``uk`` (the hash key; not for integer ids), ``user_id``,
    ``c`` (the event's code), ``t`` and, with a breakdown, ``bd``. Unsorted, except with
    ``key="dense"``: sorted by id."""
    names = list(dict.fromkeys(steps))
    code = "CASE event " + " ".join(f"WHEN {literal(n)} THEN {i}" for i, n in enumerate(names)) + " END::UTINYINT"
    bd = ", bd" if breakdown else ""  # only step-1 rows' values are used
    uk = "" if integer_ids or key == "dense" else f"{_HASH_SQL} AS uk, "
    order = " ORDER BY user_id" if key == "dense" else ""
    return rel.query("ev", f"SELECT {uk}user_id, {code} AS c, ts AS t{bd} FROM ev "
                           f"WHERE event IN ({', '.join(literal(n) for n in names)}) "
                           f"AND user_id IS NOT NULL AND ts IS NOT NULL{order}").to_arrow_table()


def _group_rows(rows: pa.Table, key: str, integer_ids: bool) -> Grouped | None:
    """The rows grouped by user; None when two ids share a hash key."""
    from ._user_groups import Grouped, fingerprints, group_by_key, is_string, mix, one_id_per_group

    ids = rows.column("user_id").combine_chunks()
    codes, times = rows.column("c").to_numpy(), rows.column("t").to_numpy()
    if key == "dense":  # sorted by id already
        n = len(ids)
        change = pc.not_equal(ids.slice(1), ids.slice(0, n - 1)).to_numpy(zero_copy_only=False) if n else []
        return Grouped(np.concatenate([[0], np.flatnonzero(change) + 1, [n]]).astype(np.int64), np.arange(n),
                       codes.copy(), times.copy(), np.empty(0, np.uint64))
    if integer_ids:  # a bijection: equal keys are equal ids
        return group_by_key(mix(ids.to_numpy()), codes, times)
    grouped = group_by_key(rows.column("uk").to_numpy(), codes, times, fingerprints(ids) if is_string(ids) else None)
    return grouped if one_id_per_group(grouped, ids) else None


def _bd_codes(values: pa.Array) -> tuple[np.ndarray, list]:
    """Codes ordered like the values (so the smallest code is the smallest value), NULL last."""
    enc = values.dictionary_encode()
    dictionary = enc.dictionary.to_pylist()
    rank = np.empty(len(dictionary) + 1, np.int64)
    rank[np.argsort(np.array(dictionary, dtype=object), kind="stable")] = np.arange(len(dictionary))
    rank[-1] = len(dictionary)
    return rank[enc.indices.fill_null(len(dictionary)).to_numpy()], sorted(dictionary) + [None]


def _first_touch(bd: pa.ChunkedArray, pos: np.ndarray, codes: np.ndarray, first_code: int, touch: np.ndarray,
                 touch_end: np.ndarray) -> tuple[np.ndarray, list]:
    """Each user's breakdown code: the value on their first step-1 row (position ``touch``
    in the walk's order); when other step-1 rows share that instant (``touch:touch_end``),
    the smallest value (NULL last). ``pos`` maps the walk's order to rows of ``bd``."""
    def values_at(where: np.ndarray) -> pa.Array:
        return bd.take(pa.array(pos[where])).combine_chunks()

    codes_out, values = _bd_codes(values_at(touch))
    shared = np.flatnonzero(touch_end - touch > 1)
    if not len(shared):
        return codes_out, values
    lengths = touch_end[shared] - touch[shared]
    owner = np.repeat(shared, lengths)
    where = np.repeat(touch[shared] - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    keep = codes[where] == first_code
    cand = pd.DataFrame({"u": owner[keep], "v": values_at(where[keep]).to_pandas()})
    smallest = cand.dropna(subset=["v"]).groupby("u")["v"].min()
    per_user = np.array(values, dtype=object)[codes_out]
    per_user[smallest.index.to_numpy()] = smallest.to_numpy()
    return _bd_codes(pa.array(per_user, type=pa.string()))


def _walk(events, steps: list[str], window, breakdown: str | None, cols: dict) -> _Walk:
    """Run the per-user walk (see ``_funnel_kernel``) over ``events``."""
    from ._funnel_kernel import walk_threads

    window = parse_window(window)
    raw = source_relation(events)
    bd = _breakdown_expr(breakdown, list(raw.columns)) if breakdown else "NULL::VARCHAR"
    rel = as_relation(raw, required={"user_id": cols["user_col"], "event": cols["event_col"], "ts": cols["ts_col"]},
                      expressions={"bd": bd}, time="epoch_us")
    integer_ids = str(dict(zip(rel.columns, rel.types))["user_id"]).upper() in _INTEGER_TYPES
    for key in _KEY_MODES:
        rows = _user_rows(rel, steps, breakdown is not None, key, integer_ids)
        grouped = _group_rows(rows, key, integer_ids)
        if grouped is not None:
            break
        log.info("user id hash collision; grouping by the ids themselves")
    starts, perm = grouped.starts, grouped.perm
    names = list(dict.fromkeys(steps))
    n = len(steps)
    strict = np.array([False] + [steps[k] == steps[k - 1] for k in range(1, n)])
    last_same = np.array([-1] + [(_needs_rank(steps, k + 1) or 0) - 1 for k in range(1, n)], np.int64)
    # the walk puts each user's rows in time order in place (codes, times and perm)
    codes = grouped.codes
    keep, level, times, entered, last_start, touch, touch_end = walk_threads(
        starts, codes, grouped.times, perm,
        np.array([names.index(s) for s in steps], np.int64), strict, last_same,
        window_us(window), len(names))
    if breakdown is not None:
        bd_code, bd_values = _first_touch(rows.column("bd"), perm, codes, names.index(steps[0]), touch[keep],
                                          touch_end[keep])
    else:
        bd_code, bd_values = np.zeros(int(keep.sum()), np.int64), [None]
    return _Walk(rows=rows, first_row=perm[starts[:-1][keep]], bd_code=bd_code, bd_values=bd_values, level=level[keep],
                 times=times[keep], entered=entered[keep], last_start=last_start[keep])


def us_to_datetime(values: pd.Series) -> pd.Series:
    """Epoch microseconds (nullable) as UTC timestamps, exactly (no float rounding)."""
    return pd.to_datetime(values.astype("Int64"), unit="us", utc=True).astype("datetime64[ns, UTC]")


def funnel_users(events, steps: Sequence[str], window, *, breakdown: str | None = None,
                 user_col: str = "user_id", event_col: str = "event", ts_col: str = "ts") -> pd.DataFrame:
    """Per-user funnel progress.

    Returns
    -------
    DataFrame
        One row per user who did step 1: ``user_id``, ``breakdown`` (first-touch
        value, or None), ``level`` (furthest step reached, 1-based) and ``t1``..``tn``
        (UTC timestamps of the counted attempt's steps; NaT beyond ``level``),
        ``entered`` and ``last_start`` (the user's first and last step-1 events).
    """
    steps = _check_steps(steps)
    cols = {"user_col": user_col, "event_col": event_col, "ts_col": ts_col}
    if portable.is_ibis_table(events):
        return portable.funnel_users(events, steps, parse_window(window), breakdown=breakdown, cols=cols)
    w = _walk(events, steps, window, breakdown, cols)
    out = pd.DataFrame({"user_id": w.rows.column("user_id").take(pa.array(w.first_row)).to_pandas(),
                        "breakdown": np.array(w.bd_values, dtype=object)[w.bd_code], "level": w.level})
    for k in range(len(steps)):
        out[f"t{k + 1}"] = _times(w.times[:, k])
    out["entered"], out["last_start"] = _times(w.entered), _times(w.last_start)
    return out.sort_values("user_id", kind="stable").reset_index(drop=True)


def _times(us: np.ndarray) -> pd.Series:
    """Epoch microseconds (NO_TIME: missing) as UTC timestamps."""
    from ._funnel_kernel import NO_TIME

    return us_to_datetime(pd.Series(pd.arrays.IntegerArray(us.astype(np.int64), us == NO_TIME)))


def funnel(events, steps: Sequence[str], window, *, breakdown: str | None = None,
           user_col: str = "user_id", event_col: str = "event", ts_col: str = "ts") -> pd.DataFrame:
    """Ordered funnel over an event log.

    Parameters
    ----------
    events : DataFrame | pyarrow.Table | DuckDBPyRelation | str
        Event log with user, event-name and timestamp columns (Parquet path/glob allowed).
    steps : list of str
        2 to 20 event names, in order; repeats allowed.
    window : timedelta or str
        Time allowed from step 1 to the last step, inclusive (``"7d"``, ``"36h"``...).
    breakdown : str, optional
        An events column, or a key of the JSON ``properties`` column (``"country"`` or
        ``"properties.country"``). Each user is attributed to the value on their first
        step-1 event (first touch); ties in time take the smallest value.

    Returns
    -------
    DataFrame
        One row per step (per breakdown value): ``step`` (1-based), ``event``, ``users``,
        ``conversion`` (users / users at step 1), ``step_conversion`` (users / users at
        the previous step; 1.0 at step 1), ``median_seconds_from_previous`` (over users
        reaching the step, from their counted attempt; NaN at step 1), and
        ``breakdown`` first when a breakdown is asked for. Steps nobody reached have
        ``users`` 0; ratios over zero users are NaN.
    """
    steps = _check_steps(steps)
    cols = {"user_col": user_col, "event_col": event_col, "ts_col": ts_col}
    if portable.is_ibis_table(events):
        return portable.funnel(events, steps, parse_window(window), breakdown=breakdown, cols=cols)
    w = _walk(events, steps, window, breakdown, cols)
    n = len(steps)
    groups = len(w.bd_values)
    per_bd = pd.DataFrame({"bd": w.bd_values})
    for k in range(1, n + 1):
        per_bd[f"u{k}"] = np.bincount(w.bd_code[w.level >= k], minlength=groups)
    for k in range(2, n + 1):  # median microseconds from the previous step, over users reaching step k
        reached = w.level >= k
        gaps = pd.Series(w.times[reached, k - 1] - w.times[reached, k - 2], dtype="float64")
        per_bd[f"m{k}"] = gaps.groupby(w.bd_code[reached]).median().reindex(range(groups)).to_numpy()
    per_bd = per_bd[per_bd["u1"] > 0]
    return summary_frame(per_bd, steps, breakdown is not None)


def summary_frame(per_bd: pd.DataFrame, steps: list[str], has_breakdown: bool) -> pd.DataFrame:
    """The funnel table from per-breakdown aggregates ``bd, u1..un`` (users reaching each
    step) and ``m2..mn`` (median microseconds from the previous step). Shared by every engine."""
    n = len(steps)
    if not has_breakdown and per_bd.empty:
        per_bd = pd.DataFrame([{"bd": None, **{f"u{k}": 0 for k in range(1, n + 1)}}])
    rows = []
    for rec in per_bd.sort_values("bd", na_position="last", kind="stable").to_dict("records"):
        first = rec["u1"]
        for k, name in enumerate(steps, start=1):
            users = int(rec[f"u{k}"])
            prev = int(rec[f"u{k-1}"]) if k > 1 else users
            median = rec.get(f"m{k}") if k > 1 else None
            rows.append({"breakdown": None if pd.isna(rec["bd"]) else rec["bd"], "step": k, "event": name,
                         "users": users, "conversion": users / first if first else np.nan,
                         "step_conversion": (1.0 if users else np.nan) if k == 1 else (users / prev if prev else np.nan),
                         "median_seconds_from_previous": np.nan if median is None or pd.isna(median) else median / 1e6})
    out = pd.DataFrame(rows, columns=["breakdown", "step", "event", "users", "conversion", "step_conversion",
                                      "median_seconds_from_previous"])
    out["users"] = out["users"].astype("int64")
    out["step"] = out["step"].astype("int64")
    for col in ("conversion", "step_conversion", "median_seconds_from_previous"):
        out[col] = out[col].astype("float64")
    return out if has_breakdown else out.drop(columns="breakdown")


_PERIOD_FREQ = {"day": "D", "week": "W-SUN", "month": "MS"}


def funnel_over_time(events, steps: Sequence[str], window, *, period: str = "week", **cols) -> pd.DataFrame:
    """Conversion by the period users entered the funnel (their first step-1 event, UTC).

    Returns
    -------
    DataFrame
        ``period`` (period start, tz-naive UTC), ``step``, ``event``, ``users``, ``conversion``.
    """
    if period not in _PERIOD_FREQ:
        raise InvalidInputError(f"period must be one of {', '.join(_PERIOD_FREQ)}, got {period!r}")
    steps = _check_steps(steps)
    users = funnel_users(events, steps, window, **cols)
    entered = users["entered"].dt.tz_localize(None)
    starts = entered.dt.to_period({"day": "D", "week": "W-SUN", "month": "M"}[period]).dt.start_time
    rows = []
    for start, grp in users.groupby(starts, sort=True):
        n1 = len(grp)
        for k, name in enumerate(steps, start=1):
            n = int((grp["level"] >= k).sum())
            rows.append({"period": start, "step": k, "event": name, "users": n, "conversion": n / n1})
    return pd.DataFrame(rows, columns=["period", "step", "event", "users", "conversion"])


def time_to_convert(events, steps: Sequence[str], window, *, quantiles=(0.1, 0.25, 0.5, 0.75, 0.9),
                    **cols) -> pd.DataFrame:
    """Distribution of the time to reach each step, from step 1 and from the previous step.

    Timings come from each user's counted attempt (see :func:`funnel`).

    Returns
    -------
    DataFrame
        One row per step from 2: ``step``, ``event``, ``users`` and, for ``from_start`` and
        ``from_previous``, seconds at each quantile (``from_start_p50``...) and the mean.
    """
    steps = _check_steps(steps)
    users = funnel_users(events, steps, window, **cols)
    rows = []
    for k in range(2, len(steps) + 1):
        reached = users[users["level"] >= k]
        row = {"step": k, "event": steps[k - 1], "users": len(reached)}
        for label, base in (("from_start", "t1"), ("from_previous", f"t{k-1}")):
            secs = (reached[f"t{k}"] - reached[base]).dt.total_seconds()
            for q in quantiles:
                row[f"{label}_p{int(round(q * 100))}"] = float(secs.quantile(q)) if len(secs) else np.nan
            row[f"{label}_mean"] = float(secs.mean()) if len(secs) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def funnel_dropoff(events, steps: Sequence[str], window, *, as_of=None, **cols) -> pd.DataFrame:
    """Where users stopped, telling drop-offs apart from users whose window is still open.

    A user stopped at step k (k < number of steps) is **in progress** when their last
    step-1 event plus the window is after ``as_of`` (default: the last event in the
    data): they may still convert. The others have **dropped** off.

    Returns
    -------
    DataFrame
        One row per step: ``step``, ``event``, ``users`` (reached it), ``stopped``
        (reached it and went no further), ``dropped``, ``in_progress``.
    """
    steps = _check_steps(steps)
    window_td = parse_window(window)
    users = funnel_users(events, steps, window_td, **cols)
    if as_of is None and portable.is_ibis_table(events):
        last = portable.last_event_us(events, cols.get("ts_col", "ts"))
        as_of = pd.Timestamp(last, unit="us", tz="UTC") if last is not None else pd.Timestamp.now(tz="UTC")
    elif as_of is None:
        rel = as_relation(events, required={"user_id": cols.get("user_col", "user_id"),
                                            "event": cols.get("event_col", "event"), "ts": cols.get("ts_col", "ts")})
        last = rel.query("ev", "SELECT max(ts) FROM ev").fetchall()[0][0]
        as_of = pd.Timestamp(last, tz="UTC") if last is not None else pd.Timestamp.now(tz="UTC")
    else:
        as_of = pd.Timestamp(as_of)
        as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
    open_window = users["last_start"] + window_td > as_of
    rows = []
    for k, name in enumerate(steps, start=1):
        stopped = users["level"] == k
        final = k == len(steps)
        rows.append({"step": k, "event": name, "users": int((users["level"] >= k).sum()),
                     "stopped": int(stopped.sum()),
                     "dropped": 0 if final else int((stopped & ~open_window).sum()),
                     "in_progress": 0 if final else int((stopped & open_window).sum())})
    return pd.DataFrame(rows)
