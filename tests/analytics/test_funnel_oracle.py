"""ClickHouse's windowFunnel (through chdb) as an independent oracle on a million-event log."""
import pytest

from workbench.analytics import funnel, funnel_users
from workbench.datasets import FUNNEL_STEPS, generate_events

chdb = pytest.importorskip("chdb")


@pytest.mark.slow
def test_per_user_levels_equal_clickhouse_window_funnel(tmp_path):
    ev = generate_events(brands=3, users=16000, days=120, seed=11).events
    assert len(ev) >= 1_000_000
    ev = ev.assign(user_id=ev["brand"] + ":" + ev["user_id"])
    path = tmp_path / "events.parquet"
    ev.assign(ts_us=ev["ts"].astype("int64") // 1000)[["user_id", "event", "ts_us"]].to_parquet(path)
    for steps, window_days in ((FUNNEL_STEPS, 7), (["signup", "view", "purchase"], 2), (["view", "purchase"], 1)):
        conds = ", ".join(f"event = '{s}'" for s in steps)
        names = ", ".join(f"'{s}'" for s in dict.fromkeys(steps))
        ch = chdb.query(
            f"SELECT user_id, windowFunnel({window_days * 86_400_000_000})(toUInt64(ts_us), {conds}) AS level "
            f"FROM file('{path}', Parquet) WHERE event IN ({names}) GROUP BY user_id "
            "SETTINGS schema_inference_make_columns_nullable = 0", "DataFrame")
        ch = ch[ch["level"] > 0].set_index("user_id")["level"].sort_index()
        ours = funnel_users(ev, steps, f"{window_days}d").set_index("user_id")["level"].sort_index()
        assert len(ours) > 10_000
        assert ours.index.equals(ch.index)
        assert (ours.values == ch.values).all()
        table = funnel(ev, steps, f"{window_days}d")
        assert table["users"].tolist() == [int((ch >= k).sum()) for k in range(1, len(steps) + 1)]
