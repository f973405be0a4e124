"""Saved funnels, cohorts and segments: CRUD, recalculation, stored results, brand isolation."""
import pandas as pd
import pytest

from workbench.analytics import funnel, retention
from workbench.datasets import FUNNEL_STEPS, generate_events
from workbench.errors import AlreadyExistsError, InvalidInputError, NotFoundError


@pytest.fixture
def acme(ws):
    demo = generate_events(brands=2, users=500, days=40, seed=2).events
    for brand, frame in demo.groupby("brand"):
        ws.brand(brand).ingest(frame)
    return ws.brand("acme")


def test_funnel_crud_and_stored_results(acme):
    acme.funnels.create("shop", steps=FUNNEL_STEPS, window="7d")
    assert acme.funnels.list()["name"].tolist() == ["shop"]
    with pytest.raises(AlreadyExistsError):
        acme.funnels.create("shop", steps=FUNNEL_STEPS, window="7d")
    first = acme.funnels.calculate("shop")
    pd.testing.assert_frame_equal(first, acme.funnel(FUNNEL_STEPS, "7d"))
    acme.funnels.update("shop", window="1d")
    second = acme.funnels.calculate("shop")
    history = acme.funnels.results("shop")
    assert len(history) == 2 and history[0][0] >= history[1][0]
    pd.testing.assert_frame_equal(history[0][1], second, check_dtype=False)
    assert acme.funnels.get("shop").window.days == 1
    acme.funnels.delete("shop")
    with pytest.raises(NotFoundError):
        acme.funnels.get("shop")


def test_bad_definitions_are_refused_before_storing(acme):
    with pytest.raises(InvalidInputError, match="steps"):
        acme.funnels.create("f", steps=["view"], window="1d")
    with pytest.raises(InvalidInputError, match="window"):
        acme.funnels.create("f", steps=["a", "b"], window="-1d")
    with pytest.raises(InvalidInputError, match="period"):
        acme.cohorts.create("c", period="fortnight")
    with pytest.raises(InvalidInputError, match="colour"):
        acme.segments.create("s", conditions=[{"kind": "property", "field": "country", "value": "FR"}], colour="red")
    assert acme.funnels.list().empty and acme.cohorts.list().empty and acme.segments.list().empty


def test_segments_filter_every_analysis(acme):
    acme.segments.create("fr", conditions=[{"kind": "property", "field": "country", "value": "FR"}])
    members = acme.segments.members("fr")["user_id"]
    assert 0 < len(members) == acme.segments.size("fr")
    events = acme.events().df()
    fr_events = events[events.user_id.isin(members)]
    pd.testing.assert_frame_equal(acme.funnel(FUNNEL_STEPS, "7d", segment="fr"), funnel(fr_events, FUNNEL_STEPS, "7d"))
    pd.testing.assert_frame_equal(acme.retention(segment="fr", periods=3), retention(fr_events, periods=3))
    acme.cohorts.create("fr_weekly", periods=3, segment="fr")
    pd.testing.assert_frame_equal(acme.cohorts.calculate("fr_weekly"), retention(fr_events, periods=3))
    assert acme.segments.calculate("fr")["size"].item() == len(members)
    with pytest.raises(NotFoundError):
        acme.funnel(FUNNEL_STEPS, "7d", segment="nope")


def test_definitions_do_not_cross_brands(acme):
    globex = acme.workspace.brand("globex")
    acme.funnels.create("shop", steps=FUNNEL_STEPS, window="7d")
    assert globex.funnels.list().empty
    with pytest.raises(NotFoundError):
        globex.funnels.calculate("shop")
    globex.funnels.create("shop", steps=["view", "purchase"], window="1d")  # same name, other brand: fine
    assert acme.funnels.get("shop").steps == FUNNEL_STEPS


def test_brand_metrics_correlations_and_anomalies(acme):
    daily = acme.daily_metrics(["active_users", "purchases", "revenue", "conversion_rate"])
    assert list(daily.columns) == ["active_users", "purchases", "revenue", "conversion_rate"]
    assert daily.index.is_monotonic_increasing and (daily.index.to_series().diff().dropna() == pd.Timedelta("1D")).all()
    corr = acme.correlations(["active_users", "purchases", "revenue"])
    assert len(corr) == 3 and corr["q_value"].notna().all()
    out = acme.anomalies("active_users")
    assert len(out) == len(daily)
