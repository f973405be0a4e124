"""Validation details: extra columns folded into properties (against a Python reference), non-finite
numbers in properties, and the two CSV readers agreeing on what a file says."""
import json
import string
from datetime import datetime, timezone

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.events import validate_events
from workbench.events.sources import open_source

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
KEYS = ["country", "plan", 'say "hi"', "naïve", "back\\slash"]
TEXT = st.text(alphabet=string.ascii_letters + ' "\\é\n,{}:', max_size=6)
VALUE = st.one_of(st.none(), TEXT, st.integers(-5, 5), st.booleans(), st.lists(st.integers(0, 3), max_size=2))


def _reference(extras: dict, props: dict | None) -> dict | None:
    """What the stored properties must be: non-null extras, then the object's own keys (which win)."""
    folded = {k: v for k, v in extras.items() if v is not None}
    if props is None:
        return folded or None
    return {**folded, **props}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extra_names=st.lists(st.sampled_from(KEYS), unique=True, max_size=3),
       rows=st.lists(st.tuples(st.dictionaries(st.sampled_from(KEYS), TEXT | st.none(), max_size=3),
                               st.one_of(st.none(), st.dictionaries(st.sampled_from(KEYS + ["x"]), VALUE, max_size=3)),
                               st.booleans()),
                     min_size=1, max_size=8))
def test_extra_columns_fold_into_properties_as_a_dict_merge_would(extra_names, rows):
    frame = pd.DataFrame({
        "event_id": [f"e{i}" if with_id else None for i, (_, _, with_id) in enumerate(rows)],
        "user_id": "u", "event": "view", "ts": "2026-01-01T00:00:00Z",
        "properties": [None if p is None else json.dumps(p) for _, p, _ in rows],
        **{name: [values.get(name) for values, _, _ in rows] for name in extra_names},
    })
    out = validate_events(frame, "acme", now=NOW)
    assert out.bad.empty
    for (values, props, _), stored in zip(rows, out.good["properties"]):
        expected = _reference({n: values.get(n) for n in extra_names}, props)
        assert (None if stored is None else json.loads(stored)) == expected
        if stored is not None:  # compact JSON
            assert stored == json.dumps(json.loads(stored), separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": nan}', '{"a": -Infinity}', '{"a": inf}', '{"a": -INF}',
                                  '{"a": 1e999}', '{"b": [1, NaN]}', '{"c": {"d": Infinity}}'])
def test_properties_holding_non_finite_numbers_are_rejected(text):
    frame = pd.DataFrame({"user_id": ["u"], "event": ["view"], "ts": ["2026-01-01"], "properties": [text]})
    out = validate_events(frame, "acme", now=NOW)
    assert out.good.empty
    assert out.bad["reason"].tolist() == ["properties holds a non-finite number"]


@pytest.mark.parametrize("text", ['{"topic": "finance info"}', '{"a": "NaN"}', '{"a": 1e99}', '{"inf": 1}',
                                  '{"n":[1,"nan"]}'])
def test_words_and_strings_that_look_non_finite_are_kept(text):
    frame = pd.DataFrame({"user_id": ["u"], "event": ["view"], "ts": ["2026-01-01"], "properties": [text]})
    out = validate_events(frame, "acme", now=NOW)
    assert out.bad.empty and json.loads(out.good["properties"].item()) == json.loads(text)


CSV_FILES = {
    "plain": 'user_id,event,ts,note\nu1,view,2026-01-01,"a, b"\nu2,view,2026-01-02,\n',
    "quoted empties and spaces": 'user_id,event,ts,note\n"",view,2026-01-01,"  "\n u3 ,view, 2026-01-02 ,""\n',
    "doubled quotes": 'user_id,event,ts,note\nu1,view,2026-01-01,"say ""hi"""\n',
    "semicolons": 'user_id;event;ts;amount\nu1;view;2026-01-01;1,5\nu2;buy;2026-01-02;2,5\n',
    "tabs": 'user_id\tevent\tts\nu1\tview\t2026-01-01\n',
    "line break in a quoted value": 'user_id,event,ts,note\nu1,view,2026-01-01,"two\nlines"\nu2,view,2026-01-02,x\n',
    "a short line": 'user_id,event,ts,note\nu1,view,2026-01-01,x\nu2,view\nu3,view,2026-01-03,y\n',
    "backslash escapes": 'user_id,event,ts,note\nu1,view,2026-01-01,"say \\"hi\\""\n',
}


@pytest.mark.parametrize("name", list(CSV_FILES))
def test_both_csv_readers_read_a_file_alike(tmp_path, name):
    """Small plain CSV files are read by pyarrow, the rest by DuckDB: whichever reads a file, the
    rows are DuckDB's reading of it (and lines only DuckDB can place go to DuckDB)."""
    path = tmp_path / f"{name.replace(' ', '_')}.csv"
    path.write_text(CSV_FILES[name])
    con = duckdb.connect()
    opened = open_source(con, path)
    got = opened.relation.fetchall()
    duck = duckdb.connect().sql(f"SELECT * FROM read_csv('{path}', all_varchar = true, header = true, "
                                "store_rejects = true)")
    assert opened.relation.columns == duck.columns
    assert got == duck.fetchall()
    if name == "a short line":
        assert opened.csv_rejects, "DuckDB's reader must read this file (line numbers for the quarantine)"


def test_line_breaks_in_quoted_values_across_read_blocks(tmp_path):
    """pyarrow splits a file into blocks at line breaks without looking at quotes: a quoted value
    spanning a block boundary must not come out as different rows (here 4 MB, values with line
    breaks every few rows)."""
    path = tmp_path / "notes.csv"
    lines = ["user_id,event,ts,note"]
    for i in range(120_000):
        note = f'"line one\nline two {i}"' if i % 7 == 0 else f"plain {i}"
        lines.append(f"u{i},view,2026-01-01T00:00:{i % 60:02d}Z,{note}")
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 4 << 20
    opened = open_source(duckdb.connect(), path)
    duck = duckdb.connect().sql(f"SELECT * FROM read_csv('{path}', all_varchar = true, header = true)")
    assert opened.relation.fetchall() == duck.fetchall()


def test_a_compressed_csv_streams_through_duckdb(tmp_path):
    """A .gz file may hold many times its size: it is never read into memory whole by pyarrow."""
    import gzip
    path = tmp_path / "events.csv.gz"
    path.write_bytes(gzip.compress(CSV_FILES["plain"].encode()))
    opened = open_source(duckdb.connect(), path)
    assert opened.csv_rejects
    assert opened.relation.fetchall() == [("u1", "view", "2026-01-01", "a, b"), ("u2", "view", "2026-01-02", None)]


def _staged(frame: pd.DataFrame, in_memory: bool):
    from workbench.events.staged import STAGED
    from workbench.events.validation import stage
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    staged = stage(con, open_source(con, frame).relation, "acme", latest=NOW, in_memory=in_memory)
    rows = con.sql(f"SELECT * EXCLUDE (__wb_row) FROM {STAGED} ORDER BY __wb_row").df()
    return staged, rows


def test_repeats_are_told_apart_from_distinct_keys_by_the_hash_sort():
    base = pd.DataFrame({"event_id": ["a", "b", "c"], "user_id": "u", "event": "view",
                         "ts": ["2026-01-01", "2026-01-01", "2026-01-02"]})
    assert not _staged(base, True)[0].may_repeat()
    assert _staged(base.assign(event_id=["a", "b", "a"], ts="2026-01-01"), True)[0].may_repeat()
    # the same id on another day is another event; a rejected row's id does not count
    assert not _staged(base.assign(event_id=["a", "b", "a"]), True)[0].may_repeat()
    assert not _staged(base.assign(event_id=["a", "a", "c"], user_id=["u", None, "u"]), True)[0].may_repeat()
    # derived ids: identical rows repeat
    assert _staged(base.drop(columns="event_id").assign(ts="2026-01-01"), True)[0].may_repeat()
    # a batch held by DuckDB always asks the exact aggregate
    assert _staged(base, False)[0].may_repeat()


def test_a_batch_held_in_arrow_stages_like_one_held_by_duckdb():
    """Every kind of row, including those the Python fallbacks fix (odd timestamps, NaN in
    properties), which move an Arrow-held batch into DuckDB."""
    frame = pd.DataFrame({
        "user_id": ["u1", "u2", None, "u4", "u5", "u6"],
        "event": ["view", "buy", "view", "view", "view", "view"],
        "ts": ["2026-01-01T10:00:00Z", "Jan 3 2026 10:00", "2026-01-01", "2026-01-01", "not a time", "2026-01-02"],
        "revenue": [None, "12.5", None, "ten", None, None],
        "properties": ['{"a": 1}', None, None, '{"b": NaN}', None, '{"c": [1, 2]}'],
        "country": ["FR", None, "DE", "FR", None, "US"],
    })
    plain = pd.DataFrame({"user_id": ["u1", "u2"], "event": ["view", "view"], "ts": ["2026-01-01", "2026-01-02"]})
    for source in (frame, plain):
        held, rows = _staged(source, True)
        kept, expected = _staged(source, False)
        assert held.rows == kept.rows == len(source)
        pd.testing.assert_frame_equal(rows, expected)
    held, rows = _staged(frame, True)
    assert held.arrow is None  # fixed by the fallbacks: now in DuckDB
    assert rows["ts"][1] == pd.Timestamp("2026-01-03T10:00:00Z") and rows["day"][1] == pd.Timestamp("2026-01-03")
    assert rows["__wb_reason"].tolist() == [None, None, "missing user_id", "revenue is not a finite number; properties "
                                            "holds a non-finite number", "unparseable ts", None]
    assert _staged(plain, True)[0].arrow is not None
