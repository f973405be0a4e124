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
