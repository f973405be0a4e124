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
