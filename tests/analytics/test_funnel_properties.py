"""Property-based tests: the DuckDB funnel and retention equal the brute-force references."""
from datetime import datetime, timedelta

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.analytics import funnel, retention

from .reference import funnel_table_reference, retention_reference

T0 = datetime(2026, 1, 1)
names = st.sampled_from(["a", "b", "c"])
event_rows = st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3"]), names, st.integers(0, 12)), max_size=14)


def _frame(rows):
    return pd.DataFrame({"user_id": [r[0] for r in rows], "event": [r[1] for r in rows],
                         "ts": pd.to_datetime([T0 + timedelta(minutes=r[2]) for r in rows])})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=event_rows, steps=st.lists(names, min_size=2, max_size=4), window=st.integers(0, 8))
def test_funnel_matches_reference(rows, steps, window):
    window_td = timedelta(minutes=window) if window else timedelta(seconds=1)
    got = funnel(_frame(rows), steps, window_td)
    events = [(u, e, T0 + timedelta(minutes=m)) for u, e, m in rows]
    want = funnel_table_reference(events, steps, window_td)
    assert got["users"].tolist() == [r["users"] for r in want]
    for g, w in zip(got["median_seconds_from_previous"], want):
        m = w["median_seconds_from_previous"]
        assert (pd.isna(g) and m is None) or abs(g - m) < 1e-6
    for g, w in zip(got["step_conversion"], want):
        assert (pd.isna(g) and w["step_conversion"] is None) or abs(g - w["step_conversion"]) < 1e-12


days = st.integers(0, 70)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3", "u4"]), st.sampled_from(["s", "r"]), days),
                     min_size=1, max_size=20),
       period=st.sampled_from(["day", "week", "month"]), mode=st.sampled_from(["on", "on_or_after"]),
       start=st.sampled_from([None, "s"]), ret=st.sampled_from([None, "r"]))
def test_retention_matches_reference(rows, period, mode, start, ret):
    frame = pd.DataFrame({"user_id": [r[0] for r in rows], "event": [r[1] for r in rows],
                          "ts": [pd.Timestamp(T0) + pd.Timedelta(days=r[2], hours=5) for r in rows]})
    periods = 4
    got = retention(frame, period=period, periods=periods, mode=mode, start_event=start, return_event=ret)
    events = list(zip(frame.user_id, frame.event, frame.ts))
    sizes, counts, index = retention_reference(events, period, periods, mode, start, ret)
    got_sizes = {index(c): int(n) for c, n in got.loc[got.period == 0, ["cohort", "cohort_size"]].values}
    assert got_sizes == dict(sizes)
    got_counts = {(index(c), int(k)): int(u) for c, k, u in got.loc[got.period > 0, ["cohort", "period", "users"]].values}
    assert got_counts == {(c, k): counts[(c, k)] for c in sizes for k in range(1, periods + 1)}
    assert (got.loc[got.period == 0, "users"] == got.loc[got.period == 0, "cohort_size"]).all()
