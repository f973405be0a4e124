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
from . import portable
from ._inputs import as_relation, literal

__all__ = ["retention", "retention_curve", "revenue_curve", "PERIODS", "MODES"]

PERIODS = ("day", "week", "month")
MODES = ("on", "on_or_after")


def _check_periods(period: str, periods) -> None:
    if period not in PERIODS:
        raise InvalidInputError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    if isinstance(periods, bool) or not isinstance(periods, int) or periods < 0:
        raise InvalidInputError(f"periods must be a non-negative integer, got {periods!r}")


_DAY_US = 86_400_000_000
_WEEK_US = 7 * _DAY_US
_MONDAY_US = 4 * _DAY_US  # 1970-01-05, the first Monday after the epoch


def _floor_div(x: str, d: int, offset: int = 0, nonnegative: bool = False) -> str:
    v = f"({x} - {offset})" if offset else x
    if nonnegative:  # integer division truncates toward zero: the same as floor here
        return f"({v} // {d})"
    return f"({v} // {d} - CASE WHEN {v} % {d} < 0 THEN 1 ELSE 0 END)"


def _period_index(period: str, us: str, nonnegative: bool = False) -> str:
    """SQL: the integer index of the UTC calendar period containing ``us`` (epoch microseconds).
    ``nonnegative``: every ``us`` is known to be at or after the first period boundary."""
    if period == "day":
        return _floor_div(us, _DAY_US, nonnegative=nonnegative)
    if period == "week":
        return _floor_div(us, _WEEK_US, _MONDAY_US, nonnegative)
    return f"(year(make_timestamp({us})) * 12 + month(make_timestamp({us})) - 1)"


def _period_start_us(period: str, idx: str) -> str:
    """SQL: epoch microseconds of the start of period ``idx``."""
    if period == "day":
        return f"(({idx}) * {_DAY_US})"
    if period == "week":
        return f"(({idx}) * {_WEEK_US} + {_MONDAY_US})"
    return (f"epoch_us(make_timestamp(CAST(({idx}) // 12 AS BIGINT), CAST(({idx}) % 12 + 1 AS BIGINT), "
            "1, 0, 0, 0))")


def _period_start(period: str, idx: str) -> str:
    return f"make_timestamp({_period_start_us(period, idx)})"


_BITMASK_TYPES = ((63, "UBIGINT"), (127, "UHUGEINT"))


def _grid_sql(period: str, periods: int, max_ts: str) -> str:
    """Final select over CTEs ``sizes(c, cohort_size)`` and ``hits(c, k, users)``."""
    return f"""
    grid AS (SELECT s.c, s.cohort_size, g.k FROM sizes s, range(0, {periods} + 1) g(k))
    SELECT {_period_start(period, 'grid.c')} AS cohort, grid.k AS period, grid.cohort_size,
           CASE WHEN grid.k = 0 THEN grid.cohort_size ELSE coalesce(h.users, 0) END AS users,
           {_period_start_us(period, 'grid.c + grid.k + 1')} <= {max_ts} AS complete
    FROM grid LEFT JOIN hits h ON h.c = grid.c AND h.k = grid.k
    ORDER BY cohort, period"""


def _bitmask_sql(period: str, periods: int, start_event, return_event, mode: str, base: int, bits: str,
                 max_ts: str, nonnegative: bool) -> str:
    """One pass over the events: per user, the cohort period and a bitmask of the
    periods with a return event (bit i = period base + i)."""
    one = f"1::{bits}"
    first = f"min(p) FILTER (WHERE event = {literal(start_event)})" if start_event else "min(p)"
    mask = f"bit_or({one} << (p - {base})::{bits})"
    mask = f"coalesce({mask} FILTER (WHERE event = {literal(return_event)}), 0::{bits})" if return_event else mask
    test = (f"((m >> (c - {base} + r.k)::{bits}) & {one}) = {one}" if mode == "on"
            else f"(m >> (c - {base} + r.k)::{bits}) <> 0::{bits}")
    event = ", event" if start_event or return_event else ""
    return f"""
    WITH p AS (SELECT user_id{event}, {_period_index(period, 'ts', nonnegative)} AS p FROM ev
               WHERE user_id IS NOT NULL AND ts IS NOT NULL),
    u AS (SELECT {first} AS c, {mask} AS m FROM p GROUP BY user_id),
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
    lo, hi, min_ts, max_ts = rel.query(
        "ev", f"SELECT {_period_index(period, 'min(ts)')}, {_period_index(period, 'max(ts)')}, min(ts), max(ts) "
              "FROM ev WHERE user_id IS NOT NULL AND ts IS NOT NULL").fetchall()[0]
    max_lit = str(int(max_ts)) if max_ts is not None else "NULL"
    if lo is not None:
        for width, bits in _BITMASK_TYPES:
            if hi - lo <= width:
                return _bitmask_sql(period, periods, start_event, return_event, mode, int(lo), bits, max_lit,
                                    nonnegative=min_ts >= _MONDAY_US)
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
    _check_periods(period, periods)
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if portable.is_ibis_table(events):
        return portable.retention(events, period=period, periods=periods, start_event=start_event,
                                  return_event=return_event, mode=mode,
                                  cols={"user_col": user_col, "event_col": event_col, "ts_col": ts_col})
    rel = as_relation(events, required={"user_id": user_col, "event": event_col, "ts": ts_col}, time="epoch_us")
    out = rel.query("ev", retention_sql(rel, period, periods, start_event, return_event, mode)).df()
    out["cohort"] = pd.to_datetime(out["cohort"]).astype("datetime64[ns]")
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
    _check_periods(period, periods)
    rel = as_relation(events, required={"user_id": user_col, "event": event_col, "ts": ts_col, "revenue": revenue_col},
                      time="epoch_us")
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
           {_period_start_us(period, 'grid.c + grid.k + 1')} <= (SELECT max(ts) FROM e0) AS complete
    FROM grid LEFT JOIN rev r ON r.c = grid.c AND r.k = grid.k ORDER BY cohort, period
    """
    out = rel.query("ev", sql).df()
    out["cohort"] = pd.to_datetime(out["cohort"]).astype("datetime64[ns]")
    out["period"] = out["period"].astype("int64")
    out["cohort_size"] = out["cohort_size"].astype("int64")
    out["cumulative_revenue"] = out.groupby("cohort")["revenue"].cumsum()
    out["revenue_per_user"] = out["cumulative_revenue"] / out["cohort_size"]
    out["complete"] = out["complete"].astype(bool)
    return out[["cohort", "period", "cohort_size", "revenue", "cumulative_revenue", "revenue_per_user", "complete"]]
