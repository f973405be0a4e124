import pytest

from workbench.datasets import generate_events
from workbench.errors import InvalidInputError, NotFoundError


@pytest.fixture
def acme(ws):
    scope = ws.brand("acme")
    scope.ingest(generate_events(brands=1, users=800, days=70, seed=4).events)
    return scope


def test_forecast_is_stored_with_settings_and_scores(acme):
    run = acme.forecast("revenue", horizon=14, folds=2, backtest_horizon=7, log_transform=True)
    assert len(run.forecast) == 14 and run.backtest is not None
    assert run.history["y"].ge(0).all() and len(run.history) == 70  # zero-filled daily history
    stored = acme.predictions.get(run.prediction_id)
    assert stored["settings"]["log_transform"] is True and stored["settings"]["folds"] == 2
    assert stored["forecast"]["yhat"].round(6).tolist() == run.forecast["yhat"].round(6).tolist()
    assert {r["model"] for r in stored["scores"]["summary"]} == {"prophet", "seasonal_naive"}
    acme.forecast("active_users", horizon=7, folds=0)
    listed = acme.predictions.list()
    assert listed["metric"].tolist() == ["active_users", "revenue"]  # newest first, earlier kept
    assert listed.loc[listed.metric == "revenue", "mase_prophet"].notna().all()


def test_many_metrics_in_parallel(acme):
    runs = acme.predictions.create_many(["active_users", "purchases"], horizon=7, folds=1, n_jobs=2)
    assert set(runs) == {"active_users", "purchases"}
    assert all(len(r.forecast) == 7 for r in runs.values())


def test_bad_metric_and_other_brands(acme):
    with pytest.raises(InvalidInputError, match="cannot forecast"):
        acme.forecast("happiness", 7)
    run = acme.forecast("purchases", 7, folds=0)
    with pytest.raises(NotFoundError):
        acme.workspace.brand("globex").predictions.get(run.prediction_id)


def test_a_prediction_records_its_segment_saved_or_not(acme):
    definition = {"conditions": [{"kind": "behaviour", "event": "purchase", "op": ">=", "count": 1,
                                  "within_days": 365}]}
    acme.segments.create("buyers", **definition)
    unsaved = acme.forecast("purchases", 7, folds=0, segment=definition)
    saved = acme.forecast("purchases", 7, folds=0, segment="buyers")
    whole = acme.forecast("purchases", 7, folds=0)
    got = acme.predictions.get(unsaved.prediction_id)
    assert got["segment"]["conditions"][0]["event"] == "purchase" and got["segment"]["match"] == "all"
    assert acme.predictions.get(saved.prediction_id)["segment"] == "buyers"
    assert acme.predictions.get(whole.prediction_id)["segment"] is None
    listed = acme.predictions.list().set_index("id")["segment"]
    assert listed[unsaved.prediction_id] == "(unsaved)" and listed[saved.prediction_id] == "buyers"
    assert listed[whole.prediction_id] is None


def test_folds_adapt_to_sixty_days_and_the_stored_settings_say_so(ws):
    scope = ws.brand("acme")
    scope.ingest(generate_events(brands=1, users=400, days=60, seed=6).events)
    run = scope.forecast("active_users", horizon=28)  # the defaults: 3 folds of 28 days would need 98
    stored = scope.predictions.get(run.prediction_id)["settings"]
    assert (stored["folds"], stored["backtest_horizon"]) == (3, 15)
    assert run.backtest.fold_days == 15 and run.beats_baseline in (True, False)


def test_a_forecast_that_loses_to_the_baseline_says_so(ws, caplog):
    import numpy as np
    import pandas as pd

    days = pd.date_range("2026-01-05", periods=84, freq="D", tz="UTC")
    weekly = np.tile([3, 5, 8, 13, 21, 34, 2], 12)  # a pattern last week repeats exactly
    rows = [{"user_id": f"u{d.day}-{k}", "event": "view", "ts": d + pd.Timedelta(hours=1)}
            for d, n in zip(days, weekly) for k in range(n)]
    scope = ws.brand("acme")
    scope.ingest(pd.DataFrame(rows))
    run = scope.forecast("active_users", horizon=14, folds=2, backtest_horizon=7)
    assert run.beats_baseline is False
    assert "prefer the baseline" in run.warning and "prefer the baseline" in caplog.text
    stored = scope.predictions.get(run.prediction_id)
    assert stored["scores"]["beats_baseline"] is False and "no better" in stored["scores"]["verdict"]
    assert scope.predictions.list()["beats_baseline"].tolist() == [False]
    from workbench import narrative
    text = narrative.forecast_summary("active_users", run.history, run.forecast, run.backtest.summary)
    assert "Warning: in the backtest Prophet did no better than repeating last week" in text
