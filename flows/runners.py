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


def task_runner():
    """``WORKBENCH_TASK_RUNNER=threads`` (default, 2 workers) or ``dask`` (needs ``prefect-dask``;
    set ``PREFECT_DASK_ADDRESS``-style options on the DaskTaskRunner for a cluster)."""
    kind = get_settings().task_runner
    if kind == "threads":
        return ThreadPoolTaskRunner(max_workers=2)
    if kind == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError as exc:
            raise WorkbenchError("WORKBENCH_TASK_RUNNER=dask needs the prefect-dask package: "
                                 "pip install prefect-dask") from exc
        return DaskTaskRunner()
    raise WorkbenchError(f"WORKBENCH_TASK_RUNNER must be 'threads' or 'dask', got {kind!r}")
