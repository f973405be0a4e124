"""Retention cohorts.

A user's cohort is the calendar period (UTC; weeks start on Monday) of their first
``start_event`` (any event when None). Period 0 holds the whole cohort. For
k >= 1 a user is retained when they have a ``return_event`` (any event when None)
in period cohort+k (``mode="on"``) or in any period >= cohort+k
(``mode="on_or_after"``). A period is ``complete`` when it ended at or before the
last event in the data; rates of incomplete periods are still growing.
"""
from __future__ import annotations

import pandas as pd

from ..errors import InvalidInputError
from ._inputs import as_relation, literal

__all__ = ["retention", "retention_curve", "revenue_curve", "PERIODS", "MODES"]

PERIODS = ("day", "week", "month")
MODES = ("on", "on_or_after")


def _period_index(period: str, col: str) -> str:
    """SQL: the integer index of the calendar period containing ``col``."""
    if period == "day":
        return f"(epoch_us(date_trunc('day', {col})) // 86400000000)"
    if period == "week":
        # 1970-01-05 was a Monday: count whole weeks from there.
        return f"((epoch_us(date_trunc('week', {col})) - 345600000000) // 604800000000)"
    return f"(year({col}) * 12 + month({col}) - 1)"


def _period_start(period: str, idx: str) -> str:
    if period == "day":
        return f"make_timestamp(({idx}) * 86400000000)"
    if period == "week":
        return f"make_timestamp(({idx}) * 604800000000 + 345600000000)"
    return f"make_timestamp(CAST(({idx}) // 12 AS BIGINT), CAST(({idx}) % 12 + 1 AS BIGINT), 1, 0, 0, 0)"


_BITMASK_TYPES = ((63, "UBIGINT"), (127, "UHUGEINT"))


def _grid_sql(period: str, periods: int, max_ts: str) -> str:
    """Final select over CTEs ``sizes(c, cohort_size)`` and ``hits(c, k, users)``."""
    return f"""
    grid AS (SELECT s.c, s.cohort_size, g.k FROM sizes s, range(0, {periods} + 1) g(k))
    SELECT {_period_start(period, 'grid.c')} AS cohort, grid.k AS period, grid.cohort_size,
           CASE WHEN grid.k = 0 THEN grid.cohort_size ELSE coalesce(h.users, 0) END AS users,
           {_period_start(period, 'grid.c + grid.k + 1')} <= {max_ts} AS complete
    FROM grid LEFT JOIN hits h ON h.c = grid.c AND h.k = grid.k
    ORDER BY cohort, period"""


def _bitmask_sql(period: str, periods: int, start_event, return_event, mode: str, base: int, bits: str,
                 max_ts: str) -> str:
    """One pass over the events: per user, the cohort period and a bitmask of the
    periods with a return event (bit i = period base + i)."""
    start = f"event = {literal(start_event)}" if start_event else "TRUE"
    ret = f"event = {literal(return_event)}" if return_event else "TRUE"
    one = f"1::{bits}"
    test = (f"((m >> (c - {base} + r.k)::{bits}) & {one}) = {one}" if mode == "on"
            else f"(m >> (c - {base} + r.k)::{bits}) <> 0::{bits}")
    return f"""
    WITH p AS (SELECT user_id, event, {_period_index(period, 'ts')} AS p FROM ev
               WHERE user_id IS NOT NULL AND ts IS NOT NULL),
    u AS (SELECT min(p) FILTER (WHERE {start}) AS c,
                 coalesce(bit_or({one} << (p - {base})::{bits}) FILTER (WHERE {ret}), 0::{bits}) AS m
          FROM p GROUP BY user_id),
    coh AS (SELECT c, m FROM u WHERE c IS NOT NULL),
    sizes AS (SELECT c, count(*) AS cohort_size FROM coh GROUP BY c),
    hits AS (SELECT c, r.k, count(*) AS users FROM coh, range(1, {periods} + 1) r(k) WHERE {test} GROUP BY c, r.k),
    {_grid_sql(period, periods, max_ts)}"""


def _join_sql(period: str, periods: int, start_event, return_event, mode: str, max_ts: str) -> str:
    """General form for spans too long for a bitmask: join events back to cohorts."""
    start_filter = f"WHERE event = {literal(start_event)}" if start_event else ""
    return_filter = f"AND e.event = {literal(return_event)}" if return_event else ""
    pi = _period_index(period, "e.ts")
    if mode == "on_or_after":
        hits = (f"SELECT c, r.k, count(*) AS users FROM (SELECT user_id, c, max(k) AS mk FROM act GROUP BY user_id, c), "
                f"range(1, {periods} + 1) r(k) WHERE mk >= r.k GROUP BY c, r.k")
    else:
        hits = f"SELECT c, k, count(DISTINCT user_id) AS users FROM act WHERE k <= {periods} GROUP BY c, k"
    return f"""
    WITH e0 AS (SELECT user_id, event, ts FROM ev WHERE user_id IS NOT NULL AND ts IS NOT NULL),
    firsts AS (SELECT user_id, min(ts) AS first_ts FROM e0 {start_filter} GROUP BY user_id),
    coh AS (SELECT user_id, {_period_index(period, 'first_ts')} AS c FROM firsts),
    act AS (SELECT coh.user_id, coh.c, {pi} - coh.c AS k FROM e0 e JOIN coh USING (user_id)
            WHERE {pi} - coh.c >= 1 {return_filter}),
    hits AS ({hits}),
    sizes AS (SELECT c, count(*) AS cohort_size FROM coh GROUP BY c),
    {_grid_sql(period, periods, max_ts)}"""


def retention_sql(rel, period: str, periods: int, start_event: str | None, return_event: str | None,
                  mode: str) -> str:
    """The retention query over view ``ev`` of ``rel``: a one-pass bitmask form when the
    data spans at most 127 periods, else a join form. Both give the same answer."""
    lo, hi, max_ts = rel.query(
        "ev", f"SELECT min({_period_index(period, 'ts')}), max({_period_index(period, 'ts')}), max(ts) FROM ev "
              "WHERE user_id IS NOT NULL").fetchall()[0]
    max_lit = f"TIMESTAMP '{max_ts.isoformat(sep=' ')}'" if max_ts is not None else "NULL"
    if lo is not None:
        for width, bits in _BITMASK_TYPES:
            if hi - lo <= width:
                return _bitmask_sql(period, periods, start_event, return_event, mode, int(lo), bits, max_lit)
    return _join_sql(period, periods, start_event, return_event, mode, max_lit)


def retention(events, *, period: str = "week", periods: int = 12, start_event: str | None = None,
              return_event: str | None = None, mode: str = "on", user_col: str = "user_id",
              event_col: str = "event", ts_col: str = "ts") -> pd.DataFrame:
    """Cohort retention in long format.

    Parameters
    ----------
    events : DataFrame | pyarrow.Table | DuckDBPyRelation | str
        Event log (a string is read as a Parquet path/glob).
    period : {"day", "week", "month"}
        Calendar period of cohorts and returns (UTC; weeks start on Monday).
    periods : int
        Number of periods after the cohort's own to report (k = 0..periods).
    start_event, return_event : str, optional
        Event defining cohort entry / a return; any event when None.
    mode : {"on", "on_or_after"}
        Retained in exactly period k, or in period k or any later one.

    Returns
    -------
    DataFrame
        ``cohort`` (period start, UTC, tz-naive), ``period`` (0..periods),
        ``cohort_size``, ``users``, ``rate`` (users / cohort_size) and ``complete``
        (False while period cohort+k has not fully elapsed before the last event).
    """
    if period not in PERIODS:
        raise InvalidInputError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if isinstance(periods, bool) or not isinstance(periods, int) or periods < 0:
        raise InvalidInputError(f"periods must be a non-negative integer, got {periods!r}")
    rel = as_relation(events, required={"user_id": user_col, "event": event_col, "ts": ts_col})
    out = rel.query("ev", retention_sql(rel, period, periods, start_event, return_event, mode)).df()
    out["cohort"] = pd.to_datetime(out["cohort"])
    for col in ("period", "cohort_size", "users"):
        out[col] = out[col].astype("int64")
    out["rate"] = out["users"] / out["cohort_size"]
    out["complete"] = out["complete"].astype(bool)
    return out[["cohort", "period", "cohort_size", "users", "rate", "complete"]]


def retention_curve(table: pd.DataFrame, *, complete_only: bool = True) -> pd.DataFrame:
    """Average retention curve across cohorts, weighted by cohort size.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`retention`.
    complete_only : bool
        Use only complete cells, so that young cohorts' unfinished periods do not
        drag the curve down.

    Returns
    -------
    DataFrame
        ``period``, ``cohorts`` (number contributing), ``cohort_size`` (their users),
        ``users`` and ``rate`` (users / cohort_size).
    """
    cells = table[table["complete"] | (table["period"] == 0)] if complete_only else table
    out = cells.groupby("period", as_index=False).agg(cohorts=("cohort", "nunique"),
                                                      cohort_size=("cohort_size", "sum"), users=("users", "sum"))
    out["rate"] = out["users"] / out["cohort_size"]
    return out


def revenue_curve(events, *, period: str = "week", periods: int = 12, start_event: str | None = None,
                  user_col: str = "user_id", event_col: str = "event", ts_col: str = "ts",
                  revenue_col: str = "revenue") -> pd.DataFrame:
    """Cumulative revenue per cohort user (a lifetime-value curve).

    Cohorts are defined as in :func:`retention`. Revenue of a cohort's users in
    periods 0..k, divided by the cohort size (all users, buyers or not).

    Returns
    -------
    DataFrame
        ``cohort``, ``period``, ``cohort_size``, ``revenue`` (in that period),
        ``cumulative_revenue``, ``revenue_per_user`` (cumulative / cohort size) and ``complete``.
    """
    if period not in PERIODS:
        raise InvalidInputError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    if isinstance(periods, bool) or not isinstance(periods, int) or periods < 0:
        raise InvalidInputError(f"periods must be a non-negative integer, got {periods!r}")
    rel = as_relation(events, required={"user_id": user_col, "event": event_col, "ts": ts_col, "revenue": revenue_col})
    start_filter = f"WHERE event = {literal(start_event)}" if start_event else ""
    pi = _period_index(period, "e.ts")
    sql = f"""
    WITH e0 AS (SELECT user_id, event, ts, CAST(revenue AS DOUBLE) AS revenue FROM ev
                WHERE user_id IS NOT NULL AND ts IS NOT NULL),
    firsts AS (SELECT user_id, min(ts) AS first_ts FROM e0 {start_filter} GROUP BY user_id),
    coh AS (SELECT user_id, {_period_index(period, 'first_ts')} AS c FROM firsts),
    rev AS (SELECT coh.c, {pi} - coh.c AS k, sum(e.revenue) AS revenue
            FROM e0 e JOIN coh USING (user_id) WHERE e.revenue IS NOT NULL AND {pi} >= coh.c GROUP BY 1, 2),
    sizes AS (SELECT c, count(*) AS cohort_size FROM coh GROUP BY c),
    grid AS (SELECT s.c, s.cohort_size, g.k FROM sizes s, range(0, {periods} + 1) g(k))
    SELECT {_period_start(period, 'grid.c')} AS cohort, grid.k AS period, grid.cohort_size,
           coalesce(r.revenue, 0) AS revenue,
           {_period_start(period, 'grid.c + grid.k + 1')} <= (SELECT max(ts) FROM e0) AS complete
    FROM grid LEFT JOIN rev r ON r.c = grid.c AND r.k = grid.k ORDER BY cohort, period
    """
    out = rel.query("ev", sql).df()
    out["cohort"] = pd.to_datetime(out["cohort"])
    out["period"] = out["period"].astype("int64")
    out["cohort_size"] = out["cohort_size"].astype("int64")
    out["cumulative_revenue"] = out.groupby("cohort")["revenue"].cumsum()
    out["revenue_per_user"] = out["cumulative_revenue"] / out["cohort_size"]
    out["complete"] = out["complete"].astype(bool)
    return out[["cohort", "period", "cohort_size", "revenue", "cumulative_revenue", "revenue_per_user", "complete"]]
