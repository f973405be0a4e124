"""A reader process queries the store while another process ingests."""
import multiprocessing as mp
import time
from pathlib import Path

import pandas as pd

import workbench as wb
from workbench.datasets import generate_events


def _reader(home: str, ready, stop, counts) -> None:
    ws = wb.open(home)
    acme = ws.brand("acme")
    while not stop.is_set():
        counts.append(acme.events().count("*").fetchall()[0][0])
        ready.set()
        time.sleep(0.005)
    ws.close()


def _writer(home: str, frames: list[pd.DataFrame]) -> None:
    ws = wb.open(home)
    for frame in frames:
        ws.brand("acme").ingest(frame)
    ws.close()


def _watched(home: str, jobs: list[tuple]) -> tuple[list[int], list[int]]:
    """Run ``jobs`` (target, args) in processes while a reader process counts the events again
    and again; returns the counts it saw and the exit codes (reader last)."""
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        ready, stop, counts = manager.Event(), manager.Event(), manager.list()
        reader = ctx.Process(target=_reader, args=(home, ready, stop, counts))
        reader.start()
        assert ready.wait(60), "reader process did not start"
        workers = [ctx.Process(target=target, args=args) for target, args in jobs]
        for w in workers:
            w.start()
        for w in workers:
            w.join(180)
        time.sleep(0.2)
        stop.set()
        reader.join(60)
        return list(counts), [w.exitcode for w in workers] + [reader.exitcode]


def test_reader_sees_only_whole_ingests_while_another_process_writes(tmp_path):
    home = str(tmp_path / "data")
    with wb.open(home) as ws:  # migrate once; the brand exists (a member was added) but holds no events yet
        ws.brand("acme").members.add("reader")
    events = generate_events(brands=1, users=3000, days=60, seed=3).events
    frames = [events.iloc[i::4] for i in range(4)]
    sizes = [len(f) for f in frames]
    allowed = {sum(sizes[:k]) for k in range(5)}
    seen, codes = _watched(home, [(_writer, (home, frames))])
    assert codes == [0, 0]
    assert len(seen) > 5
    assert set(seen) <= allowed, f"reader saw a partial ingest: {sorted(set(seen) - allowed)}"
    assert seen == sorted(seen)
    assert seen[-1] == len(events)


def test_two_writer_processes_on_one_brand_both_land(tmp_path):
    home = str(tmp_path / "data")
    events = generate_events(brands=1, users=2000, days=40, seed=5).events
    halves = [events.iloc[0::2], events.iloc[1::2]]
    overlap = events.iloc[::50]  # both writers also send these: they must be stored once
    ctx = mp.get_context("spawn")
    writers = [ctx.Process(target=_writer, args=(home, [half.iloc[i::3] for i in range(3)] + [overlap]))
               for half in halves]
    for w in writers:
        w.start()
    for w in writers:
        w.join(180)
    assert [w.exitcode for w in writers] == [0, 0]
    with wb.open(home) as ws:
        stored = ws.brand("acme").events().df()
    assert len(stored) == len(events) and stored["event_id"].is_unique


def _compact_loop(home: str, rounds: int) -> None:
    ws = wb.open(home)
    for _ in range(rounds):
        ws.brand("acme").data.compact()
    ws.close()


def test_reader_sees_whole_versions_during_compaction_and_ingest(tmp_path):
    home = str(tmp_path / "data")
    events = generate_events(brands=1, users=1500, days=40, seed=8).events
    pieces = [events.iloc[i::12] for i in range(12)]
    with wb.open(home) as ws:
        for piece in pieces[:8]:
            ws.brand("acme").ingest(piece)
    sizes = [len(p) for p in pieces]
    allowed = {sum(sizes[:k]) for k in range(8, 13)}
    seen, codes = _watched(home, [(_compact_loop, (home, 3)), (_writer, (home, pieces[8:]))])
    assert codes == [0, 0, 0]
    assert set(seen) <= allowed, f"reader saw a partial version: {sorted(set(seen) - allowed)}"
    assert seen[-1] == len(events)


def _ingest_after_marker(home: str, path: str, marker: str) -> None:
    ws = wb.open(home)
    acme = ws.brand("acme")
    Path(marker).touch()
    acme.ingest(path)


def test_killed_ingest_leaves_a_readable_table_and_reingest_adds_the_missing_rows(tmp_path):
    import os
    import signal

    home = str(tmp_path / "data")
    events = generate_events(brands=1, users=6000, days=60, seed=9).events
    first = events.iloc[:5000]
    path = tmp_path / "all.csv"
    events.to_csv(path, index=False)
    with wb.open(home) as ws:
        ws.brand("acme").ingest(first)
    ctx = mp.get_context("spawn")
    killed = 0
    for delay in (0.05, 0.3, 0.8, 1.5):
        marker = tmp_path / f"started-{delay}"
        victim = ctx.Process(target=_ingest_after_marker, args=(home, str(path), str(marker)))
        victim.start()
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay)
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(30)
        killed += victim.exitcode == -signal.SIGKILL
        with wb.open(home) as ws:
            count = ws.brand("acme").events().count("*").fetchall()[0][0]
        assert count in (len(first), len(events))  # one whole version or the other, never a part
        if count == len(events):
            break
    assert killed >= 1, "no ingest was killed before it finished"
    with wb.open(home) as ws:
        acme = ws.brand("acme")
        report = acme.ingest(path)
        assert report.accepted == len(events) - count and report.rejected == 0
        stored = acme.events().df()
        assert len(stored) == len(events) and stored["event_id"].is_unique
