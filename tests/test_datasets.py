import pandas as pd

from workbench.datasets import FUNNEL_STEPS, generate_events


def test_same_seed_same_events():
    a = generate_events(brands=2, users=300, days=40, seed=7)
    b = generate_events(brands=2, users=300, days=40, seed=7)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert not a.events.equals(generate_events(brands=2, users=300, days=40, seed=8).events)


def test_demo_behaviour_is_plausible():
    demo = generate_events(brands=3, users=2000, days=90, seed=0)
    ev = demo.events
    assert set(ev["brand"]) == {"acme", "globex", "initech"}
    assert ev["event_id"].is_unique
    counts = ev["event"].value_counts()
    # the shop path narrows at every step
    assert counts["view"] > counts["add_to_cart"] > counts["checkout"] > counts["purchase"] > 0
    assert ev.loc[ev.event == "purchase", "revenue"].gt(0).all()
    assert ev.loc[ev.event != "purchase", "revenue"].isna().all()
    assert {"signup", "generation_requested", "generation_completed"} <= set(counts.index)
    # growth: more sign-ups in the last month than in the first
    signups = ev[ev.event == "signup"].set_index("ts").resample("30D").size()
    assert signups.iloc[-1] > signups.iloc[0]
    # weekly seasonality: fewer sessions at the weekend
    sessions = ev[ev.event == "session_start"]
    weekend = sessions["ts"].dt.dayofweek >= 5
    assert weekend.mean() < 2 / 7


def test_incidents_are_visible_in_the_data():
    demo = generate_events(brands=2, users=3000, days=90, seed=0)
    ev = demo.events.assign(day=demo.events["ts"].dt.floor("D"))
    for inc in demo.incidents.itertuples():
        b = ev[ev.brand == inc.brand]
        if inc.kind == "checkout_outage":
            daily = b[b.event == "purchase"].groupby("day").size()
            assert daily.get(inc.day, 0) < 0.25 * daily.median()
        else:
            daily = b.groupby("day")["user_id"].nunique()
            assert daily[inc.day] > 1.5 * daily.median()
    assert set(demo.incidents.columns) == {"brand", "day", "kind", "metric", "direction"}
    assert FUNNEL_STEPS == ["view", "add_to_cart", "checkout", "purchase"]
