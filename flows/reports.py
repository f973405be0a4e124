"""Render the report notebooks for every brand (or the given ones)."""
from __future__ import annotations

from prefect import flow, task

import workbench as wb

from .runners import retry_if_transient, task_runner


@task(retries=1, retry_delay_seconds=[5], retry_condition_fn=retry_if_transient)
def render(brand: str, name: str, home: str | None, database_url: str | None) -> str:
    with wb.open(home, database_url=database_url) as ws:
        return str(ws.brand(brand).report(name).html_path)


@flow(name="build-reports", task_runner=task_runner())
def build_reports(brands: list[str] | None = None, reports: list[str] = ["funnel", "retention", "prediction", "kpi"],  # noqa: B006
                  home: str | None = None, database_url: str | None = None) -> dict:
    """Returns ``{brand: {report: html path or error}}``; one failed report does not stop the rest."""
    if not brands:
        with wb.open(home, database_url=database_url) as ws:
            brands = ws.brands()
    futures = {(b, r): render.submit(b, r, home, database_url) for b in brands for r in reports}
    out: dict = {}
    for (b, r), fut in futures.items():
        fut.wait()
        out.setdefault(b, {})[r] = fut.result() if fut.state.is_completed() else \
            f"error: {fut.result(raise_on_failure=False)}"
    return out
