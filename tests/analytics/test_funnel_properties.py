"""Property-based tests: the DuckDB funnel and retention equal the brute-force references."""
import importlib
from datetime import datetime, timedelta
from unittest import mock

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.analytics import funnel, funnel_users, retention

retention_mod = importlib.import_module("workbench.analytics.retention")

from .reference import funnel_reference, funnel_table_reference, retention_reference

T0 = datetime(2026, 1, 1)
names = st.sampled_from(["a", "b", "c"])
event_rows = st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3"]), names, st.integers(0, 12)), max_size=14)


def _frame(rows):
    return pd.DataFrame({"user_id": [r[0] for r in rows], "event": [r[1] for r in rows],
                         "ts": pd.to_datetime([T0 + timedelta(minutes=r[2]) for r in rows])})


funnels_mod = importlib.import_module("workbench.analytics.funnels")
# "hash": the fast path; "collide": a hash that maps users onto two keys, so that every
# query detects a collision and reruns with dense keys; "dense": dense keys only.
KEYS = {"hash": {}, "collide": {"_HASH_SQL": "hash(user_id) % 2"}, "dense": {"_KEY_MODES": ("dense",)}}


@pytest.mark.parametrize("keys", list(KEYS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=event_rows, steps=st.lists(names, min_size=2, max_size=4), window=st.integers(0, 8))
def test_funnel_matches_reference(keys, rows, steps, window):
    window_td = timedelta(minutes=window) if window else timedelta(seconds=1)
    with mock.patch.multiple(funnels_mod, **KEYS[keys]) if KEYS[keys] else mock.patch.object(funnels_mod, "_HASH_SQL",
                                                                                           funnels_mod._HASH_SQL):
        got = funnel(_frame(rows), steps, window_td)
        per_user = funnel_users(_frame(rows), steps, window_td)
    events = [(u, e, T0 + timedelta(minutes=m)) for u, e, m in rows]
    want = funnel_table_reference(events, steps, window_td)
    ref_users = funnel_reference(events, steps, window_td)
    assert dict(zip(per_user["user_id"], per_user["level"])) == {u: lv for u, (lv, _) in ref_users.items()}
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
@pytest.mark.parametrize("bitmask", [True, False], ids=["bitmask", "join"])
def test_retention_matches_reference(bitmask, rows, period, mode, start, ret):
    frame = pd.DataFrame({"user_id": [r[0] for r in rows], "event": [r[1] for r in rows],
                          "ts": [pd.Timestamp(T0) + pd.Timedelta(days=r[2], hours=5) for r in rows]})
    periods = 4
    with mock.patch.object(retention_mod, "_BITMASK_TYPES", retention_mod._BITMASK_TYPES if bitmask else ()):
        got = retention(frame, period=period, periods=periods, mode=mode, start_event=start, return_event=ret)
    events = list(zip(frame.user_id, frame.event, frame.ts))
    sizes, counts, index = retention_reference(events, period, periods, mode, start, ret)
    got_sizes = {index(c): int(n) for c, n in got.loc[got.period == 0, ["cohort", "cohort_size"]].values}
    assert got_sizes == dict(sizes)
    got_counts = {(index(c), int(k)): int(u) for c, k, u in got.loc[got.period > 0, ["cohort", "period", "users"]].values}
    assert got_counts == {(c, k): counts[(c, k)] for c in sizes for k in range(1, periods + 1)}
    assert (got.loc[got.period == 0, "users"] == got.loc[got.period == 0, "cohort_size"]).all()
