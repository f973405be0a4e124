"""Daily metric series built from an event log (the input of correlations, anomalies, forecasts)."""
from __future__ import annotations

import pandas as pd

from ..errors import InvalidInputError
from ._inputs import as_relation

__all__ = ["daily_metrics", "METRICS"]

METRICS = {
    "active_users": "count(DISTINCT user_id)",
    "events": "count(*)",
    "sessions": "count(*) FILTER (WHERE event = 'session_start')",
    "signups": "count(*) FILTER (WHERE event = 'signup')",
    "purchases": "count(*) FILTER (WHERE event = 'purchase')",
    "revenue": "coalesce(sum(revenue), 0)",
    "buyers": "count(DISTINCT user_id) FILTER (WHERE event = 'purchase')",
    "generations": "count(*) FILTER (WHERE event = 'generation_requested')",
}


def daily_metrics(events, metrics: list[str] | None = None, *, start=None, end=None,
                  user_col: str = "user_id", event_col: str = "event", ts_col: str = "ts",
                  revenue_col: str = "revenue") -> pd.DataFrame:
    """Daily (UTC) metric series, one column per metric, every day present (zero-filled).

    Parameters
    ----------
    metrics : list of str, optional
        Names from ``METRICS`` plus ``conversion_rate`` (buyers / active users);
        default: all of them.
    start, end : date-like, optional
        First and last day of the index (default: the data's own range).

    Returns
    -------
    DataFrame
        Indexed by day (``ds``, tz-naive UTC midnight), float columns in the order asked.
    """
    names = list(metrics or [*METRICS, "conversion_rate"])
    unknown = [m for m in names if m not in METRICS and m != "conversion_rate"]
    if unknown:
        raise InvalidInputError(f"unknown metric(s) {unknown}; choose from {[*METRICS, 'conversion_rate']}")
    rel = as_relation(events, required={"user_id": user_col, "event": event_col, "ts": ts_col},
                      optional={"revenue": revenue_col})
    needed = set(names) | ({"buyers", "active_users"} if "conversion_rate" in names else set())
    aggs = ", ".join(f"{METRICS[m]}::DOUBLE AS {m}" for m in METRICS if m in needed)
    df = rel.query("ev", f"SELECT date_trunc('day', ts) AS ds, {aggs} FROM ev GROUP BY 1 ORDER BY 1").df()
    df["ds"] = pd.to_datetime(df["ds"])
    df = df.set_index("ds")
    lo = pd.Timestamp(start).normalize() if start is not None else (df.index.min() if len(df) else None)
    hi = pd.Timestamp(end).normalize() if end is not None else (df.index.max() if len(df) else None)
    if lo is not None and hi is not None:
        df = df.reindex(pd.date_range(lo, hi, freq="D", name="ds"), fill_value=0.0)
    if "conversion_rate" in names:
        df["conversion_rate"] = (df["buyers"] / df["active_users"]).where(df["active_users"] > 0, 0.0)
    return df[names].astype(float)
