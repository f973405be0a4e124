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

The computation is one DuckDB query of chained ASOF joins on integer keys.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import InvalidInputError
from . import portable
from ._inputs import as_relation, literal, parse_window, quote, source_relation

__all__ = ["funnel", "funnel_users", "funnel_over_time", "time_to_convert", "funnel_dropoff", "MIN_STEPS",
           "MAX_STEPS"]

MIN_STEPS, MAX_STEPS = 2, 20
NONE_LABEL = None


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
    if breakdown.startswith("properties.") and "properties" in columns:
        return f"json_extract_string(properties, {literal('$.' + breakdown.split('.', 1)[1])})"
    if breakdown in columns:
        return f"CAST({quote(breakdown)} AS VARCHAR)"
    if "properties" in columns:
        return f"json_extract_string(properties, {literal('$.' + breakdown)})"
    raise InvalidInputError(
        f"breakdown {breakdown!r} is neither a column of the events ({', '.join(columns)}) "
        "nor usable as a properties key (there is no properties column)")


# How user ids become the integer keys the ASOF joins run on. "hash" is fastest; a hash
# collision (two ids, one key) is detected in the same query and the query is rerun with
# "dense" keys (a join to numbered distinct ids), so results are always exact.
_KEY_MODES = ("hash", "dense")
_HASH_SQL = "hash(user_id)"


def _needs_rank(steps: list[str], k: int) -> int | None:
    """For step k (1-based), the last earlier non-adjacent step with the same event, if any:
    its row must not be reused, so rows are numbered per user and event."""
    name = steps[k - 1]
    if name == steps[k - 2]:
        return None
    return max((j for j in range(1, k - 1) if steps[j - 1] == name), default=None)


def _chains_sql(steps: list[str], window_us: int, *, breakdown: bool, key: str, integer_ids: bool) -> str:
    """CTEs over view ``ev(user_id, event, ts[us], bd)`` ending in ``users(uk, user_id, clash, bd,
    level, t1..tn, entered, last_start)``: one row per user with a step-1 event; times in
    microseconds from the counted attempt."""
    n = len(steps)
    names = list(dict.fromkeys(steps))
    idx = {name: i for i, name in enumerate(names)}
    # Row numbers are needed only when an event repeats non-adjacently; then every step carries one.
    use_rank = any(_needs_rank(steps, k) for k in range(2, n + 1))
    ranked = set(names) if use_rank else set()
    bd = ", bd" if breakdown else ""
    where = (f"WHERE event IN ({', '.join(literal(s) for s in names)}) "
             "AND user_id IS NOT NULL AND ts IS NOT NULL")
    # Per user, from their step-1 rows: first touch (ties in time: smallest value), first and last start.
    is_first = f"event = {literal(steps[0])}"
    touch = (f"min(struct_pack(t := t, n := bd IS NULL, b := bd)) FILTER (WHERE {is_first}).b AS bd"
             if breakdown else "NULL::VARCHAR AS bd")
    per_user = (f"{touch}, min(t) FILTER (WHERE {is_first}) AS entered, "
                f"max(t) FILTER (WHERE {is_first}) AS last_start")
    if integer_ids:
        ctes = [f"base AS MATERIALIZED (SELECT user_id AS uk, user_id, event, ts AS t{bd} FROM ev {where})",
                f"ids AS (SELECT uk, min(user_id) AS user_id, FALSE AS clash, {per_user} FROM base GROUP BY uk)"]
    elif key == "hash":
        ctes = [f"base AS MATERIALIZED (SELECT {_HASH_SQL} AS uk, user_id, event, ts AS t{bd} FROM ev {where})",
                "ids AS (SELECT uk, min(user_id) AS user_id, min(user_id) <> max(user_id) AS clash, "
                f"{per_user} FROM base GROUP BY uk)"]
    else:
        ctes = [f"raw AS MATERIALIZED (SELECT user_id, event, ts AS t{bd} FROM ev {where})",
                "keys AS MATERIALIZED (SELECT row_number() OVER () AS uk, user_id "
                "FROM (SELECT DISTINCT user_id FROM raw))",
                f"base AS MATERIALIZED (SELECT keys.uk, raw.user_id, raw.event, raw.t{', raw.bd' if breakdown else ''} "
                "FROM raw JOIN keys USING (user_id))",
                f"ids AS (SELECT uk, min(user_id) AS user_id, FALSE AS clash, {per_user} FROM base GROUP BY uk)"]
    for name, i in idx.items():
        if name in ranked:
            # r: the row's number among the user's rows of this event, in time order
            ctes.append(f"n{i} AS (SELECT uk, t, row_number() OVER (PARTITION BY uk ORDER BY t) AS r "
                        f"FROM base WHERE event = {literal(name)})")
            ctes.append(f"f{i} AS (SELECT uk, t, min(r) AS r FROM n{i} GROUP BY uk, t)")
        else:
            ctes.append(f"n{i} AS (SELECT uk, t FROM base WHERE event = {literal(name)})")
            ctes.append(f"f{i} AS (SELECT uk, t FROM n{i})")
    first = idx[steps[0]]

    def carried(k: int, p: str = "") -> str:
        """The columns every chain step passes on: the times (and row numbers) of steps 1..k-1."""
        return ", ".join(f"{p}t{j}" + (f", {p}r{j}" if use_rank else "") for j in range(1, k))

    ctes.append(f"a1 AS (SELECT uk, t AS t1{', r AS r1' if use_rank else ''} FROM n{first})")
    for k in range(2, n + 1):
        name, prev = steps[k - 1], steps[k - 2]
        i = idx[name]
        op = ">" if name == prev else ">="
        last_same = _needs_rank(steps, k)
        rk = f", f.r AS r{k}" if use_rank else ""
        if last_same is None:
            ctes.append(f"c{k} AS (SELECT a.uk, {carried(k, 'a.')}, f.t AS t{k}{rk} FROM a{k-1} a "
                        f"ASOF LEFT JOIN f{i} f ON f.uk = a.uk AND f.t {op} a.t{k-1})")
        else:
            # the earliest row at or after the previous step that was not used by step `last_same`
            ctes.append(f"p{k} AS (SELECT a.uk, {carried(k, 'a.')}, f.t AS ft, f.r AS fr FROM a{k-1} a "
                        f"ASOF LEFT JOIN f{i} f ON f.uk = a.uk AND f.t >= a.t{k-1})")
            ctes.append(
                f"c{k} AS (SELECT p.uk, {carried(k, 'p.')}, "
                f"CASE WHEN p.ft IS NULL THEN NULL WHEN p.fr > p.r{last_same} THEN p.ft ELSE x.t END AS t{k}, "
                f"CASE WHEN p.ft IS NULL THEN NULL WHEN p.fr > p.r{last_same} THEN p.fr ELSE x.r END AS r{k} "
                f"FROM p{k} p LEFT JOIN n{i} x ON x.uk = p.uk AND x.r = p.r{last_same} + 1 "
                f"AND p.ft IS NOT NULL AND p.fr <= p.r{last_same})")
        # outside the window, or not found: the chain stops here
        ctes.append(f"a{k} AS (SELECT uk, {carried(k)}, CASE WHEN t{k} <= t1 + {window_us} THEN t{k} END AS t{k}"
                    f"{f', CASE WHEN t{k} <= t1 + {window_us} THEN r{k} END AS r{k}' if use_rank else ''} FROM c{k})")
    level = " + ".join(["1"] + [f"(t{k} IS NOT NULL)::INTEGER" for k in range(2, n + 1)])
    tcols = ", ".join(f"t{k}" for k in range(1, n + 1))
    order = "struct_pack(level, neg := -t1" + (", nr := -r1)" if use_rank else ")")
    ctes.append(f"best AS (SELECT uk, arg_max(struct_pack(level, {tcols}), {order}) AS s "
                f"FROM (SELECT *, {level} AS level FROM a{n}) GROUP BY uk)")
    sel = ", ".join(f"best.s.t{k} AS t{k}" for k in range(1, n + 1))
    ctes.append(f"users AS (SELECT best.uk, ids.user_id, ids.clash, ids.bd, best.s.level AS level, {sel}, "
                "ids.entered, ids.last_start FROM best JOIN ids USING (uk))")
    return "WITH " + ",\n".join(ctes)


def _run_chains(events, steps: list[str], window, breakdown: str | None, cols: dict, final_sql: str,
                clash_sql: str) -> pd.DataFrame:
    """Run ``final_sql`` (over CTE ``users``) with hash keys, falling back to dense keys
    when ``clash_sql`` reports a hash collision."""
    window = parse_window(window)
    raw = source_relation(events)
    bd = _breakdown_expr(breakdown, list(raw.columns)) if breakdown else "NULL::VARCHAR"
    rel = as_relation(raw, required={"user_id": cols["user_col"], "event": cols["event_col"], "ts": cols["ts_col"]},
                      expressions={"bd": bd}, time="epoch_us")
    integer_ids = str(dict(zip(rel.columns, rel.types))["user_id"]).upper() in (
        "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
    window_us = int(window / timedelta(microseconds=1))
    for key in _KEY_MODES:
        ctes = _chains_sql(steps, window_us, breakdown=breakdown is not None, key=key, integer_ids=integer_ids)
        out = rel.query("ev", f"{ctes}, result AS ({final_sql}) SELECT *, ({clash_sql}) AS _clash FROM result").df()
        if not (len(out) and bool(out["_clash"].iloc[0])):
            return out.drop(columns="_clash")
    raise AssertionError("dense keys cannot collide")  # pragma: no cover


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
    tcols = ", ".join(f"t{k}" for k in range(1, len(steps) + 1))
    out = _run_chains(events, steps, window, breakdown, cols,
                      f"SELECT user_id, bd AS breakdown, level, {tcols}, entered, last_start FROM users",
                      "SELECT bool_or(clash) FROM users")
    for col in [f"t{k}" for k in range(1, len(steps) + 1)] + ["entered", "last_start"]:
        out[col] = us_to_datetime(out[col])
    out["level"] = out["level"].astype("int64")
    return out.sort_values("user_id", kind="stable").reset_index(drop=True)


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
    n = len(steps)
    aggs = ", ".join(
        [f"count(*) FILTER (WHERE level >= {k}) AS u{k}" for k in range(1, n + 1)]
        + [f"quantile_cont(t{k} - t{k-1}, 0.5) FILTER (WHERE level >= {k}) AS m{k}" for k in range(2, n + 1)])
    per_bd = _run_chains(events, steps, window, breakdown, cols,
                         f"SELECT bd, {aggs} FROM users GROUP BY bd", "SELECT bool_or(clash) FROM users")
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
