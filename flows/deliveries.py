"""Deliver report subscriptions and alerts: every minute, render the slots that are due (once
each, whoever else is ticking) and send what the outbox holds, retrying failed sends."""
from __future__ import annotations

from prefect import flow, get_run_logger, task

import workbench as wb

from .runners import retry_if_transient, task_runner


@task(retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=retry_if_transient)
def deliver_once(home: str | None, database_url: str | None) -> dict:
    with wb.open(home, database_url=database_url) as ws:
        return ws.deliver()


@flow(name="deliveries", task_runner=task_runner())
def deliveries(home: str | None = None, database_url: str | None = None) -> dict:
    """One pass; safe to run from several schedulers at once (slots and messages are unique)."""
    result = deliver_once(home, database_url)
    get_run_logger().info("deliveries: %s", result)
    return result
