"""Daily metric series built from an event log (the input of correlations, anomalies, forecasts)."""
from __future__ import annotations

import pandas as pd

from ..errors import InvalidInputError
from . import portable
from ._inputs import as_relation, literal

__all__ = ["daily_metrics", "METRICS", "DAILY_METRICS"]

# name -> (what is counted, the event it is restricted to): "users" distinct users,
# "events" rows, "revenue" the sum of revenue (0 on a day without any). Rendered as SQL
# here and as Ibis in ``portable.daily_metrics``.
METRICS: dict[str, tuple[str, str | None]] = {
    "active_users": ("users", None),
    "events": ("events", None),
    "sessions": ("events", "session_start"),
    "signups": ("events", "signup"),
    "purchases": ("events", "purchase"),
    "revenue": ("revenue", None),
    "buyers": ("users", "purchase"),
    "generations": ("events", "generation_requested"),
}
# every daily series ``daily_metrics`` makes: the counted ones and conversion_rate (buyers / active users)
DAILY_METRICS = (*METRICS, "conversion_rate")


def _sql(kind: str, event: str | None) -> str:
    where = f" FILTER (WHERE event = {literal(event)})" if event else ""
    return {"users": f"count(DISTINCT user_id){where}", "events": f"count(*){where}",
            "revenue": "coalesce(sum(revenue), 0)"}[kind]


def daily_metrics(events, metrics: list[str] | None = None, *, start=None, end=None,
                  user_col: str = "user_id", event_col: str = "event", ts_col: str = "ts",
                  revenue_col: str = "revenue") -> pd.DataFrame:
    """Daily (UTC) metric series, one column per metric, every day present (zero-filled).

    Parameters
    ----------
    events : DataFrame | pyarrow.Table | DuckDBPyRelation | str | Ibis table
        An Ibis table runs on its own backend (see :mod:`.portable`).
    metrics : list of str, optional
        Names from ``METRICS`` plus ``conversion_rate`` (buyers / active users);
        default: all of them.
    start, end : date-like, optional
        First and last day of the index (default: the data's own range).

    Returns
    -------
    DataFrame
        Indexed by day (``ds``, tz-naive UTC midnight), float columns in the order asked.
        Events without a time are left out.
    """
    names = list(metrics or DAILY_METRICS)
    unknown = [m for m in names if m not in DAILY_METRICS]
    if unknown:
        raise InvalidInputError(f"unknown metric(s) {unknown}; choose from {list(DAILY_METRICS)}")
    needed = set(names) | ({"buyers", "active_users"} if "conversion_rate" in names else set())
    needed = {m: METRICS[m] for m in METRICS if m in needed}
    cols = {"user_col": user_col, "event_col": event_col, "ts_col": ts_col, "revenue_col": revenue_col}
    if portable.is_ibis_table(events):
        df = portable.daily_metrics(events, needed, cols=cols)
    else:
        rel = as_relation(events, required={"user_id": user_col, "event": event_col, "ts": ts_col},
                          optional={"revenue": revenue_col})
        aggs = ", ".join(f"{_sql(*spec)}::DOUBLE AS {m}" for m, spec in needed.items())
        df = rel.query("ev", f"SELECT date_trunc('day', ts) AS ds, {aggs} FROM ev WHERE ts IS NOT NULL "
                             "GROUP BY 1 ORDER BY 1").df()
        df["ds"] = pd.to_datetime(df["ds"]).astype("datetime64[ns]")
    return _complete(df.set_index("ds"), names, start, end)


def _complete(df: pd.DataFrame, names: list[str], start, end) -> pd.DataFrame:
    """Every day from ``start`` (or the first day) to ``end`` (or the last), zero-filled;
    ``conversion_rate`` derived; the columns asked for, as floats."""
    lo = pd.Timestamp(start).normalize() if start is not None else (df.index.min() if len(df) else None)
    hi = pd.Timestamp(end).normalize() if end is not None else (df.index.max() if len(df) else None)
    if lo is not None and hi is not None:
        df = df.reindex(pd.date_range(lo, hi, freq="D", name="ds"), fill_value=0.0)
    if "conversion_rate" in names:
        df["conversion_rate"] = (df["buyers"] / df["active_users"]).where(df["active_users"] > 0, 0.0)
    return df[names].astype(float)
