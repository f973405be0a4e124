import pandas as pd
import pytest

from workbench.analytics import funnel_dropoff, funnel_over_time, retention, retention_curve, revenue_curve, \
    time_to_convert


def ev(*rows, revenue=None):
    df = pd.DataFrame(rows, columns=["user_id", "event", "ts"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True, format="mixed")
    if revenue is not None:
        df["revenue"] = revenue
    return df


E = ev(("a", "view", "2026-01-05 00:00"), ("a", "buy", "2026-01-05 01:00"),
       ("b", "view", "2026-01-06 00:00"),
       ("c", "view", "2026-01-13 00:00"), ("c", "buy", "2026-01-13 03:00"),
       ("d", "view", "2026-01-20 00:00"), ("e", "view", "2026-01-20 12:00"))


def test_over_time_groups_by_entry_week():
    out = funnel_over_time(E, ["view", "buy"], "1d", period="week")
    got = {(str(p.date()), s): u for p, s, u in out[["period", "step", "users"]].values}
    assert got == {("2026-01-05", 1): 2, ("2026-01-05", 2): 1, ("2026-01-12", 1): 1, ("2026-01-12", 2): 1,
                   ("2026-01-19", 1): 2, ("2026-01-19", 2): 0}
    assert out.loc[(out.step == 2), "conversion"].tolist() == [0.5, 1.0, 0.0]


def test_time_to_convert_quantiles():
    out = time_to_convert(E, ["view", "buy"], "1d")
    row = out.iloc[0]
    assert row.users == 2
    assert row.from_start_p50 == pytest.approx((3600 + 10800) / 2)
    assert row.from_previous_mean == pytest.approx((3600 + 10800) / 2)
    assert row.from_start_p10 == pytest.approx(3600 + 0.1 * 7200)


def test_dropoff_tells_open_windows_apart():
    # last event Jan 20 12:00; d's window (1 day from Jan 20 00:00) is still open, b's is closed
    out = funnel_dropoff(E, ["view", "buy"], "1d")
    first = out.iloc[0]
    assert (first.users, first.stopped, first.dropped, first.in_progress) == (5, 3, 1, 2)
    later = funnel_dropoff(E, ["view", "buy"], "1d", as_of="2026-02-01")
    assert (later.iloc[0].dropped, later.iloc[0].in_progress) == (3, 0)


def test_retention_curve_weights_by_cohort_size_and_skips_incomplete_cells():
    table = pd.DataFrame({
        "cohort": pd.to_datetime(["2026-01-05"] * 2 + ["2026-01-12"] * 2), "period": [0, 1, 0, 1],
        "cohort_size": [10, 10, 30, 30], "users": [10, 5, 30, 3], "rate": [1, .5, 1, .1],
        "complete": [True, True, True, False]})
    curve = retention_curve(table)
    assert curve.set_index("period")["rate"].to_dict() == {0: 1.0, 1: 0.5}
    assert curve.set_index("period")["cohorts"].to_dict() == {0: 2, 1: 1}
    assert retention_curve(table, complete_only=False).set_index("period").loc[1, "rate"] == pytest.approx(8 / 40)


def test_revenue_curve_is_cumulative_per_cohort_user():
    e = ev(("a", "visit", "2026-01-05"), ("a", "buy", "2026-01-06"), ("a", "buy", "2026-01-14"),
           ("b", "visit", "2026-01-07"), ("b", "buy", "2026-01-20"),
           revenue=[None, 10.0, 20.0, None, 30.0])
    out = revenue_curve(e, period="week", periods=2)
    assert out["revenue"].tolist() == [10.0, 20.0, 30.0]
    assert out["revenue_per_user"].tolist() == [5.0, 15.0, 30.0]
    assert out["complete"].tolist() == [True, True, False]
    assert retention(e, period="week", periods=2)["cohort"].equals(out["cohort"])
