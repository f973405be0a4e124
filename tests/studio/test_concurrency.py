"""Budgets never overspend and no generation runs twice, under real concurrency, on SQLite and PostgreSQL."""
import multiprocessing as mp
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
