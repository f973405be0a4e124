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
from ._inputs import as_relation, literal, parse_window, quote

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


def _breakdown_expr(breakdown: str, columns: list[str], event_cols: set[str]) -> tuple[str, str | None]:
    """(SQL expression over the raw events, source column to keep) for a breakdown."""
    if breakdown.startswith("properties."):
        key = breakdown.split(".", 1)[1]
        return f"json_extract_string(properties, {literal('$.' + key)})", "properties"
    if breakdown in columns:
        return f"CAST({quote(breakdown)} AS VARCHAR)", breakdown
    if "properties" in columns:
        return f"json_extract_string(properties, {literal('$.' + breakdown)})", "properties"
    raise InvalidInputError(
        f"breakdown {breakdown!r} is neither a column of the events ({', '.join(columns)}) "
        "nor usable as a properties key (there is no properties column)")


def _user_chains_sql(steps: list[str], window_us: int, has_breakdown: bool) -> str:
    """SQL over view ``ev(user_id, event, ts, bd)`` giving one row per user:
    ``user_id, bd, level, t1..tn`` (microseconds; the counted attempt's times)."""
    n = len(steps)
    names = list(dict.fromkeys(steps))
    idx = {name: i for i, name in enumerate(names)}
    ctes = [
        # Integer user keys and microsecond times make the ASOF joins cheap.
        "base AS (SELECT user_id, event, epoch_us(ts) AS t, bd FROM ev "
        f"WHERE event IN ({', '.join(literal(s) for s in names)}) AND user_id IS NOT NULL AND ts IS NOT NULL)",
        "ukeys AS (SELECT user_id, row_number() OVER () AS uk FROM (SELECT DISTINCT user_id FROM base))",
        "b AS (SELECT k.uk, base.event, base.t, base.bd FROM base JOIN ukeys k USING (user_id))",
    ]
    for name, i in idx.items():
        # r: the row's rank among the user's rows of this event (time order).
        ctes.append(f"n{i} AS (SELECT uk, t, row_number() OVER (PARTITION BY uk ORDER BY t) AS r "
                    f"FROM b WHERE event = {literal(name)})")
        ctes.append(f"f{i} AS (SELECT uk, t, min(r) AS r FROM n{i} GROUP BY uk, t)")
    first = idx[steps[0]]
    ctes.append(f"a1 AS (SELECT uk, t AS t1, r AS r1 FROM n{first})")
    for k in range(2, n + 1):
        name, prev = steps[k - 1], steps[k - 2]
        i = idx[name]
        op = ">" if name == prev else ">="
        # Last earlier step that used the same event (not the immediate predecessor):
        # its row must not be reused, so the rank must exceed it.
        last_same = max((j for j in range(1, k - 1) if steps[j - 1] == name), default=None)
        cols = ", ".join(f"a.t{j}, a.r{j}" for j in range(1, k))
        if last_same is None or name == prev:
            ctes.append(
                f"c{k} AS (SELECT a.uk, {cols}, f.t AS t{k}, f.r AS r{k} FROM a{k-1} a "
                f"ASOF LEFT JOIN f{i} f ON f.uk = a.uk AND f.t {op} a.t{k-1})")
        else:
            ctes.append(
                f"p{k} AS (SELECT a.uk, {cols}, f.t AS ft, f.r AS fr FROM a{k-1} a "
                f"ASOF LEFT JOIN f{i} f ON f.uk = a.uk AND f.t >= a.t{k-1})")
            ctes.append(
                f"c{k} AS (SELECT p.uk, {', '.join(f'p.t{j}, p.r{j}' for j in range(1, k))}, "
                f"CASE WHEN p.ft IS NULL THEN NULL WHEN p.fr > p.r{last_same} THEN p.ft ELSE x.t END AS t{k}, "
                f"CASE WHEN p.ft IS NULL THEN NULL WHEN p.fr > p.r{last_same} THEN p.fr ELSE x.r END AS r{k} "
                f"FROM p{k} p LEFT JOIN n{i} x ON x.uk = p.uk AND x.r = p.r{last_same} + 1 "
                f"AND p.ft IS NOT NULL AND p.fr <= p.r{last_same})")
        # Outside the window (or not found): the chain stops here.
        ctes.append(
            f"a{k} AS (SELECT uk, {', '.join(f't{j}, r{j}' for j in range(1, k))}, "
            f"CASE WHEN t{k} <= t1 + {window_us} THEN t{k} END AS t{k}, "
            f"CASE WHEN t{k} <= t1 + {window_us} THEN r{k} END AS r{k} FROM c{k})")
    level = " + ".join(["1"] + [f"(t{k} IS NOT NULL)::INTEGER" for k in range(2, n + 1)])
    tcols = ", ".join(f"t{k}" for k in range(1, n + 1))
    ctes.append(f"lv AS (SELECT uk, {tcols}, r1, {level} AS level FROM a{n})")
    ctes.append(
        f"best AS (SELECT uk, arg_max(struct_pack(level, {tcols}), struct_pack(level, neg := -t1, nr := -r1)) AS s "
        "FROM lv GROUP BY uk)")
    bd = ("first_bd AS (SELECT b.uk, first(b.bd ORDER BY b.t, b.bd NULLS LAST) AS bd, min(b.t) AS entered, "
          f"max(b.t) AS last_start FROM b WHERE b.event = {literal(steps[0])} GROUP BY b.uk)")
    ctes.append(bd)
    sel = ", ".join(f"s.t{k} AS t{k}" for k in range(1, n + 1))
    return ("WITH " + ",\n".join(ctes) +
            f"\nSELECT k.user_id, {'fb.bd' if has_breakdown else 'NULL'} AS bd, s.level AS level, {sel}, "
            "fb.entered, fb.last_start "
            "FROM best JOIN ukeys k USING (uk) LEFT JOIN first_bd fb USING (uk)")


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
    window = parse_window(window)
    rel = as_relation(events, required={"user_id": user_col, "event": event_col, "ts": ts_col},
                      optional={"properties": "properties"} if breakdown else None)
    if breakdown:
        raw_cols = list(events.columns) if hasattr(events, "columns") else []
        expr, _ = _breakdown_expr(breakdown, raw_cols or list(rel.columns), set())
        if breakdown in raw_cols and breakdown not in ("user_id", "event", "ts"):
            rel = as_relation(events, required={"user_id": user_col, "event": event_col, "ts": ts_col,
                                                breakdown: breakdown})
            rel = rel.project(f"user_id, event, ts, CAST({quote(breakdown)} AS VARCHAR) AS bd")
        else:
            rel = rel.project(f"user_id, event, ts, {expr} AS bd")
    else:
        rel = rel.project("user_id, event, ts, NULL::VARCHAR AS bd")
    window_us = int(window / timedelta(microseconds=1))
    out = rel.query("ev", _user_chains_sql(steps, window_us, breakdown is not None)).df()
    for col in [f"t{k}" for k in range(1, len(steps) + 1)] + ["entered", "last_start"]:
        out[col] = pd.to_datetime(out[col], unit="us", utc=True)
    out = out.rename(columns={"bd": "breakdown"})
    out["level"] = out["level"].astype("int64")
    return out.sort_values("user_id", kind="stable").reset_index(drop=True)


def _summarise(users: pd.DataFrame, steps: list[str]) -> pd.DataFrame:
    rows = []
    n_first = int((users["level"] >= 1).sum())
    prev_users = n_first
    for k, name in enumerate(steps, start=1):
        reached = users[users["level"] >= k]
        count = len(reached)
        if k == 1:
            median = np.nan
            step_conv = 1.0 if count else np.nan
        else:
            secs = (reached[f"t{k}"] - reached[f"t{k-1}"]).dt.total_seconds()
            median = float(secs.median()) if count else np.nan
            step_conv = count / prev_users if prev_users else np.nan
        rows.append({"step": k, "event": name, "users": count,
                     "conversion": count / n_first if n_first else np.nan,
                     "step_conversion": step_conv, "median_seconds_from_previous": median})
        prev_users = count
    return pd.DataFrame(rows)


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
    users = funnel_users(events, steps, window, breakdown=breakdown,
                         user_col=user_col, event_col=event_col, ts_col=ts_col)
    if breakdown is None:
        return _summarise(users, steps)
    parts = []
    for value, grp in users.groupby("breakdown", dropna=False, sort=True):
        part = _summarise(grp, steps)
        part.insert(0, "breakdown", None if pd.isna(value) else value)
        parts.append(part)
    if not parts:
        return _summarise(users, steps).iloc[0:0].assign(breakdown=pd.Series(dtype=object))[
            ["breakdown", "step", "event", "users", "conversion", "step_conversion", "median_seconds_from_previous"]]
    return pd.concat(parts, ignore_index=True)


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
    if as_of is None:
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
