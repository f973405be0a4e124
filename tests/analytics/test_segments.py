import pandas as pd
import pytest

from workbench.analytics import segment_users
from workbench.analytics.segments import filter_events
from workbench.errors import InvalidInputError

EV = pd.DataFrame({
    "user_id": ["a", "a", "b", "b", "b", "c"],
    "event": ["purchase", "purchase", "purchase", "view", "view", "view"],
    "ts": pd.to_datetime(["2026-01-01", "2026-01-25", "2026-01-20", "2026-01-21", "2026-01-30", "2026-01-30"]),
    "revenue": [150.0, 20.0, 50.0, None, None, None],
    "properties": ['{"country": "FR", "plan": "pro"}', None, '{"country": "DE"}', None, None, '{"country": "FR"}'],
})


def members(spec, **kw):
    return segment_users(EV, spec, **kw)["user_id"].tolist()


def test_property_conditions():
    assert members([{"kind": "property", "field": "country", "value": "FR"}]) == ["a", "c"]
    assert members([{"kind": "property", "field": "country", "op": "in", "value": ["DE", "GB"]}]) == ["b"]
    assert members([{"kind": "property", "field": "revenue", "op": ">", "value": 100}]) == ["a"]
    assert members([{"kind": "property", "field": "country", "op": "!=", "value": "FR"}]) == ["b"]
    assert members([{"kind": "property", "field": "country", "value": "FR", "event": "view"}]) == ["c"]


def test_behavioural_conditions_count_within_the_window_up_to_as_of():
    # as_of defaults to the last event (Jan 30): the last 10 days are (Jan 20, Jan 30]
    assert members([{"kind": "behaviour", "event": "purchase", "count": 1, "within_days": 10}]) == ["a"]
    assert members([{"kind": "behaviour", "event": "purchase", "count": 2}]) == ["a"]
    assert members([{"kind": "behaviour", "event": "purchase", "op": "==", "count": 0}]) == ["c"]
    # as of Jan 21, the last 21 days are (Dec 31, Jan 21]: a bought on Jan 1, b on Jan 20
    assert members([{"kind": "behaviour", "event": "purchase", "count": 1, "within_days": 21}],
                   as_of="2026-01-21") == ["a", "b"]
    assert members([{"kind": "behaviour", "event": "purchase", "count": 1, "within_days": 5}],
                   as_of="2026-01-21") == ["b"]


def test_all_and_any():
    fr = {"kind": "property", "field": "country", "value": "FR"}
    buyer = {"kind": "behaviour", "event": "purchase", "count": 1}
    assert members({"conditions": [fr, buyer], "match": "all"}) == ["a"]
    assert members({"conditions": [fr, buyer], "match": "any"}) == ["a", "b", "c"]


def test_filter_events_keeps_members_rows_only():
    import duckdb
    rel = duckdb.connect().from_df(EV)
    got = filter_events(rel, [{"kind": "property", "field": "country", "value": "DE"}]).df()
    assert set(got["user_id"]) == {"b"} and len(got) == 3


@pytest.mark.parametrize("spec,match", [
    ([], "at least 1 item"),
    ([{"kind": "magic"}], "does not match any of the expected tags"),
    ([{"kind": "behaviour", "event": "x", "count": -1}], "count"),
    ([{"kind": "property", "field": "country", "op": "in", "value": "FR"}], "need a list"),
    ([{"kind": "property", "field": "country", "op": "~", "value": "FR"}], "op"),
])
def test_bad_definitions_name_the_problem(spec, match):
    with pytest.raises(InvalidInputError, match=match):
        segment_users(EV, spec)
