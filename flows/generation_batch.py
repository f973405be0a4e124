"""Run pending AI generations in chunks: claims are leased, so two batches never run the same
generation, a killed batch's work is reclaimed later, and re-running is always safe.

Chunks (not single generations) are the unit of work, so that on Dask (about 150-200 ms of
overhead per task) the orchestration cost stays small per generation.
"""
from __future__ import annotations

import uuid

from prefect import flow, get_run_logger, task

import workbench as wb
from workbench.studio import RetryPolicy, run_batch

from .runners import retry_if_transient, task_runner


@task(retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=retry_if_transient)
def run_chunk(size: int, concurrency: int, home: str | None, database_url: str | None) -> dict:
    with wb.open(home, database_url=database_url) as ws:
        result = run_batch(ws.db, ws.artifacts_path, worker=f"flow-{uuid.uuid4().hex[:8]}", limit=size,
                           concurrency=concurrency, policy=RetryPolicy(), provider_config=ws.provider_config)
    return {"claimed": len(result.ids), "succeeded": result.succeeded, "failed": result.failed,
            "skipped": result.skipped}


@flow(name="generation-batch", task_runner=task_runner())
def generation_batch(chunks: int = 2, chunk_size: int = 50, concurrency: int = 4, home: str | None = None,
                     database_url: str | None = None) -> dict:
    """Run ``chunks`` chunks at a time until no generation is runnable; returns the totals."""
    totals = {"claimed": 0, "succeeded": 0, "failed": 0, "skipped": 0}
    while True:
        futures = [run_chunk.submit(chunk_size, concurrency, home, database_url) for _ in range(chunks)]
        results = [f.result() for f in futures]
        for r in results:
            for k in totals:
                totals[k] += r[k]
        if all(r["claimed"] < chunk_size for r in results):
            break
    get_run_logger().info("generation batch: %s", totals)
    return totals
