"""Budgets never overspend and no generation runs twice, under real concurrency, on SQLite and PostgreSQL."""
import multiprocessing as mp
import queue
import threading
from collections import Counter

import pytest

import workbench as wb
from workbench.errors import BudgetExceededError, QuotaExceededError
from workbench.studio import RetryPolicy, run_batch

from . import conftest  # noqa: F401 - registers the "flaky" provider, also in spawned processes

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_args(request, tmp_path):
    if request.param == "sqlite":
        return {"home": str(tmp_path / "data")}
    url = request.getfixturevalue("postgres_url")
    ws = wb.open(tmp_path / "data", database_url=url)
    with ws.db.engine.begin() as conn:  # the session database is shared: start from empty tables
        conn.exec_driver_sql("TRUNCATE brands, generations, budget_usage, budgets, users CASCADE")
    ws.close()
    return {"home": str(tmp_path / "data"), "database_url": url}


def _open(args):
    return wb.open(args["home"], database_url=args.get("database_url"))


def _at_once(db_args, n: int, act) -> None:
    """Run ``act(workspace, i)`` in n threads, each with its own workspace (its own
    connection pool, like separate web workers), released together by a barrier."""
    barrier = threading.Barrier(n, timeout=60)

    def run(i):
        own = _open(db_args)
        try:
            barrier.wait()
            act(own, i)
        finally:
            own.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def test_eight_concurrent_requests_against_room_for_five(db_args):
    ws = _open(db_args)
    st = ws.brand("acme").studio
    cost = st.request("TEMPLATE", "probe")  # learn the unit cost, then cancel it
    unit = st.get(cost)["cost"] or ws.brand("acme").studio.usage()["reserved_cost"]
    st.cancel(cost)
    st.set_budget(monthly_cost_limit=round(unit * 5 + unit / 2, 9))
    outcomes = []

    def request(own, i):
        try:
            own.brand("acme").studio.request("TEMPLATE", f"page {i}")
            outcomes.append("accepted")
        except BudgetExceededError:
            outcomes.append("refused")

    _at_once(db_args, 8, request)
    assert Counter(outcomes) == {"accepted": 5, "refused": 3}
    assert st.usage()["reserved_count"] == 5
    ws.close()


def test_concurrent_regenerations_get_distinct_versions(db_args):
    ws = _open(db_args)
    first = ws.brand("acme").studio.request("TEMPLATE", "landing page")
    made = []
    _at_once(db_args, 6, lambda own, i: made.append(own.brand("acme").studio.regenerate(
        first, prompt=f"landing page v{i}")))
    history = ws.brand("acme").studio.history(first)
    assert len(made) == 6
    assert sorted(history["version"]) == [1, 2, 3, 4, 5, 6, 7]
    ws.close()


def test_quota_is_enforced(db_args):
    ws = _open(db_args)
    st = ws.brand("acme").studio
    st.set_budget(monthly_generation_quota=2)
    st.request("TEMPLATE", "a")
    st.request("TEMPLATE", "b")
    with pytest.raises(QuotaExceededError, match="quota of 2"):
        st.request("TEMPLATE", "c")
    ws.close()


def _batch(args, calls_file, worker):
    ws = _open(args)
    ws.provider_config["flaky"] = {"calls_file": calls_file, "delay": 0.01}
    run_batch(ws.db, ws.artifacts_path, worker=worker, concurrency=3,
              policy=RetryPolicy(backoff=(0.01, 0.01), timeout=5, lease=60), provider_config=ws.provider_config)
    ws.close()


def test_two_batch_processes_never_run_the_same_generation(db_args, tmp_path):
    ws = _open(db_args)
    st = ws.brand("acme").studio
    ids = [st.request("TEMPLATE", f"page {i}", provider="flaky") for i in range(40)]
    calls = tmp_path / "calls.txt"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_batch, args=(db_args, str(calls), f"proc-{i}")) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert all(p.exitcode == 0 for p in procs)
    ran = [int(x) for x in calls.read_text().split()]
    assert sorted(ran) == sorted(ids), "a generation ran twice or not at all"
    listed = st.list()
    assert (listed["status"] == "SUCCEEDED").all()
    ws.close()


def _spawn(target, *args):
    proc = mp.get_context("spawn").Process(target=target, args=args)
    proc.start()
    return proc


def _run_brand(args, brand):
    ws = _open(args)
    ws.brand(brand).studio.run(policy=RetryPolicy(backoff=(0.01,), timeout=10, lease=30))
    ws.close()


def test_a_brand_scoped_run_never_claims_another_brands_generation(db_args):
    ws = _open(db_args)
    mine = [ws.brand("acme").studio.request("TEMPLATE", f"acme page {i}") for i in range(3)]
    theirs = [ws.brand("globex").studio.request("TEMPLATE", f"globex page {i}") for i in range(3)]
    proc = _spawn(_run_brand, db_args, "acme")
    proc.join(120)
    assert proc.exitcode == 0
    acme, globex = ws.brand("acme").studio.list(), ws.brand("globex").studio.list()
    assert sorted(acme["id"]) == mine and (acme["status"] == "SUCCEEDED").all()
    assert sorted(globex["id"]) == theirs and (globex["status"] == "PENDING").all()
    assert (globex["attempts"] == 0).all() and globex["artifact_uri"].isna().all()
    assert ws.brand("globex").studio.usage()["spent_cost"] == 0
    # the unscoped batch (what the scheduled flow runs) serves every brand
    run_batch(ws.db, ws.artifacts_path, policy=RetryPolicy(backoff=(0.01,), timeout=10, lease=30))
    assert (ws.brand("globex").studio.list()["status"] == "SUCCEEDED").all()
    ws.close()


def _slow_batch(args, calls_file, result_file, delay, lease):
    import json
    ws = _open(args)
    ws.provider_config["flaky"] = {"calls_file": calls_file, "delay": delay, "stamp": True}
    result = run_batch(ws.db, ws.artifacts_path, concurrency=4, provider_config=ws.provider_config,
                       policy=RetryPolicy(backoff=(0.01,), timeout=60, lease=lease))
    with open(result_file, "w") as fh:
        json.dump({"succeeded": result.succeeded, "failed": result.failed, "skipped": result.skipped}, fh)
    ws.close()


def _snapshot(ws):
    import sqlalchemy as sa
    from workbench.storage.models import Generation
    with ws.db.session() as s:
        rows = sorted(tuple(r) for r in s.execute(sa.select(
            Generation.id, Generation.status, Generation.claimed_by, Generation.attempts, Generation.artifact_uri,
            Generation.cost, Generation.finished_at, Generation.duration_seconds)))
    files = {str(p): p.read_bytes() for p in ws.artifacts_path.rglob("*") if p.is_file()}
    return rows, files


def test_a_runner_paused_past_its_lease_changes_neither_rows_nor_files(db_args, tmp_path):
    """Runner A is stopped (SIGSTOP) in the middle of its provider calls; its lease lapses,
    runner B takes the generations over and finishes them; then A resumes. A's late results
    must change nothing: not the rows, not the files B recorded, and leave no staged file."""
    import json
    import os
    import signal
    import time

    ws = _open(db_args)
    ids = [ws.brand("acme").studio.request("TEMPLATE", f"page {i}", provider="flaky") for i in range(4)]
    calls_a, calls_b = tmp_path / "a.txt", tmp_path / "b.txt"
    a = _spawn(_slow_batch, db_args, str(calls_a), str(tmp_path / "a.json"), 4.0, 1.5)
    deadline = time.monotonic() + 120
    while (not calls_a.exists() or len(calls_a.read_text().split()) < 4) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(a.pid, signal.SIGSTOP)  # paused mid-call, all four in flight
    try:
        assert sorted(int(x) for x in calls_a.read_text().split()) == ids
        time.sleep(2.5)  # its lease (1.5 s, no more heartbeats) lapses
        b = _spawn(_slow_batch, db_args, str(calls_b), str(tmp_path / "b.json"), 0.0, 30)
        b.join(120)
        assert b.exitcode == 0 and json.loads((tmp_path / "b.json").read_text())["succeeded"] == 4
        before = _snapshot(ws)
        assert {r[1].value for r in before[0]} == {"SUCCEEDED"}
        recorded = [r[4] for r in before[0]]
        assert all(f"process {b.pid}" in open(p).read() for p in recorded)
    finally:
        os.kill(a.pid, signal.SIGCONT)
    a.join(120)
    assert a.exitcode == 0
    assert json.loads((tmp_path / "a.json").read_text()) == {"succeeded": 0, "failed": 0, "skipped": 4}
    after = _snapshot(ws)
    assert after[0] == before[0], "the stale runner changed a row"
    assert after[1] == before[1], "the stale runner changed, added or left an artifact file"
    assert set(before[1]) == set(recorded)
    ws.close()


def _race(n: int, target, *args) -> Counter:
    """Run ``target(*args, barrier, outcomes)`` in n spawned processes released together;
    returns the outcomes they put on the queue."""
    ctx = mp.get_context("spawn")
    barrier, outcomes = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, outcomes)) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(240)
    assert [p.exitcode for p in procs] == [0] * n
    got = Counter()
    while True:  # every process has exited, so what it put is there to read
        try:
            got[outcomes.get(timeout=2)] += 1
        except queue.Empty:
            return got


def _request_as_new_author(args, barrier, outcomes):
    ws = _open(args)
    try:
        barrier.wait(120)
        try:
            ws.brand("acme").studio.request("TEMPLATE", "hello", author="ann")
            outcomes.put("accepted")
        except QuotaExceededError:
            outcomes.put("quota")
        except Exception as exc:  # noqa: BLE001 - reported to the test
            outcomes.put(f"{type(exc).__module__}.{type(exc).__name__}: {exc}"[:300])
    finally:
        ws.close()


def test_twelve_processes_requesting_as_one_new_author_against_a_quota_of_five(db_args):
    ws = _open(db_args)
    ws.brand("acme").studio.set_budget(monthly_generation_quota=5)
    got = _race(12, _request_as_new_author, db_args)
    assert got == {"accepted": 5, "quota": 7}, got
    listed = ws.brand("acme").studio.list()
    assert len(listed) == 5
    with ws.db.session() as s:
        from workbench.storage.models import User
        assert s.query(User).filter_by(name="ann").count() == 1
    ws.close()


def _add_everywhere(args, gid, barrier, outcomes):
    from workbench.errors import AlreadyExistsError
    ws = _open(args)
    try:
        barrier.wait(120)
        acme = ws.brand("newbrand")
        st = ws.brand("acme").studio
        for act in (lambda: st.create_collection("picks", author="zoe"), lambda: st.add_to_collection("picks", gid),
                    lambda: st.set_budget(monthly_cost_limit=100.0),
                    lambda: acme.funnels.create("shop", steps=["view", "purchase"], window="1d")):
            try:
                act()
                outcomes.put("ok")
            except AlreadyExistsError:
                outcomes.put("exists")
            except Exception as exc:  # noqa: BLE001 - reported to the test
                outcomes.put(f"{type(exc).__name__}: {exc}"[:300])
    finally:
        ws.close()


def test_other_get_or_create_paths_settle_races_cleanly(db_args):
    """Brands, users, collections, collection items, budgets and saved definitions created by
    six processes at once: one row each, and the losers get AlreadyExistsError or the row."""
    ws = _open(db_args)
    gid = ws.brand("acme").studio.request("TEMPLATE", "x")
    got = _race(6, _add_everywhere, db_args, gid)
    # collection and funnel: one creator each, five told it exists; item and budget: always ok
    assert got == {"ok": 2 + 12, "exists": 10}, got
    assert ws.brand("acme").studio.collections().set_index("name").loc["picks", "count"] == 1
    assert ws.brands().count("newbrand") == 1 and len(ws.brand("newbrand").funnels.list()) == 1
    ws.close()
