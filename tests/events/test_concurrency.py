"""A reader process queries the store while another process ingests."""
import multiprocessing as mp
import time

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


def test_reader_sees_only_whole_ingests_while_another_process_writes(tmp_path):
    home = str(tmp_path / "data")
    with wb.open(home) as ws:  # migrate once; the brand exists (a member was added) but holds no events yet
        ws.brand("acme").members.add("reader")
    events = generate_events(brands=1, users=3000, days=60, seed=3).events
    frames = [events.iloc[i::4] for i in range(4)]
    sizes = [len(f) for f in frames]
    allowed = {sum(sizes[:k]) for k in range(5)}
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        ready, stop, counts = manager.Event(), manager.Event(), manager.list()
        reader = ctx.Process(target=_reader, args=(home, ready, stop, counts))
        reader.start()
        assert ready.wait(60), "reader process did not start"
        writer = ctx.Process(target=_writer, args=(home, frames))
        writer.start()
        writer.join(120)
        time.sleep(0.2)
        stop.set()
        reader.join(60)
        seen = list(counts)
    assert writer.exitcode == 0 and reader.exitcode == 0
    assert len(seen) > 5
    assert set(seen) <= allowed, f"reader saw a partial ingest: {sorted(set(seen) - allowed)}"
    assert seen == sorted(seen)
    assert seen[-1] == len(events)
