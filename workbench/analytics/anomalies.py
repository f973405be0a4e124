"""Anomalies in a daily metric series: weekly seasonal decomposition, then a robust z-score."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InsufficientDataError, InvalidInputError

__all__ = ["anomalies", "as_daily_series", "MIN_DAYS"]

MIN_DAYS = 14  # two weekly cycles
_MAD_TO_SIGMA = 0.6745  # Iglewicz & Hoaglin's modified z-score constant


def _odd(n: int) -> int:
    return n if n % 2 else n + 1


def _robust_z(resid: np.ndarray) -> np.ndarray:
    centred = resid - np.median(resid)
    mad = np.median(np.abs(centred))
    if mad > 0:
        return _MAD_TO_SIGMA * centred / mad
    meanad = np.mean(np.abs(centred))  # more than half the residuals equal: mean absolute deviation
    return centred / (1.253314 * meanad) if meanad > 0 else np.zeros_like(centred)


def _fit_and_score(values: np.ndarray, period: int, threshold: float, trend: int | None = None):
    """STL fit made robust by sequential rejection.

    Each round refits with the days flagged so far replaced by their expected value,
    then flags the one most extreme remaining day if it scores above the threshold;
    so a spike cannot bend its neighbours' or its weekday's expectation, and a day
    wrongly suspected early is never frozen in. Scores are measured against the
    spread (MAD) of the unflagged days.

    STL's own ``robust=True`` hugs most days so tightly that the residual MAD shrinks
    and ordinary noise scores above 3.5 (measured here: ~30x more false alarms on clean
    weekly series). The seasonal smoother spans three cycles and the trend four, so
    that neither absorbs day-to-day noise.
    """
    from statsmodels.tsa.seasonal import STL  # imported on use: it takes most of a second

    trend = trend or _odd(4 * period)
    flagged = np.zeros(values.size, dtype=bool)
    max_flags = max(3, values.size // 10)
    x = values
    while True:
        fit = STL(x, period=period, seasonal=_odd(3 * period), trend=trend).fit()
        expected = np.asarray(fit.trend) + np.asarray(fit.seasonal)
        resid = values - expected
        kept = resid[~flagged]
        centre = np.median(kept)
        spread = np.median(np.abs(kept - centre))
        score = _MAD_TO_SIGMA * (resid - centre) / spread if spread > 0 else _robust_z(resid)
        candidates = np.where(flagged, 0.0, np.abs(score))
        worst = int(np.argmax(candidates))
        if candidates[worst] <= threshold or flagged.sum() >= max_flags:
            return expected, score
        flagged[worst] = True
        x = np.where(flagged, expected, values)


def as_daily_series(series, *, ds_col: str = "ds", y_col: str = "y", fill: float | None = None) -> pd.Series:
    """A float Series on a complete daily index from a Series indexed by day or a (ds, y) frame.

    Missing days become ``fill`` (NaN when None)."""
    if isinstance(series, pd.DataFrame):
        missing = [c for c in (ds_col, y_col) if c not in series.columns]
        if missing:
            raise InvalidInputError(f"series frame lacks column(s) {missing}; it has {list(series.columns)}")
        s = pd.Series(series[y_col].to_numpy(), index=pd.to_datetime(series[ds_col]))
    elif isinstance(series, pd.Series):
        s = series.copy()
        s.index = pd.to_datetime(s.index)
    else:
        raise InvalidInputError(f"series must be a pandas Series or a (ds, y) DataFrame, not {type(series).__name__}")
    if s.index.tz is not None:
        s.index = s.index.tz_convert("UTC").tz_localize(None)
    if s.index.has_duplicates:
        raise InvalidInputError("series has duplicate days; aggregate to one value per day first")
    try:
        s = pd.to_numeric(s, errors="raise").astype(float)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"series values must be numeric: {exc}") from exc
    s = s.sort_index()
    s.index = s.index.normalize()
    if len(s) == 0:
        return s
    full = pd.date_range(s.index.min(), s.index.max(), freq="D")
    return s.reindex(full, fill_value=fill) if fill is not None else s.reindex(full)


def anomalies(series, *, threshold: float = 3.5, period: int = 7, ds_col: str = "ds", y_col: str = "y",
              method: str = "robust", interval_width: float = 0.99) -> pd.DataFrame:
    """Flag unusual days in a daily series.

    The series is decomposed into trend + weekly seasonality + residual (STL with a
    seasonal smoother spanning three cycles); each residual gets a
    modified z-score ``0.6745 * (resid - median) / MAD``, and days with ``|score|`` above
    ``threshold`` are anomalies. Missing days are interpolated for the fit and reported
    as not anomalous. A constant series has no anomalies.

    Parameters
    ----------
    series : Series indexed by day, or DataFrame with ``ds`` and ``y``
    threshold : float
        Absolute score above which a day is flagged (default 3.5).
    period : int
        Seasonal period in days (7: weekly).
    method : {"robust", "prophet"}
        ``"prophet"`` fits Prophet to the series and flags days outside its
        ``interval_width`` interval (default 0.99); ``score`` is then the distance from
        ``expected`` in units of the interval's half-width, so |score| > 1 is outside
        (``threshold`` is not used).

    Returns
    -------
    DataFrame
        ``ds``, ``value``, ``expected`` (trend + seasonal), ``score`` and ``is_anomaly``.

    Raises
    ------
    InsufficientDataError
        Fewer than two seasonal cycles (14 days by default) of data.
    """
    if method not in ("robust", "prophet"):
        raise InvalidInputError(f"method must be 'robust' or 'prophet', got {method!r}")
    if method == "prophet":
        return _prophet_anomalies(series, ds_col, y_col, interval_width)
    if not np.isfinite(threshold) or threshold <= 0:
        raise InvalidInputError(f"threshold must be a positive number, got {threshold!r}")
    s = as_daily_series(series, ds_col=ds_col, y_col=y_col)
    observed = s.notna()
    if int(observed.sum()) < 2 * period:
        raise InsufficientDataError(
            f"anomaly detection needs at least {2 * period} days of data (two seasonal cycles), "
            f"got {int(observed.sum())}")
    filled = s.interpolate(limit_direction="both")
    out = pd.DataFrame({"ds": s.index, "value": s.to_numpy()})
    if filled.nunique() <= 1:
        out["expected"] = filled.to_numpy()
        out["score"] = 0.0
        out["is_anomaly"] = False
        return out
    values = filled.to_numpy()
    expected, score = _fit_and_score(values, period, threshold)
    score = np.where(observed.to_numpy(), score, np.nan)
    out["expected"] = expected
    out["score"] = score
    out["is_anomaly"] = np.abs(np.nan_to_num(score)) > threshold
    return out


def _prophet_anomalies(series, ds_col: str, y_col: str, interval_width: float) -> pd.DataFrame:
    from .forecasting import in_sample  # Prophet is imported only when asked for

    fit = in_sample(series, ds_col=ds_col, y_col=y_col, interval_width=interval_width)
    half = (fit["yhat_upper"] - fit["yhat_lower"]) / 2
    dev = fit["y"] - fit["yhat"]
    score = np.where(half > 0, dev / half.where(half > 0, 1.0), np.where(dev == 0, 0.0, np.sign(dev) * np.inf))
    outside = (fit["y"] < fit["yhat_lower"]) | (fit["y"] > fit["yhat_upper"])
    return pd.DataFrame({"ds": fit["ds"], "value": fit["y"], "expected": fit["yhat"],
                         "score": np.where(fit["y"].notna(), score, np.nan),
                         "is_anomaly": outside.fillna(False).to_numpy() & fit["y"].notna().to_numpy()})
