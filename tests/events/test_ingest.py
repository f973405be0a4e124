"""Ingest: bad rows kept with reasons, idempotent re-ingest, every source format."""
import json

import pandas as pd
import pyarrow as pa
import pytest

from workbench.errors import NotFoundError, InvalidInputError
from workbench.events import store as store_module


@pytest.fixture(params=["arrow", "duckdb"])
def staging(request, monkeypatch):
    """The test runs twice: with the batch staged in Arrow (as sources held in memory are) and in
    a DuckDB table (as files too large to hold are)."""
    if request.param == "duckdb":
        real = store_module.stage
        monkeypatch.setattr(store_module, "stage", lambda *a, **k: real(*a, **{**k, "in_memory": False}))
    return request.param


def _raw() -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": ["u1", "u2", None, "u4", "u5", "u6", "u7", "u8", ""],
        "event": ["view", "view", "view", None, "view", "view", "purchase", "view", "view"],
        "ts": ["2026-01-01T10:00:00Z", "2026-01-01 11:00", "2026-01-01", "2026-01-01", "not a time",
               "2099-01-01", "2026-01-02T09:30:00+02:00", "2026-01-03", "2026-01-03"],
        "revenue": [None, None, None, None, None, None, "12.5", "ten", None],
        "properties": ['{"country": "FR"}', None, None, None, None, None, None, "[1, 2]", None],
    })


def test_bad_rows_are_quarantined_with_reasons_and_counted(ws, staging):
    acme = ws.brand("acme")
    report = acme.ingest(_raw())
    assert (report.accepted, report.duplicates, report.rejected) == (3, 0, 6)
    bad = pd.read_csv(report.quarantine_path)
    assert len(bad) == 6
    reasons = dict(zip(bad["user_id"].fillna("<missing>"), bad["reason"]))
    assert reasons["<missing>"] in ("missing user_id",)
    assert reasons["u4"] == "missing event"
    assert reasons["u5"] == "unparseable ts"
    assert reasons["u6"] == "ts is in the future"
    assert reasons["u8"] == "revenue is not a finite number; properties is not a JSON object"
    # the original text is kept as it was
    assert bad.loc[bad["user_id"] == "u8", "revenue"].item() == "ten"
    stored = acme.events().df().sort_values("user_id")
    assert stored["user_id"].tolist() == ["u1", "u2", "u7"]
    # timestamps are normalised to UTC
    assert stored.loc[stored.user_id == "u7", "ts"].item() == pd.Timestamp("2026-01-02T07:30:00Z")
    assert stored.loc[stored.user_id == "u7", "revenue"].item() == 12.5
    assert json.loads(stored.loc[stored.user_id == "u1", "properties"].item()) == {"country": "FR"}


def test_reingesting_the_same_rows_adds_nothing(ws, staging, tmp_path):
    acme = ws.brand("acme")
    path = tmp_path / "events.csv"
    _raw().to_csv(path, index=False)
    first = acme.ingest(path)
    second = acme.ingest(path)
    assert first.accepted == 3
    assert (second.accepted, second.duplicates, second.rejected) == (0, 3, 6)
    assert acme.events().count("*").fetchall()[0][0] == 3


def test_explicit_event_ids_deduplicate_within_and_across_sources(ws, staging):
    acme = ws.brand("acme")
    rows = pd.DataFrame({"event_id": ["a", "b", "a"], "user_id": ["u", "u", "v"], "event": ["x"] * 3,
                         "ts": ["2026-01-01"] * 3})
    r1 = acme.ingest(rows)
    assert (r1.accepted, r1.duplicates) == (2, 1)
    r2 = acme.ingest(rows.assign(user_id="w"))
    assert (r2.accepted, r2.duplicates) == (0, 3)
    stored = acme.events().df()
    assert sorted(stored["event_id"]) == ["a", "b"]
    assert stored.set_index("event_id").loc["a", "user_id"] == "u"  # first occurrence wins


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl", "arrow"])
def test_every_source_format(ws, staging, tmp_path, fmt):
    frame = pd.DataFrame({"user_id": ["1", "2"], "event": ["view", "purchase"],
                          "ts": ["2026-02-01T00:00:00Z", "2026-02-01T00:05:00Z"], "revenue": [None, 9.99],
                          "country": ["FR", "DE"]})
    source = frame
    if fmt == "csv":
        source = tmp_path / "e.csv"
        frame.to_csv(source, index=False)
    elif fmt == "parquet":
        source = tmp_path / "e.parquet"
        frame.to_parquet(source)
    elif fmt == "jsonl":
        source = tmp_path / "e.jsonl"
        frame.to_json(source, orient="records", lines=True)
    elif fmt == "arrow":
        source = pa.Table.from_pandas(frame)
    report = ws.brand("acme").ingest(source)
    assert (report.accepted, report.rejected) == (2, 0)
    stored = ws.brand("acme").events().df().sort_values("user_id")
    # extra columns are folded into properties
    assert [json.loads(p)["country"] for p in stored["properties"]] == ["FR", "DE"]
    assert stored["revenue"].iloc[1] == pytest.approx(9.99)


def test_rows_of_another_brand_are_rejected_not_reassigned(ws):
    rows = pd.DataFrame({"brand": ["acme", "globex"], "user_id": ["u", "v"], "event": ["x", "x"],
                         "ts": ["2026-01-01", "2026-01-01"]})
    report = ws.brand("acme").ingest(rows)
    assert (report.accepted, report.rejected) == (1, 1)
    assert "does not match" in pd.read_csv(report.quarantine_path)["reason"].item()
    with pytest.raises(NotFoundError, match="no brand 'globex'; did you mean|no brand 'globex'"):
        ws.brand("globex").events()  # nothing was written for globex: it does not exist


def test_unusable_sources_raise_typed_errors(ws, tmp_path):
    acme = ws.brand("acme")
    with pytest.raises(InvalidInputError, match="lacks required column"):
        acme.ingest(pd.DataFrame({"user_id": ["u"], "ts": ["2026-01-01"]}))
    with pytest.raises(InvalidInputError, match="does not exist"):
        acme.ingest(tmp_path / "missing.csv")
    with pytest.raises(InvalidInputError, match="cannot tell the format"):
        (tmp_path / "e.xlsx").write_text("x")
        acme.ingest(tmp_path / "e.xlsx")
    with pytest.raises(InvalidInputError, match="invalid brand name"):
        ws.brand("../etc")


def test_ingest_is_recorded(ws):
    from workbench.storage.models import IngestRecord
    ws.brand("acme").ingest(_raw())
    with ws.db.session() as s:
        rec = s.query(IngestRecord).one()
        assert (rec.accepted, rec.rejected) == (3, 6)
        assert rec.quarantine_path.endswith(".csv")


def test_quarantined_rows_keep_their_own_values_in_a_large_file(ws, tmp_path):
    """The quarantine reads bad rows' original values back by position: across a file large
    enough to be read in parallel, each rejected row must come back with its own reason."""
    import numpy as np

    n = 300_000
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "event": "view",
                          "ts": "2026-03-02T10:00:00Z", "revenue": [str(i) for i in range(n)]})
    bad_ts = rng.choice(n, 40, replace=False)
    bad_rev = rng.choice(np.setdiff1d(np.arange(n), bad_ts), 40, replace=False)
    frame.loc[bad_ts, "ts"] = [f"not-a-time-{i}" for i in bad_ts]
    frame.loc[bad_rev, "revenue"] = [f"x{i}" for i in bad_rev]
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    report = ws.brand("acme").ingest(path)
    assert (report.accepted, report.rejected) == (n - 80, 80)
    bad = pd.read_csv(report.quarantine_path, dtype=str)
    for row in bad.itertuples():
        i = int(row.user_id[1:])
        if row.reason == "unparseable ts":
            assert i in bad_ts and row.ts == f"not-a-time-{i}" and row.revenue == str(i)
        else:
            assert row.reason == "revenue is not a finite number" and i in bad_rev and row.revenue == f"x{i}"
    assert bad["user_id"].tolist() == sorted(bad["user_id"].tolist(), key=lambda u: int(u[1:]))  # file order


def test_validate_events_splits_a_frame_without_a_store():
    from workbench.events import validate_events

    checked = validate_events(_raw(), "acme", now=pd.Timestamp("2026-06-01T00:00Z"))
    assert checked.good["user_id"].tolist() == ["u1", "u2", "u7"]
    assert list(checked.good.columns) == ["event_id", "brand", "user_id", "event", "ts", "revenue", "properties"]
    assert checked.bad["user_id"].fillna("<missing>").tolist() == ["<missing>", "u4", "u5", "u6", "u8", ""]
    reasons = dict(zip(checked.bad["user_id"].fillna("<missing>"), checked.bad["reason"]))
    assert reasons["u8"] == "revenue is not a finite number; properties is not a JSON object"
    assert checked.bad.loc[checked.bad["user_id"] == "u8", "revenue"].item() == "ten"
