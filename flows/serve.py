"""Every deployment and its schedule, declared in one place. ``python -m flows.serve`` (what
``make flows`` and ``workbench flows serve`` start) serves them."""
from __future__ import annotations

from .deliveries import deliveries
from .generation_batch import generation_batch
from .recalculate import recalculate
from .reports import build_reports

# (flow, deployment name, cron schedule in UTC, parameters)
SCHEDULES = [
    (recalculate, "nightly-recalculation", "0 3 * * *", {"forecast_metrics": ["revenue", "active_users"]}),
    (build_reports, "weekly-reports", "0 6 * * 1", {}),
    (generation_batch, "generation-batch", "*/5 * * * *", {"chunks": 2, "chunk_size": 50}),
    (deliveries, "deliveries", "* * * * *", {}),
]


def deployments() -> list:
    return [f.to_deployment(name=name, cron=cron, parameters=params) for f, name, cron, params in SCHEDULES]


def serve_all() -> None:
    from prefect import serve

    serve(*deployments())


if __name__ == "__main__":
    serve_all()
