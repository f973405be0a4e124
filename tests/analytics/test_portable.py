"""The portable (Ibis) path returns exactly what the DuckDB fast path returns.

On DuckDB through Ibis: many random logs (hypothesis). On PySpark in local[2] mode: a
fixture log of a few thousand events, every funnel and retention variant, daily metrics
and segments (slow-marked; CI runs it and fails when Spark cannot start).
"""
from __future__ import annotations

import importlib.util
import json
import shutil
from datetime import datetime, timedelta

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.analytics import daily_metrics, funnel, funnel_dropoff, funnel_users, retention
from workbench.analytics.segments import filter_events, segment_users
from workbench.datasets import generate_events
from workbench.errors import InvalidInputError, MissingColumnsError

from ..conftest import IN_CI

T0 = datetime(2026, 1, 1)
names = st.sampled_from(["a", "b", "c"])
rows_st = st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3"]), names, st.integers(0, 12),
                             st.sampled_from(["x", "y", None])), max_size=14)


def _frame(rows):
    return pd.DataFrame({"user_id": [r[0] for r in rows], "event": [r[1] for r in rows],
                         "ts": pd.to_datetime([T0 + timedelta(minutes=r[2]) for r in rows]).tz_localize("UTC"),
                         "plan": [r[3] for r in rows]})


def _ibis_duckdb(frame: pd.DataFrame):
    con = ibis.duckdb.connect()
    con.con.register("events", frame)
    return con.table("events")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_st, steps=st.lists(names, min_size=2, max_size=4), window=st.integers(1, 8),
       breakdown=st.sampled_from([None, "plan"]))
def test_funnel_portable_equals_fast_path(rows, steps, window, breakdown):
    frame = _frame(rows)
    table = _ibis_duckdb(frame)
    w = timedelta(minutes=window)
    pd.testing.assert_frame_equal(funnel(table, steps, w, breakdown=breakdown),
                                  funnel(frame, steps, w, breakdown=breakdown))
    pd.testing.assert_frame_equal(funnel_users(table, steps, w, breakdown=breakdown),
                                  funnel_users(frame, steps, w, breakdown=breakdown))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3", "u4"]), st.sampled_from(["s", "r"]),
                               st.integers(-40, 70)), min_size=1, max_size=20),
       period=st.sampled_from(["day", "week", "month"]), mode=st.sampled_from(["on", "on_or_after"]),
       start=st.sampled_from([None, "s"]), ret=st.sampled_from([None, "r"]))
def test_retention_portable_equals_fast_path(rows, period, mode, start, ret):
    # days before 1970 too: floor division and calendar months must hold for negative times
    base = pd.Timestamp("1970-01-20", tz="UTC") if rows[0][2] < 0 else pd.Timestamp(T0, tz="UTC")
    frame = pd.DataFrame({"user_id": [r[0] for r in rows], "event": [r[1] for r in rows],
                          "ts": [base + pd.Timedelta(days=r[2], hours=5) for r in rows]})
    kwargs = dict(period=period, periods=4, mode=mode, start_event=start, return_event=ret)
    pd.testing.assert_frame_equal(retention(_ibis_duckdb(frame), **kwargs), retention(frame, **kwargs))


metric_rows = st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3", None]),
                                 st.sampled_from(["purchase", "session_start", "signup", "view"]),
                                 st.integers(-3 * 1440, 3 * 1440), st.sampled_from([None, 0.5, 12.25])),
                       min_size=1, max_size=25)


def _metric_frame(rows, with_revenue: bool) -> pd.DataFrame:
    frame = pd.DataFrame({"user_id": [r[0] for r in rows], "event": [r[1] for r in rows],
                          "ts": pd.to_datetime([datetime(1970, 1, 1) + timedelta(minutes=r[2]) for r in rows])})
    return frame.assign(revenue=[r[3] for r in rows]) if with_revenue else frame


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=metric_rows, with_revenue=st.booleans())
def test_daily_metrics_portable_equals_fast_path(rows, with_revenue):
    """Days either side of 1970, users missing on some rows, revenue missing or absent."""
    frame = _metric_frame(rows, with_revenue)
    pd.testing.assert_frame_equal(daily_metrics(_ibis_duckdb(frame)), daily_metrics(frame))


segment_log = st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3", "u4"]), st.sampled_from(["view", "purchase"]),
                                 st.integers(0, 20), st.sampled_from(["FR", "DE", None]), st.integers(0, 5),
                                 st.sampled_from([None, 5.0, 50.0])), min_size=1, max_size=25)
property_condition = st.one_of(
    st.builds(lambda op, v, ev: {"kind": "property", "field": "country", "op": op, "value": v, "event": ev},
              st.sampled_from(["==", "!=", ">", "<="]), st.sampled_from(["FR", "DE"]), st.sampled_from([None, "view"])),
    st.builds(lambda op, v: {"kind": "property", "field": "country", "op": op, "value": v},
              st.sampled_from(["in", "not in"]), st.sampled_from([["FR"], ["FR", "DE"]])),
    st.builds(lambda v: {"kind": "property", "field": "country", "op": "contains", "value": v},
              st.sampled_from(["R", "E", "X"])),
    st.builds(lambda op, v: {"kind": "property", "field": "n", "op": op, "value": v},
              st.sampled_from(["==", ">", "<", "in"]), st.sampled_from([2, 3.5, [1, 4]])).filter(
        lambda c: (c["op"] == "in") == isinstance(c["value"], list)),
    st.builds(lambda op, v: {"kind": "property", "field": "revenue", "op": op, "value": v},
              st.sampled_from([">", ">=", "=="]), st.sampled_from([5, 50.0])),
)
behaviour_condition = st.builds(
    lambda ev, op, count, days: {"kind": "behaviour", "event": ev, "op": op, "count": count, "within_days": days},
    st.sampled_from(["view", "purchase"]), st.sampled_from(["==", "!=", ">=", "<"]), st.integers(0, 3),
    st.sampled_from([None, 1, 5]))


def _segment_frame(rows) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [r[0] for r in rows], "event": [r[1] for r in rows],
                         "ts": pd.to_datetime([T0 + timedelta(days=r[2], hours=r[2]) for r in rows]),
                         "properties": [json.dumps({"country": r[3], "n": r[4]}) for r in rows],
                         "revenue": [r[5] for r in rows]})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=segment_log, conditions=st.lists(st.one_of(property_condition, behaviour_condition), min_size=1,
                                             max_size=3),
       match=st.sampled_from(["all", "any"]), as_of=st.sampled_from([None, T0 + timedelta(days=6)]))
def test_segments_portable_equal_fast_path(rows, conditions, match, as_of):
    frame = _segment_frame(rows)
    spec = {"conditions": conditions, "match": match}
    table = _ibis_duckdb(frame)
    want = segment_users(frame, spec, as_of=as_of)
    pd.testing.assert_frame_equal(segment_users(table, spec, as_of=as_of), want)
    kept = filter_events(table, spec, as_of=as_of).execute()
    assert sorted(kept["user_id"].unique()) == sorted(want["user_id"])
    assert len(kept) == frame["user_id"].isin(want["user_id"]).sum()


def test_memtable_runs_on_ibis_default_backend():
    frame = _frame([("u1", "a", 0, "x"), ("u1", "b", 3, "x"), ("u2", "a", 1, None)])
    got = funnel(ibis.memtable(frame), ["a", "b"], "1h")
    assert got["users"].tolist() == [2, 1]


def test_portable_bad_input():
    frame = _frame([("u1", "a", 0, "x")])
    with pytest.raises(MissingColumnsError, match="missing"):
        funnel(_ibis_duckdb(frame.drop(columns="ts")), ["a", "b"], "1h")
    with pytest.raises(InvalidInputError, match="must be a timestamp"):
        funnel(_ibis_duckdb(frame.assign(ts="2026-01-01")), ["a", "b"], "1h")
    with pytest.raises(InvalidInputError, match="not bound to a backend"):
        funnel(ibis.table({"user_id": "string", "event": "string", "ts": "timestamp"}, name="t"), ["a", "b"], "1h")
    with pytest.raises(InvalidInputError, match="neither a column"):
        funnel(_ibis_duckdb(frame.drop(columns="plan")), ["a", "b"], "1h", breakdown="plan")
    with pytest.raises(InvalidInputError, match="2 to 20 steps"):
        funnel(_ibis_duckdb(frame), ["a"], "1h")


def test_brand_events_table_runs_portable(ws):
    data = generate_events(brands=1, users=300, days=30, seed=3)
    brand = data.events["brand"].iloc[0]
    acme = ws.brand(brand)
    acme.ingest(data.events)
    steps = ["view", "add_to_cart", "purchase"]
    pd.testing.assert_frame_equal(funnel(acme.events_table(), steps, "7d", breakdown="country"),
                                  acme.funnel(steps, "7d", breakdown="country"))
    acme.segments.create("fr_buyers", conditions=[{"kind": "property", "field": "country", "value": "FR"},
                                                  {"kind": "behaviour", "event": "purchase", "count": 1}])
    fr = acme.events_table(segment="fr_buyers")
    assert 0 < fr.user_id.nunique().execute() < acme.events_table().user_id.nunique().execute()
    pd.testing.assert_frame_equal(funnel(fr, steps, "7d"), acme.funnel(steps, "7d", segment="fr_buyers"))
    pd.testing.assert_frame_equal(daily_metrics(fr), acme.daily_metrics(segment="fr_buyers"))


# ----------------------------------------------------------------------------- Spark

def _spark_unavailable() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'workbench[spark]')"
    if shutil.which("java") is None:
        return "no Java runtime for Spark"
    return None


@pytest.fixture(scope="module")
def spark_con():
    reason = _spark_unavailable()
    if reason:
        if IN_CI:
            pytest.fail(reason + " (CI=true: the Spark test must run)")
        pytest.skip(reason)
    from workbench.spark import connect, local_session

    spark = local_session(2)
    yield connect(spark)
    spark.stop()


@pytest.fixture(scope="module")
def fixture_log():
    data = generate_events(brands=2, users=400, days=70, seed=11)
    return data.events


@pytest.mark.slow
def test_pyspark_equals_duckdb(spark_con, fixture_log):
    from pyspark.sql import functions as F

    events = fixture_log
    # a missing revenue is NaN in pandas; Spark would keep it as NaN, Parquet stores NULL
    frame = spark_con._session.createDataFrame(events)
    frame = frame.withColumn("revenue", F.when(F.isnan("revenue"), None).otherwise(F.col("revenue")))
    frame.createOrReplaceTempView("wb_events")
    table = spark_con.table("wb_events")
    steps = ["view", "add_to_cart", "checkout", "purchase"]
    for breakdown in (None, "brand", "properties.country"):
        pd.testing.assert_frame_equal(funnel(table, steps, "7d", breakdown=breakdown),
                                      funnel(events, steps, "7d", breakdown=breakdown))
    repeated = ["view", "add_to_cart", "view", "purchase"]  # a repeated step uses row numbers
    pd.testing.assert_frame_equal(funnel_users(table, repeated, "2d"), funnel_users(events, repeated, "2d"))
    pd.testing.assert_frame_equal(funnel_dropoff(table, steps, "7d"), funnel_dropoff(events, steps, "7d"))
    for period in ("week", "month"):
        for mode in ("on", "on_or_after"):
            kwargs = dict(period=period, periods=6, mode=mode)
            pd.testing.assert_frame_equal(retention(table, **kwargs), retention(events, **kwargs))
    kwargs = dict(period="day", periods=10, start_event="signup", return_event="purchase")
    pd.testing.assert_frame_equal(retention(table, **kwargs), retention(events, **kwargs))
    # daily metrics: counts exact; revenue summed in another order, so to the last few bits
    pd.testing.assert_frame_equal(daily_metrics(table), daily_metrics(events), check_exact=False, rtol=1e-12)
    # segments: property (column, JSON key, numeric) and behavioural conditions, all / any
    fr_buyers = {"conditions": [{"kind": "property", "field": "country", "value": "FR"},
                                {"kind": "behaviour", "event": "purchase", "op": ">=", "count": 2,
                                 "within_days": 30}]}
    for spec in (fr_buyers, {**fr_buyers, "match": "any"},
                 [{"kind": "property", "field": "revenue", "op": ">", "value": 40},
                  {"kind": "property", "field": "device", "op": "in", "value": ["mobile"], "event": "view"}]):
        want = segment_users(events, spec)
        assert 0 < len(want) < events["user_id"].nunique()
        pd.testing.assert_frame_equal(segment_users(table, spec), want)
    members = filter_events(table, fr_buyers)
    pd.testing.assert_frame_equal(funnel(members, steps, "7d"),
                                  funnel(events[events["user_id"].isin(segment_users(events, fr_buyers)["user_id"])],
                                         steps, "7d"))



def test_spark_connect_refuses_a_non_utc_session():
    pytest.importorskip("pyspark")
    from workbench.spark import connect

    class Conf:
        @staticmethod
        def get(key):
            return "Europe/Berlin"

    class Session:
        conf = Conf()

    with pytest.raises(InvalidInputError, match="spark.sql.session.timeZone=UTC"):
        connect(Session())


def test_events_table_of_a_brand_without_events(ws):
    from workbench.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no events yet"):
        ws.brand("empty").events_table()


def test_segment_on_a_properties_key_without_a_properties_column_matches_nobody_on_both_paths():
    frame = _metric_frame([("u1", "view", 0, None), ("u2", "purchase", 5, 3.0)], with_revenue=True)
    spec = [{"kind": "property", "field": "country", "value": "FR"}]
    want = segment_users(frame, spec)
    assert want.empty
    pd.testing.assert_frame_equal(segment_users(_ibis_duckdb(frame), spec), want, check_dtype=False)
