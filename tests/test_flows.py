"""Prefect flows under a real (ephemeral) Prefect server."""
from collections import Counter

import pandas as pd
import pytest
import sqlalchemy as sa

import workbench as wb
from workbench.datasets import generate_events
from workbench.storage.models import AnalysisResult, Prediction


@pytest.mark.slow
def test_recalculation_continues_past_a_failing_brand(prefect_harness, tmp_path, monkeypatch):
    import flows.recalculate
    from flows.recalculate import recalculate
    from workbench.analyses import recalculate_brand

    home = str(tmp_path / "data")
    ws = wb.open(home)
    for brand, frame in generate_events(brands=2, users=300, days=45, seed=8).events.groupby("brand"):
        ws.brand(brand).ingest(frame)
        ws.brand(brand).funnels.create("shop", steps=["view", "purchase"], window="1d")
    # too little history to forecast: this brand fails once (no retry: more tries cannot add
    # data) and is reported; globex meets a transient database error once and is retried
    ws.brand("tiny").ingest(pd.DataFrame({"user_id": ["u"] * 3, "event": ["view"] * 3,
                                          "ts": ["2026-01-01", "2026-01-02", "2026-01-03"]}))
    calls = Counter()

    def counting(ctx, **kwargs):
        calls[ctx.brand] += 1
        if ctx.brand == "globex" and calls["globex"] == 1:
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("database is locked"))
        return recalculate_brand(ctx, **kwargs)

    monkeypatch.setattr(flows.recalculate, "recalculate_brand", counting)
    summary = recalculate(home=home, horizon=7)
    assert calls == {"tiny": 1, "globex": 2, "acme": 1}
    assert set(summary) == {"acme", "globex", "tiny"}
    assert "at least 14 days" in summary["tiny"]["error"]
    for brand in ("acme", "globex"):
        assert summary[brand]["funnels"] == 1 and len(summary[brand]["predictions"]) == 1
        assert ws.brand(brand).funnels.latest("shop") is not None
    with ws.db.session() as s:
        outcomes = {(r.brand_id, r.parameters["status"]) for r in s.query(AnalysisResult).filter_by(kind="recalculation")}
        assert (ws.brand("tiny").id, "failed") in outcomes and (ws.brand("acme").id, "ok") in outcomes
        assert s.query(Prediction).count() == 2
    ws.close()


def test_every_deployment_has_a_schedule():
    from flows.serve import SCHEDULES, deployments

    deps = deployments()
    assert {d.name for d in deps} == {name for _, name, _, _ in SCHEDULES}
    for d in deps:
        assert d.schedules and d.schedules[0].schedule.cron


@pytest.mark.slow
def test_generation_batch_flow_runs_everything_once_and_reruns_safely(prefect_harness, tmp_path):
    from flows.generation_batch import generation_batch

    from .studio import conftest as studio_conftest  # noqa: F401 - registers the "flaky" provider

    home = str(tmp_path / "data")
    ws = wb.open(home)
    st = ws.brand("acme").studio
    ids = [st.request("TEMPLATE", f"page {i}") for i in range(25)]
    ids.append(st.request("IMAGE_2D", "permanent", provider="flaky"))
    totals = generation_batch(chunks=2, chunk_size=5, home=home)
    assert totals["claimed"] == 26 and totals["succeeded"] == 25 and totals["failed"] == 1
    again = generation_batch(chunks=2, chunk_size=5, home=home)
    assert again["claimed"] == 0
    assert sorted(st.list()["id"]) == sorted(ids)
    ws.close()


@pytest.mark.slow
def test_flows_fan_out_on_a_two_worker_dask_cluster(prefect_harness, tmp_path):
    """The recalculation and the generation batch on a LocalCluster of two worker processes give
    what they give on threads, and every generation finishes exactly once."""
    from flows.generation_batch import generation_batch
    from flows.recalculate import recalculate
    from flows.runners import task_runner

    home = str(tmp_path / "data")
    ws = wb.open(home)
    for brand, frame in generate_events(brands=2, users=300, days=45, seed=8).events.groupby("brand"):
        ws.brand(brand).ingest(frame)
        ws.brand(brand).funnels.create("shop", steps=["view", "purchase"], window="1d")
    ids = [ws.brand("acme").studio.request("TEMPLATE", f"page {i}") for i in range(12)]
    ids += [ws.brand("globex").studio.request("TEMPLATE", f"page {i}") for i in range(8)]
    on_dask = recalculate.with_options(task_runner=task_runner("dask"))(home=home, horizon=7)
    on_threads = recalculate.with_options(task_runner=task_runner("threads"))(home=home, horizon=7)
    for brand in ("acme", "globex"):
        assert on_dask[brand]["funnels"] == on_threads[brand]["funnels"] == 1
        assert on_dask[brand]["anomalies"] == on_threads[brand]["anomalies"]
    dask_results = [r for r in ws.brand("acme").funnels.results("shop")]
    assert dask_results[0][1].equals(dask_results[1][1])  # the same funnel, computed on either runner
    totals = generation_batch.with_options(task_runner=task_runner("dask"))(chunks=2, chunk_size=3, home=home)
    assert totals["claimed"] == 20 and totals["succeeded"] == 20 and totals["skipped"] == 0
    listed = pd.concat([ws.brand(b).studio.list() for b in ("acme", "globex")])
    assert sorted(listed["id"]) == sorted(ids) and (listed["attempts"] == 1).all()
    assert (listed["status"] == "SUCCEEDED").all()
    ws.close()
