"""Hand-checked funnel cases."""
from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from workbench.analytics import funnel, funnel_users
from workbench.errors import InvalidInputError, MissingColumnsError


def ev(*rows, **extra):
    """rows: (user, event, 'YYYY-MM-DD HH:MM[:SS]')"""
    df = pd.DataFrame(rows, columns=["user_id", "event", "ts"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True, format="mixed")
    for k, v in extra.items():
        df[k] = v
    return df


def users(result):
    return result["users"].tolist()


def test_basic_conversion_and_timings():
    e = ev(("a", "view", "2026-01-01 00:00"), ("a", "cart", "2026-01-01 00:10"), ("a", "buy", "2026-01-01 01:10"),
           ("b", "view", "2026-01-01 00:00"), ("b", "cart", "2026-01-01 00:30"),
           ("c", "view", "2026-01-01 00:00"),
           ("d", "cart", "2026-01-01 00:00"))  # never did step 1: not in the funnel
    out = funnel(e, ["view", "cart", "buy"], "1d")
    assert users(out) == [3, 2, 1]
    assert out["conversion"].tolist() == pytest.approx([1, 2 / 3, 1 / 3])
    assert out["step_conversion"].tolist() == pytest.approx([1, 2 / 3, 1 / 2])
    assert np.isnan(out.loc[0, "median_seconds_from_previous"])
    assert out.loc[1, "median_seconds_from_previous"] == (600 + 1800) / 2
    assert out.loc[2, "median_seconds_from_previous"] == 3600
    assert list(out.columns) == ["step", "event", "users", "conversion", "step_conversion",
                                 "median_seconds_from_previous"]


def test_window_is_inclusive():
    e = ev(("a", "view", "2026-01-01 00:00"), ("a", "buy", "2026-01-02 00:00"),
           ("b", "view", "2026-01-01 00:00"), ("b", "buy", "2026-01-02 00:00:01"))
    assert users(funnel(e, ["view", "buy"], "1d")) == [2, 1]
    assert users(funnel(e, ["view", "buy"], timedelta(hours=24, seconds=1))) == [2, 2]


def test_equal_times_count_in_order_but_not_backwards():
    e = ev(("a", "view", "2026-01-01 00:00"), ("a", "buy", "2026-01-01 00:00"),
           ("b", "buy", "2026-01-01 00:00"), ("b", "view", "2026-01-01 00:01"))
    assert users(funnel(e, ["view", "buy"], "1h")) == [2, 1]


def test_a_later_attempt_can_go_further():
    # The first view runs out of window; the second view converts. An implementation
    # anchored at each user's first step-1 event would miss this user.
    e = ev(("a", "view", "2026-01-01"), ("a", "view", "2026-01-10"), ("a", "buy", "2026-01-11"))
    out = funnel_users(e, ["view", "buy"], "2d")
    assert out["level"].tolist() == [2]
    assert out["t1"].item() == pd.Timestamp("2026-01-10", tz="UTC")


def test_counted_attempt_is_the_earliest_reaching_the_furthest_step():
    e = ev(("a", "view", "2026-01-01 00:00"), ("a", "view", "2026-01-01 05:00"), ("a", "buy", "2026-01-01 06:00"))
    out = funnel(e, ["view", "buy"], "1d")
    assert out.loc[1, "median_seconds_from_previous"] == 6 * 3600


def test_repeated_consecutive_steps_need_distinct_later_rows():
    e = ev(("a", "view", "2026-01-01 00:00"), ("a", "view", "2026-01-01 00:00"),  # same instant
           ("b", "view", "2026-01-01 00:00"), ("b", "view", "2026-01-01 00:05"),
           ("c", "view", "2026-01-01 00:00"))
    assert users(funnel(e, ["view", "view"], "1h")) == [3, 1]


def test_repeated_non_consecutive_steps_do_not_reuse_a_row():
    # view, cart, view: the third step needs a second view row at or after the cart.
    e = ev(("a", "view", "2026-01-01 00:00"), ("a", "cart", "2026-01-01 00:00"),
           ("b", "view", "2026-01-01 00:00"), ("b", "view", "2026-01-01 00:00"), ("b", "cart", "2026-01-01 00:00"),
           ("c", "view", "2026-01-01 00:00"), ("c", "cart", "2026-01-01 00:01"), ("c", "view", "2026-01-01 00:02"))
    out = funnel_users(e, ["view", "cart", "view"], "1h").set_index("user_id")["level"]
    assert out.to_dict() == {"a": 2, "b": 3, "c": 3}


def test_other_events_in_between_are_allowed():
    e = ev(("a", "view", "2026-01-01 00:00"), ("a", "search", "2026-01-01 00:01"), ("a", "buy", "2026-01-01 00:02"))
    assert users(funnel(e, ["view", "buy"], "1h")) == [1, 1]


def test_steps_nobody_did_give_zeros_and_empty_input_gives_zeros():
    e = ev(("a", "view", "2026-01-01"))
    out = funnel(e, ["view", "teleport", "buy"], "1d")
    assert users(out) == [1, 0, 0]
    assert out["conversion"].tolist()[1:] == [0.0, 0.0]
    empty = funnel(ev(), ["view", "buy"], "1d")
    assert users(empty) == [0, 0]
    assert empty["conversion"].isna().all()


def test_breakdown_is_first_touch_on_step_one():
    e = ev(("a", "view", "2026-01-01 00:00"), ("a", "view", "2026-01-02 00:00"), ("a", "buy", "2026-01-02 00:01"),
           ("b", "view", "2026-01-01 00:00"),
           country=["FR", "DE", "DE", "DE"])
    out = funnel(e, ["view", "buy"], "1h", breakdown="country")
    got = out.set_index(["breakdown", "step"])["users"].to_dict()
    assert got == {("DE", 1): 1, ("DE", 2): 0, ("FR", 1): 1, ("FR", 2): 1}


def test_breakdown_by_properties_key():
    e = ev(("a", "view", "2026-01-01"), ("b", "view", "2026-01-01"), ("c", "view", "2026-01-01"),
           properties=['{"plan": "pro"}', '{"plan": "free"}', None])
    out = funnel(e, ["view", "buy"], "1d", breakdown="plan")
    step1 = out[out.step == 1].set_index("breakdown")["users"]
    assert step1.to_dict() == {"free": 1, "pro": 1, None: 1} or step1.to_dict() == {"free": 1, "pro": 1, np.nan: 1}
    same = funnel(e, ["view", "buy"], "1d", breakdown="properties.plan")
    pd.testing.assert_frame_equal(out, same)


def test_every_input_kind_gives_the_same_answer(tmp_path):
    e = ev(("a", "view", "2026-01-01 00:00"), ("a", "buy", "2026-01-01 00:30"), ("b", "view", "2026-01-01 00:00"))
    want = funnel(e, ["view", "buy"], "1h")
    path = tmp_path / "e.parquet"
    e.to_parquet(path)
    con = duckdb.connect()
    for source in (pa.Table.from_pandas(e), con.from_df(e), str(path), path):
        pd.testing.assert_frame_equal(funnel(source, ["view", "buy"], "1h"), want)
    renamed = e.rename(columns={"user_id": "uid", "event": "name", "ts": "at"})
    pd.testing.assert_frame_equal(funnel(renamed, ["view", "buy"], "1h", user_col="uid", event_col="name",
                                         ts_col="at"), want)
    assert len(e) == 3 and list(e.columns) == ["user_id", "event", "ts"]  # input untouched


@pytest.mark.parametrize("steps,window,match", [
    (["view"], "1d", "2 to 20 steps"),
    ([f"s{i}" for i in range(21)], "1d", "2 to 20 steps"),
    ("view", "1d", "list of event names"),
    (["view", ""], "1d", "non-empty event name"),
    (["view", "buy"], "0d", "must be positive"),
    (["view", "buy"], timedelta(seconds=-5), "must be positive"),
    (["view", "buy"], "seven days", "not understood"),
])
def test_bad_arguments_raise_typed_errors(steps, window, match):
    with pytest.raises(InvalidInputError, match=match):
        funnel(ev(("a", "view", "2026-01-01")), steps, window)


def test_missing_columns_are_named():
    with pytest.raises(MissingColumnsError, match="'ts'"):
        funnel(pd.DataFrame({"user_id": ["a"], "event": ["view"]}), ["view", "buy"], "1d")
    with pytest.raises(InvalidInputError, match="breakdown 'plan'"):
        funnel(ev(("a", "view", "2026-01-01")), ["view", "buy"], "1d", breakdown="plan")


def test_walk_in_threads_equals_one_walk():
    from workbench.analytics._funnel_kernel import walk, walk_threads

    rng = np.random.default_rng(5)
    sizes = np.concatenate([rng.integers(1, 30, 40_000), [500]])  # one user big enough for the merge sort
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    codes = rng.integers(0, 3, starts[-1]).astype(np.uint8)
    times = rng.integers(0, 50, starts[-1]).astype(np.int64)  # not in time order: the walk sorts each user
    rest = (np.array([0, 1, 2, 1], np.int64), np.array([False, False, False, False]),
            np.array([-1, -1, -1, 1], np.int64), 20, 3)
    one = walk(starts, codes.copy(), times.copy(), np.arange(starts[-1]), *rest)
    for threads in (2, 3):
        got = walk_threads(starts, codes.copy(), times.copy(), np.arange(starts[-1]), *rest, threads=threads)
        for a, b in zip(one, got):
            np.testing.assert_array_equal(a, b)
    # and the same levels as the DuckDB-facing function on the same rows
    frame = pd.DataFrame({"user_id": np.repeat(np.arange(len(sizes)), sizes).astype(str),
                          "event": np.array(["a", "b", "c"])[codes],
                          "ts": pd.Timestamp("2026-01-01") + pd.to_timedelta(times, unit="us")})
    users = funnel_users(frame, ["a", "b", "c", "b"], timedelta(microseconds=20))
    keep = one[0]
    assert sorted(users["level"]) == sorted(one[1][keep])


def test_user_ids_that_are_not_strings_or_integers():
    events = pd.DataFrame({"user_id": [1.5, 1.5, 2.5], "event": ["a", "b", "a"],
                           "ts": pd.to_datetime(["2026-01-01 00:00", "2026-01-01 00:05", "2026-01-01 00:01"])})
    assert funnel(events, ["a", "b"], "1h")["users"].tolist() == [2, 1]


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint64"])
def test_integer_ids_give_the_same_funnel_as_the_same_ids_as_strings(dtype):
    rng = np.random.default_rng(11)
    n = 20_000
    ids = rng.integers(0, 2_000, n)
    if dtype == "int64":
        ids = ids * 4_611_686_018_427 - 2**62  # negative and large ids
    frame = pd.DataFrame({"user_id": ids.astype(dtype), "event": rng.choice(["a", "b", "c"], n),
                          "ts": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 10**9, n), unit="ms")})
    as_text = frame.assign(user_id=frame["user_id"].astype(str))
    steps = ["a", "b", "a", "c"]
    got, want = funnel_users(frame, steps, "2d"), funnel_users(as_text, steps, "2d")
    assert dict(zip(got["user_id"].astype(str), got["level"])) == dict(zip(want["user_id"], want["level"]))
    assert funnel(frame, steps, "2d").equals(funnel(as_text, steps, "2d"))
