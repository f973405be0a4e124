"""Hand-checked retention cases."""
import pandas as pd
import pytest

from workbench.analytics import retention
from workbench.errors import InvalidInputError


def ev(*rows):
    df = pd.DataFrame(rows, columns=["user_id", "event", "ts"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True, format="mixed")
    return df


EVENTS = ev(("a", "signup", "2026-01-05 10:00"), ("a", "visit", "2026-01-13 00:00"), ("a", "visit", "2026-01-28 00:00"),
            ("b", "signup", "2026-01-06 00:00"), ("b", "visit", "2026-01-20 00:00"),
            ("c", "signup", "2026-01-12 00:00"))


def grid(df):
    return {(str(c.date()), p): u for c, p, u in df[["cohort", "period", "users"]].values}


def test_weekly_on():
    out = retention(EVENTS, period="week", periods=3)
    assert grid(out) == {("2026-01-05", 0): 2, ("2026-01-05", 1): 1, ("2026-01-05", 2): 1, ("2026-01-05", 3): 1,
                         ("2026-01-12", 0): 1, ("2026-01-12", 1): 0, ("2026-01-12", 2): 0, ("2026-01-12", 3): 0}
    assert out["rate"].tolist()[:4] == [1.0, 0.5, 0.5, 0.5]
    # the last event is on 2026-01-28: week 3 of the first cohort (Jan 26 - Feb 1) is still running
    assert out["complete"].tolist() == [True, True, True, False, True, True, False, False]


def test_weekly_on_or_after():
    out = retention(EVENTS, period="week", periods=3, mode="on_or_after")
    assert [grid(out)[("2026-01-05", k)] for k in range(4)] == [2, 2, 2, 1]


def test_start_and_return_events():
    out = retention(EVENTS, period="week", periods=2, start_event="signup", return_event="signup")
    assert out.loc[out.period > 0, "users"].sum() == 0
    day = retention(EVENTS, period="day", periods=8, start_event="signup", return_event="visit")
    g = grid(day)
    assert g[("2026-01-05", 8)] == 1 and g[("2026-01-05", 7)] == 0


def test_monthly_cohorts_and_calendar_months():
    e = ev(("a", "x", "2026-01-31 23:00"), ("a", "x", "2026-02-01 01:00"), ("b", "x", "2026-02-15"))
    out = retention(e, period="month", periods=1)
    assert grid(out) == {("2026-01-01", 0): 1, ("2026-01-01", 1): 1, ("2026-02-01", 0): 1, ("2026-02-01", 1): 0}


def test_cohort_of_timezone_aware_input_is_utc():
    e = pd.DataFrame({"user_id": ["a"], "event": ["x"],
                      "ts": [pd.Timestamp("2026-01-12 00:30", tz="Europe/Paris")]})  # Sunday 23:30 UTC
    out = retention(e, period="week", periods=0)
    assert out["cohort"].item() == pd.Timestamp("2026-01-05")


def test_empty_input():
    out = retention(ev(), period="week", periods=4)
    assert out.empty and list(out.columns) == ["cohort", "period", "cohort_size", "users", "rate", "complete"]


@pytest.mark.parametrize("kwargs,match", [
    ({"period": "year"}, "period must be one of"),
    ({"mode": "ever"}, "mode must be one of"),
    ({"periods": -1}, "non-negative integer"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        retention(EVENTS, **kwargs)
