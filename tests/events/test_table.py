"""The Delta Lake event table: versions and time travel, stored results re-run at their version,
compaction, forgetting a user, conversion of the old layout, and the duplicate check's scope."""
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

import workbench as wb
from workbench.errors import NotFoundError, PermissionDeniedError

FIXTURES = Path(__file__).parent / "fixtures"
STEPS = ["view", "add_to_cart", "purchase"]


def _rows(users, day="2026-03-02", events=("view", "add_to_cart", "purchase"), start=0):
    out = []
    for i, u in enumerate(users):
        for k, e in enumerate(events):
            out.append({"event_id": f"{u}-{e}-{start + i}", "user_id": u, "event": e,
                        "ts": f"{day}T{10 + k:02d}:{i % 60:02d}:00Z", "revenue": 9.5 if e == "purchase" else None})
    return pd.DataFrame(out)


def _data_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*.parquet") if "_delta_log" not in f.parts)


def _all_parquet_rows(folder: Path) -> pd.DataFrame:
    """Every row of every Parquet file under ``folder``, whatever version it belongs to."""
    files = _data_files(folder)
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def test_versions_time_travel_and_history(ws):
    acme = ws.brand("acme")
    first = acme.ingest(_rows(["a", "b"]))
    second = acme.ingest(_rows(["c"], day="2026-03-03"))
    assert (first.version, second.version) == (0, 1)
    assert acme.data.version == 1
    assert acme.events(version=0).count("*").fetchall()[0][0] == 6
    assert acme.events().count("*").fetchall()[0][0] == 9
    assert acme.at(0).funnel(STEPS, "1d")["users"].tolist() == [2, 2, 2]
    history = acme.data.history()
    assert history["version"].tolist()[:2] == [1, 0]
    assert acme.events(as_of=history["timestamp"].iloc[-1]).count("*").fetchall()[0][0] == 6
    with pytest.raises(NotFoundError, match="no version 7"):
        acme.events(version=7)


def test_stored_results_record_their_version_and_rerun_identically(ws):
    acme = ws.brand("acme")
    acme.ingest(_rows([f"u{i}" for i in range(30)]))
    acme.funnels.create("shop", steps=STEPS, window="1d")
    first = acme.funnels.calculate("shop")
    stored = acme.funnels.results("shop")[0]
    assert stored.data_version == 0
    acme.ingest(_rows([f"n{i}" for i in range(12)], day="2026-03-04", events=("view",)))
    assert acme.funnels.calculate("shop")["users"].iloc[0] == 42  # the latest version sees the new users
    again = acme.funnels.calculate("shop", version=stored.data_version)
    pd.testing.assert_frame_equal(again, first)
    assert [r.data_version for r in acme.funnels.results("shop")] == [0, 1, 0]


def test_compaction_merges_small_files_and_keeps_every_row(ws):
    acme = ws.brand("acme")
    for i in range(6):
        acme.ingest(_rows([f"u{i}"], start=i))
    table = ws.store.brand_dir("acme")
    before = acme.events().df().sort_values("event_id").reset_index(drop=True)
    assert len(ws.store.files("acme")) == 6
    out = acme.data.compact()
    assert (out["files_removed"], out["files_added"]) == (6, 1)
    assert len(ws.store.files("acme")) == 1
    after = acme.events().df().sort_values("event_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)
    assert len(_data_files(table)) == 7  # the old files stay for time travel until a vacuum
    acme.data.vacuum(retention_hours=0)
    assert len(_data_files(table)) == 1


def test_small_ingests_compact_themselves(tmp_path):
    from workbench.config import get_settings
    from workbench.workspace import Workspace

    with Workspace(get_settings(home=tmp_path / "data").model_copy(update={"small_file_limit": 4})) as ws:
        acme = ws.brand("acme")
        for i in range(12):
            acme.ingest(_rows([f"u{i}"], start=i))
        assert len(ws.store.files("acme")) <= 5
        assert acme.events().count("*").fetchall()[0][0] == 36


def test_forget_user_leaves_no_row_in_any_file_after_vacuum(ws):
    acme = ws.brand("acme")
    acme.ingest(_rows(["alice", "bob"]))
    acme.ingest(_rows(["alice"], day="2026-03-05", start=9))
    bad = pd.DataFrame({"user_id": ["alice", "carol"], "event": ["view", "view"], "ts": ["never", "never"]})
    report = acme.ingest(bad)
    out = acme.forget_user("alice")
    assert (out["events_deleted"], out["quarantined_deleted"]) == (6, 1)
    assert "alice" not in set(acme.events().df()["user_id"])
    assert "alice" in set(_all_parquet_rows(ws.store.brand_dir("acme"))["user_id"])  # old versions still hold her
    acme.data.vacuum(retention_hours=0)
    assert set(_all_parquet_rows(ws.store.brand_dir("acme"))["user_id"]) == {"bob"}
    log_text = " ".join(p.read_text() for p in (ws.store.brand_dir("acme") / "_delta_log").glob("*.json"))
    assert "alice" not in log_text  # no statistics of user ids in the log either
    assert pd.read_csv(report.quarantine_path)["user_id"].tolist() == ["carol"]
    from workbench.storage.models import AuditEvent
    with ws.db.session() as s:
        audit = s.query(AuditEvent).filter_by(action="forget_user").one()
        assert audit.detail["events_deleted"] == 6


def test_only_admins_keep_the_table(ws):
    acme = ws.brand("acme")
    acme.ingest(_rows(["a"]))
    acme.members.add("mia")
    mia = ws.brand("acme", user="mia")
    assert mia.data.version == 0
    for call in (lambda: mia.forget_user("a"), mia.data.compact, lambda: mia.data.vacuum(0)):
        with pytest.raises(PermissionDeniedError, match="brand admin"):
            call()
    with pytest.raises(NotFoundError):
        ws.brand("nobody").data.compact()


def test_an_event_id_is_unique_within_its_day(ws):
    acme = ws.brand("acme")
    acme.ingest(pd.DataFrame({"event_id": ["x"], "user_id": ["u"], "event": ["view"], "ts": ["2026-03-02T10:00Z"]}))
    again = acme.ingest(pd.DataFrame({"event_id": ["x", "x"], "user_id": ["u", "u"], "event": ["view", "view"],
                                      "ts": ["2026-03-02T23:00Z", "2026-03-09T10:00Z"]}))
    assert (again.accepted, again.duplicates) == (1, 1)  # same day: a duplicate; another day: another event


def test_epoch_seconds_and_milliseconds(ws, tmp_path):
    path = tmp_path / "epochs.csv"
    path.write_text("user_id,event,ts\nu,view,1772445600\nv,view,1772445600000\nw,view,1772445600.5\n")
    report = ws.brand("acme").ingest(path)
    assert (report.accepted, report.rejected) == (3, 0)
    stamps = sorted(ws.brand("acme").events().df()["ts"])
    assert stamps[0] == stamps[1] == pd.Timestamp("2026-03-02T10:00:00Z")


def test_a_store_in_the_old_layout_is_converted_with_counts_checked(tmp_path):
    home = tmp_path / "data"
    shutil.copytree(FIXTURES / "legacy_events", home / "events")
    old = duckdb.sql(f"SELECT count(*) FROM read_parquet('{home}/events/brand=acme/*.parquet')").fetchall()[0][0]
    assert old == 399
    with wb.open(home) as ws:
        acme = ws.brand("acme")
        assert acme.events().count("*").fetchall()[0][0] == old
        assert not list((home / "events" / "brand=acme").glob("*.parquet"))  # now under day= partitions
        again = acme.ingest(FIXTURES / "legacy_source.csv")  # the file the old store was made from
        assert (again.accepted, again.duplicates, again.rejected) == (0, 399, 1)


def test_a_large_append_is_written_in_slabs_and_committed_once(ws, monkeypatch):
    import workbench.events.table as table_mod
    monkeypatch.setattr(table_mod, "SLAB_ROWS", 500)
    acme = ws.brand("acme")
    acme.ingest(_rows(["first"]))
    report = acme.ingest(pd.concat([_rows([f"u{i}" for i in range(400)], day=d) for d in
                                    ("2026-03-02", "2026-03-03", "2026-03-04")], ignore_index=True))
    assert (report.accepted, report.version) == (3600, 1)  # one version for the whole ingest
    assert acme.events().count("*").fetchall()[0][0] == 3603
    assert acme.events(version=0).count("*").fetchall()[0][0] == 3
    assert not any((ws.store.root / ".staging").glob("*"))
    again = acme.ingest(_rows([f"u{i}" for i in range(400)], day="2026-03-03"))
    assert (again.accepted, again.duplicates) == (0, 1200)
