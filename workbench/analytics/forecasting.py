"""Forecasts of daily series with Prophet, judged by rolling-origin backtests against a
seasonal-naive baseline.

Prophet is imported on first use (it takes about a second) and CmdStan's chatter is
silenced. Series are daily (``ds``, ``y``); days missing inside the range are left
out of the fit (Prophet handles gaps), not invented.
"""
from __future__ import annotations

import atexit
import logging
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InsufficientDataError, InvalidInputError, invalid_input
from ..records import frame_to_records
from .anomalies import as_daily_series

__all__ = ["ForecastSettings", "forecast", "backtest", "seasonal_naive", "forecast_many", "BacktestResult",
           "MIN_DAYS", "scores", "fit_folds", "MIN_FOLD_DAYS"]

MIN_DAYS = 14  # two weekly cycles
SEASON = 7
MIN_FOLD_DAYS = 7  # a backtest fold shorter than a week says little


def fit_folds(days: int, horizon: int, folds: int) -> tuple[int, int]:
    """``(folds, fold days)`` that fit a history of ``days`` days: at most the ``folds`` and
    ``horizon`` asked for, each fold at least a week, the first one trained on at least
    MIN_DAYS. Fold length gives way first (down to a week), then the number of folds.

    Raises InsufficientDataError when not even one week-long fold fits (fewer than
    MIN_DAYS + MIN_FOLD_DAYS days)."""
    room = days - MIN_DAYS
    if room < MIN_FOLD_DAYS:
        raise InsufficientDataError(f"a backtest needs at least {MIN_DAYS + MIN_FOLD_DAYS} days of history; "
                                    f"the series has {days}")
    length = min(horizon, room // folds)
    if length < MIN_FOLD_DAYS:
        folds = max(1, room // MIN_FOLD_DAYS)
        length = min(horizon, room // folds)
    return folds, length


class ForecastSettings(BaseModel):
    """Model settings (validated; stored with every prediction)."""
    model_config = ConfigDict(extra="forbid")
    interval_width: float = Field(default=0.8, gt=0, lt=1)
    growth: Literal["linear", "flat", "logistic"] = "linear"
    cap: float | None = None
    weekly_seasonality: bool | Literal["auto"] = "auto"
    yearly_seasonality: bool | Literal["auto"] = "auto"
    holidays_country: str | None = None
    log_transform: bool = False
    changepoint_prior_scale: float = Field(default=0.05, gt=0)
    seasonality_mode: Literal["additive", "multiplicative"] = "additive"


def _settings(options: dict) -> ForecastSettings:
    try:
        return ForecastSettings(**options)
    except ValidationError as exc:
        raise invalid_input(exc, "forecast settings") from exc


def _quiet_prophet():
    """Import Prophet with CmdStan's progress chatter and Prophet's notices silenced
    (cmdstanpy resets its logger on import, so levels are set after it too)."""
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "Importing plotly failed"
    from cmdstanpy.utils import get_logger
    from prophet import Prophet
    get_logger().setLevel(logging.WARNING)  # creates cmdstanpy's handler first, or it resets the level later
    logging.getLogger("prophet").setLevel(logging.WARNING)
    return Prophet


def _prepare(series, ds_col: str, y_col: str, settings: ForecastSettings) -> pd.DataFrame:
    s = as_daily_series(series, ds_col=ds_col, y_col=y_col)
    observed = s.dropna()
    if len(observed) < MIN_DAYS:
        raise InsufficientDataError(
            f"forecasting needs at least {MIN_DAYS} days with values (two weekly cycles), got {len(observed)}")
    if settings.log_transform and (observed < 0).any():
        raise InvalidInputError("log_transform needs non-negative values; the series has negative days "
                                f"(first: {observed[observed < 0].index[0].date()})")
    if settings.growth == "logistic" and settings.cap is None:
        raise InvalidInputError("growth='logistic' needs a cap (the saturation level)")
    return pd.DataFrame({"ds": s.index, "y": s.to_numpy()})


def _fit_predict(df: pd.DataFrame, horizon: int, settings: ForecastSettings) -> pd.DataFrame:
    """Fit on df (ds, y with NaN gaps) and predict the fitted days plus `horizon` days."""
    observed = df.dropna()
    future_ds = pd.date_range(df["ds"].iloc[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")
    all_ds = pd.concat([df["ds"], pd.Series(future_ds)], ignore_index=True)
    if observed["y"].nunique() == 1:
        # A constant series: Prophet's scaling divides by zero. The forecast is the constant, exactly.
        value = float(observed["y"].iloc[0])
        return pd.DataFrame({"ds": all_ds, "yhat": value, "yhat_lower": value, "yhat_upper": value})
    Prophet = _quiet_prophet()
    y = np.log1p(observed["y"]) if settings.log_transform else observed["y"]
    train = pd.DataFrame({"ds": observed["ds"], "y": y})
    if settings.growth == "logistic":
        train["cap"] = math.log1p(settings.cap) if settings.log_transform else settings.cap
    model = Prophet(growth=settings.growth, interval_width=settings.interval_width,
                    weekly_seasonality=settings.weekly_seasonality, yearly_seasonality=settings.yearly_seasonality,
                    daily_seasonality=False, changepoint_prior_scale=settings.changepoint_prior_scale,
                    seasonality_mode=settings.seasonality_mode)
    if settings.holidays_country:
        try:
            model.add_country_holidays(country_name=settings.holidays_country)
        except (AttributeError, KeyError, NotImplementedError, ValueError) as exc:
            raise InvalidInputError(f"unknown holidays country {settings.holidays_country!r}: {exc}") from exc
    model.fit(train)
    future = pd.DataFrame({"ds": all_ds})
    if settings.growth == "logistic":
        future["cap"] = train["cap"].iloc[0]
    pred = model.predict(future)[["ds", "yhat", "yhat_lower", "yhat_upper"]]
    if settings.log_transform:
        for col in ("yhat", "yhat_lower", "yhat_upper"):
            pred[col] = np.expm1(pred[col])
    return pred.reset_index(drop=True)


def _check_horizon(horizon) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise InvalidInputError(f"horizon must be a positive whole number of days, got {horizon!r}")
    return int(horizon)


def forecast(series, horizon: int, *, ds_col: str = "ds", y_col: str = "y", **options) -> pd.DataFrame:
    """Forecast a daily series ``horizon`` days past its last day.

    Parameters
    ----------
    series : DataFrame with ``ds`` and ``y``, or Series indexed by day
    horizon : int
        Days to forecast.
    **options
        :class:`ForecastSettings`: ``interval_width`` (default 0.8), ``growth``
        (linear, flat, logistic with ``cap``), ``weekly_seasonality`` /
        ``yearly_seasonality`` (True, False or "auto"; Prophet needs more than two
        years for "auto" to turn yearly on), ``holidays_country`` (e.g. "FR"),
        ``log_transform`` (fit log1p(y), for skewed revenue), ``changepoint_prior_scale``,
        ``seasonality_mode``.

    Returns
    -------
    DataFrame
        The ``horizon`` future days: ``ds``, ``yhat``, ``yhat_lower``, ``yhat_upper``.

    Raises
    ------
    InsufficientDataError
        Fewer than 14 days with values. A constant series is not an error: its
        forecast is the constant, with a zero-width interval. Negative values (refunds)
        are fitted as they are; only ``log_transform`` refuses them (InvalidInputError).
    """
    horizon = _check_horizon(horizon)
    settings = _settings(options)
    df = _prepare(series, ds_col, y_col, settings)
    return _fit_predict(df, horizon, settings).tail(horizon).reset_index(drop=True)


def in_sample(series, *, ds_col: str = "ds", y_col: str = "y", **options) -> pd.DataFrame:
    """Prophet's fit over the series' own days: ``ds``, ``y``, ``yhat``, ``yhat_lower``, ``yhat_upper``."""
    settings = _settings(options)
    df = _prepare(series, ds_col, y_col, settings)
    pred = _fit_predict(df, 1, settings).iloc[:-1]
    return df.merge(pred, on="ds", how="left")


def seasonal_naive(history: pd.Series, horizon: int, season: int = SEASON) -> np.ndarray:
    """Repeat the last full season: the forecast for day t is the value ``season`` days earlier."""
    last = history.to_numpy()[-season:]
    return np.resize(last, horizon)


def scores(actual, predicted, train, lower=None, upper=None, season: int = SEASON) -> dict[str, float]:
    """MAPE, sMAPE, MASE and (with an interval) coverage of one forecast.

    MAPE skips days whose actual is 0 (NaN when all are); sMAPE counts 0/0 as 0; MASE
    scales the mean absolute error by the in-sample mean absolute error of the
    seasonal-naive forecast on ``train``.
    """
    a, p = np.asarray(actual, float), np.asarray(predicted, float)
    err = np.abs(a - p)
    nonzero = a != 0
    mape = float(np.mean(err[nonzero] / np.abs(a[nonzero]))) if nonzero.any() else np.nan
    denom = np.abs(a) + np.abs(p)
    smape = float(np.mean(np.where(denom > 0, 2 * err / np.where(denom > 0, denom, 1), 0.0)))
    t = np.asarray(train, float)
    t = t[~np.isnan(t)]
    scale = np.mean(np.abs(t[season:] - t[:-season])) if len(t) > season else np.nan
    mase = float(np.mean(err) / scale) if scale and scale > 0 else np.nan
    out = {"mape": mape, "smape": smape, "mase": mase}
    if lower is not None and upper is not None:
        out["coverage"] = float(np.mean((a >= np.asarray(lower)) & (a <= np.asarray(upper))))
    else:
        out["coverage"] = np.nan
    return out


@dataclass
class BacktestResult:
    """Per-fold and overall scores of Prophet and the seasonal-naive baseline."""
    folds: pd.DataFrame
    summary: pd.DataFrame
    predictions: pd.DataFrame = field(repr=False)
    fold_days: int = 0  # days per fold

    def winner(self, metric: str = "mase") -> str:
        s = self.summary.set_index("model")[metric]
        return str(s.idxmin())

    @property
    def beats_baseline(self) -> bool:
        """Whether Prophet's pooled MASE is lower than the seasonal-naive baseline's."""
        s = self.summary.set_index("model")["mase"]
        return bool(s["prophet"] < s["seasonal_naive"])

    def verdict(self) -> str:
        """One sentence: does Prophet earn its keep over repeating last week?"""
        s = self.summary.set_index("model")
        p, n = s.loc["prophet", "mase"], s.loc["seasonal_naive", "mase"]
        days = int(s.loc["prophet", "days"])
        if self.beats_baseline:
            return (f"Prophet's forecasts were closer than repeating last week on {days} backtest days "
                    f"(MASE {p:.2f} against {n:.2f}; lower is better).")
        return (f"Prophet did no better than repeating last week on {days} backtest days (MASE {p:.2f} against "
                f"{n:.2f}; lower is better): prefer the baseline for this metric.")

    def to_dict(self) -> dict[str, Any]:
        return {"folds": frame_to_records(self.folds), "summary": frame_to_records(self.summary),
                "beats_baseline": self.beats_baseline, "verdict": self.verdict()}


def backtest(series, horizon: int, *, folds: int = 3, step: int | None = None, ds_col: str = "ds",
             y_col: str = "y", **options) -> BacktestResult:
    """Rolling-origin evaluation: ``folds`` cutoffs, each forecasting the next ``horizon`` days.

    The last fold ends at the series' last day; earlier folds step back ``step`` days
    (default: ``horizon``). Prophet and the seasonal-naive baseline (last week
    repeated) are scored on exactly the same days.

    Returns
    -------
    BacktestResult
        ``folds``: ``fold``, ``model`` ("prophet" / "seasonal_naive"), ``cutoff``,
        ``mape``, ``smape``, ``mase``, ``coverage`` (share of actual days inside the
        interval; NaN for the baseline). ``summary``: the same scores over all folds'
        days pooled, one row per model. ``predictions``: every forecast day.
    """
    horizon = _check_horizon(horizon)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
        raise InvalidInputError(f"folds must be a positive integer, got {folds!r}")
    step = horizon if step is None else _check_horizon(step)
    settings = _settings(options)
    df = _prepare(series, ds_col, y_col, settings)
    n = len(df)
    first_cut = n - horizon - (folds - 1) * step
    if first_cut < MIN_DAYS:
        raise InsufficientDataError(
            f"{folds} folds of {horizon} days (step {step}) need at least {MIN_DAYS + horizon + (folds - 1) * step} "
            f"days; the series has {n}")
    rows, preds = [], []
    for f in range(folds):
        cut = first_cut + f * step
        train, test = df.iloc[:cut], df.iloc[cut:cut + horizon]
        prophet = _fit_predict(train, horizon, settings).tail(horizon).reset_index(drop=True)
        naive = seasonal_naive(train["y"].ffill().bfill(), horizon)
        mask = test["y"].notna().to_numpy()
        actual = test["y"].to_numpy()
        cutoff = train["ds"].iloc[-1]
        for model, yhat, lo, hi in (("prophet", prophet["yhat"].to_numpy(), prophet["yhat_lower"].to_numpy(),
                                     prophet["yhat_upper"].to_numpy()), ("seasonal_naive", naive, None, None)):
            sc = scores(actual[mask], yhat[mask], train["y"], None if lo is None else lo[mask],
                        None if hi is None else hi[mask])
            rows.append({"fold": f + 1, "model": model, "cutoff": cutoff, **sc})
            preds.append(pd.DataFrame({"fold": f + 1, "model": model, "ds": test["ds"].to_numpy(), "y": actual,
                                       "yhat": yhat, "yhat_lower": lo if lo is not None else np.nan,
                                       "yhat_upper": hi if hi is not None else np.nan}))
    predictions = pd.concat(preds, ignore_index=True)
    summary = []
    train_all = df["y"].iloc[:first_cut]
    for model, grp in predictions.groupby("model", sort=False):
        g = grp[grp["y"].notna()]
        lo = None if model != "prophet" else g["yhat_lower"]
        hi = None if model != "prophet" else g["yhat_upper"]
        summary.append({"model": model, "folds": folds, "days": len(g),
                        **scores(g["y"], g["yhat"], train_all, lo, hi)})
    return BacktestResult(folds=pd.DataFrame(rows), summary=pd.DataFrame(summary), predictions=predictions,
                          fold_days=horizon)


def _one(job: tuple) -> tuple:
    key, series, horizon, options, run_backtest, folds = job
    try:
        fc = forecast(series, horizon, **options)
        bt = None
        if run_backtest:
            n_folds, days = fit_folds(len(series), min(horizon, 28), folds)
            bt = backtest(series, days, folds=n_folds, **options)
        return key, fc, bt, None
    except InvalidInputError as exc:  # one bad series does not stop the others
        return key, None, None, f"{type(exc).__name__}: {exc}"


def forecast_many(series: dict, horizon: int, *, n_jobs: int | None = None, backtest_folds: int = 0,
                  **options) -> dict:
    """Forecast many series at once, in parallel processes (default: one per core).

    Parameters
    ----------
    series : dict
        ``{key: series}``, e.g. ``{("acme", "revenue"): frame, ...}``.
    backtest_folds : int
        Also backtest each series with this many folds (0: no backtest).

    Returns
    -------
    dict
        ``{key: (forecast frame or None, BacktestResult or None, error message or None)}``.
    """
    horizon = _check_horizon(horizon)
    _settings(options)
    jobs = [(k, s, horizon, options, backtest_folds > 0, max(backtest_folds, 1)) for k, s in series.items()]
    n_jobs = n_jobs or os.cpu_count() or 1
    if n_jobs == 1 or len(jobs) <= 1:
        results = map(_one, jobs)
        return {k: (fc, bt, err) for k, fc, bt, err in results}
    pool = _pool(n_jobs)
    return {k: (fc, bt, err) for k, fc, bt, err in pool.map(_one, jobs, chunksize=max(1, len(jobs) // (4 * n_jobs)))}


_POOLS: dict[int, ProcessPoolExecutor] = {}


def _pool(n_jobs: int) -> ProcessPoolExecutor:
    """A worker pool kept for the life of the process: starting workers (importing pandas
    and Prophet) costs seconds, more than dozens of fits."""
    pool = _POOLS.get(n_jobs)
    if pool is None:
        # "spawn": forking a process that already runs DuckDB or CmdStan threads can deadlock the child.
        pool = ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context("spawn"))
        _POOLS[n_jobs] = pool
        atexit.register(pool.shutdown, wait=False, cancel_futures=True)
    return pool
