"""The task runner flows fan out with: threads on one machine, Dask across machines."""
from __future__ import annotations

from prefect.task_runners import ThreadPoolTaskRunner

from workbench.config import get_settings
from workbench.errors import WorkbenchError


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
