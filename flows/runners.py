"""What every flow shares: the task runner it fans out with (threads on one machine, Dask
across machines) and the rule that only transient failures are retried."""
from __future__ import annotations

from prefect.task_runners import ThreadPoolTaskRunner

from workbench.config import get_settings
from workbench.errors import WorkbenchError, is_transient


def retry_if_transient(task, task_run, state) -> bool:
    """Prefect ``retry_condition_fn``: retry a failed task only when its exception is transient
    (:func:`workbench.errors.is_transient`); bad input or too little data fails at once."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if exc is None:
        try:
            exc = state.result(raise_on_failure=False)
        except Exception as err:  # noqa: BLE001 - an unreadable result is treated as not transient
            exc = err
    return isinstance(exc, BaseException) and is_transient(exc)


def task_runner(kind: str | None = None):
    """``WORKBENCH_TASK_RUNNER=threads`` (default, 2 threads) or ``dask``: the existing cluster at
    ``WORKBENCH_DASK_ADDRESS``, or a LocalCluster of ``WORKBENCH_DASK_WORKERS`` processes (one
    thread each: CmdStan and DuckDB keep their own threads) started for the flow run."""
    settings = get_settings()
    kind = kind or settings.task_runner
    if kind == "threads":
        return ThreadPoolTaskRunner(max_workers=2)
    if kind == "dask":
        from prefect_dask import DaskTaskRunner
        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": settings.dask_workers, "threads_per_worker": 1,
                                              "processes": True, "dashboard_address": None})
    raise WorkbenchError(f"WORKBENCH_TASK_RUNNER must be 'threads' or 'dask', got {kind!r}")
