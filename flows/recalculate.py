"""Scheduled recalculation of every brand's saved analyses, anomaly checks and forecasts, after
the nightly upkeep of its event table (compaction, then a vacuum past the retention period).

One task per brand, fanned out by the task runner; a brand's transient failure (database
busy, connection lost) is retried, a deterministic one (too little data, bad input) is not;
either way it is recorded and reported in the flow's summary without stopping the other brands.
"""
from __future__ import annotations

from prefect import flow, get_run_logger, task

import workbench as wb
from workbench.analyses import record_outcome, recalculate_brand
from workbench.delivery import check_alerts

from .runners import retry_if_transient, task_runner


@task
def list_brands(home: str | None, database_url: str | None) -> list[str]:
    with wb.open(home, database_url=database_url) as ws:
        return ws.brands()


@task(retries=2, retry_delay_seconds=[1, 3], retry_condition_fn=retry_if_transient)
def recalculate_one(brand: str, home: str | None, database_url: str | None, forecast_metrics: list[str],
                    horizon: int) -> dict:
    with wb.open(home, database_url=database_url) as ws:
        scope = ws.brand(brand)
        ctx = scope.context
        upkeep = {}
        if ws.store.has_events(brand):
            upkeep = scope.data.compact()
            upkeep["vacuumed"] = len(scope.data.vacuum())
        done = recalculate_brand(ctx, forecast_metrics=tuple(forecast_metrics), horizon=horizon)
        done["alerts"] = check_alerts(ctx)  # messages go to the outbox; the deliveries flow sends them
        done["upkeep"] = upkeep
        record_outcome(ctx, "ok", {"predictions": done["predictions"], "anomalies": done["anomalies"]})
        return done


@task
def record_failure(brand: str, error: str, home: str | None, database_url: str | None) -> None:
    with wb.open(home, database_url=database_url) as ws:
        record_outcome(ws.brand(brand).context, "failed", error)


@flow(name="recalculate-all-brands", task_runner=task_runner())
def recalculate(brands: list[str] | None = None, forecast_metrics: list[str] = ["revenue"],  # noqa: B006
                horizon: int = 28, home: str | None = None, database_url: str | None = None) -> dict:
    """Recalculate every brand (or the given ones); returns ``{brand: result or {"error": ...}}``."""
    logger = get_run_logger()
    names = brands or list_brands(home, database_url)
    futures = {b: recalculate_one.submit(b, home, database_url, forecast_metrics, horizon) for b in names}
    summary = {}
    for brand, future in futures.items():
        future.wait()
        if future.state.is_completed():
            summary[brand] = future.result()
        else:
            error = str(future.result(raise_on_failure=False))
            logger.error("brand %s failed after retries: %s", brand, error)
            record_failure(brand, error, home, database_url)
            summary[brand] = {"error": error}
    failed = sorted(b for b, r in summary.items() if "error" in r)
    logger.info("recalculated %d brand(s); failed: %s", len(summary) - len(failed), failed or "none")
    return summary
