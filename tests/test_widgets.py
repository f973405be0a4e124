from workbench.datasets import FUNNEL_STEPS, generate_events
from workbench.widgets import funnel_explorer, retention_explorer


def test_explorers_recompute_when_settings_change(ws):
    acme = ws.brand("acme")
    acme.ingest(generate_events(brands=1, users=300, days=40, seed=6).events)
    f = funnel_explorer(acme)
    assert f.result.equals(acme.funnel(FUNNEL_STEPS, "7d"))
    f.steps.value = ["view", "purchase"]
    assert f.result["event"].tolist() == ["view", "purchase"]
    f.breakdown.value = "country"
    assert "breakdown" in f.result.columns
    f.window.value = "not a window"
    assert "not understood" in f.error and f.result is not None  # last good result kept
    r = retention_explorer(acme)
    r.period.value = "month"
    assert r.result.equals(acme.retention(period="month", periods=8))


def test_bad_dates_are_said_in_the_widget(ws):
    acme = ws.brand("acme")
    acme.ingest(generate_events(brands=1, users=200, days=40, seed=6).events)
    f = funnel_explorer(acme)
    good = f.result
    f.since.value = "yesterday"
    assert "since 'yesterday' is not a date" in f.error and "last one that worked" in f.status.value
    assert f.result is good
    f.since.value, f.until.value = "2026-02-10", "2026-02-01"
    assert "must be before until" in f.error
    f.until.value = "2026-02-20"
    assert f.error is None and f.result["users"].iloc[0] < good["users"].iloc[0]
