import numpy as np
import pandas as pd
import pytest

from workbench.analytics import anomalies, daily_metrics
from workbench.datasets import generate_events
from workbench.errors import InsufficientDataError, InvalidInputError


def weekly(n=70, seed=0):
    rng = np.random.default_rng(seed)
    days = pd.date_range("2026-01-05", periods=n)
    y = 100 + 0.3 * np.arange(n) + np.where(days.dayofweek >= 5, -25, 0) + rng.normal(0, 2, n)
    return pd.Series(y, index=days)


def test_planted_spike_and_dip_are_flagged_and_nothing_else():
    s = weekly()
    s.iloc[30] += 40
    s.iloc[50] -= 40
    out = anomalies(s)
    assert list(out.columns) == ["ds", "value", "expected", "score", "is_anomaly"]
    assert out.loc[out.is_anomaly, "ds"].tolist() == [s.index[30], s.index[50]]
    assert out.loc[30, "score"] > 3.5 and out.loc[50, "score"] < -3.5
    assert out.loc[10, "expected"] == pytest.approx(s.iloc[10], abs=8)


def test_weekend_dips_alone_are_not_anomalies():
    assert not anomalies(weekly(seed=3)).is_anomaly.any()


def test_frame_input_and_gaps():
    s = weekly()
    frame = pd.DataFrame({"ds": s.index, "y": s.values}).drop(index=[20, 21])
    out = anomalies(frame)
    assert len(out) == 70 and out.loc[20, "value"] != out.loc[20, "value"]  # NaN day kept
    assert not out.loc[20, "is_anomaly"]


def test_short_and_constant_series():
    with pytest.raises(InsufficientDataError, match="at least 14 days"):
        anomalies(weekly(n=10))
    flat = anomalies(pd.Series(5.0, index=pd.date_range("2026-01-01", periods=30)))
    assert not flat.is_anomaly.any() and (flat.score == 0).all()
    with pytest.raises(InvalidInputError, match="threshold"):
        anomalies(weekly(), threshold=0)


def test_demo_incidents_are_found():
    demo = generate_events(brands=2, users=4000, days=90, seed=0)
    for inc in demo.incidents.itertuples():
        ev = demo.events[demo.events.brand == inc.brand]
        series = daily_metrics(ev, [inc.metric])[inc.metric]
        out = anomalies(series).set_index("ds")
        day = inc.day.tz_convert(None)
        assert out.loc[day, "is_anomaly"], (inc.brand, inc.kind)
        assert np.sign(out.loc[day, "score"]) == (1 if inc.direction == "up" else -1)
        incident_days = {d.tz_convert(None) for d in demo.incidents.loc[demo.incidents.brand == inc.brand, "day"]}
        false_alarms = set(out.index[out.is_anomaly]) - incident_days
        assert len(false_alarms) <= 2, false_alarms
