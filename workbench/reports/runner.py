"""Report notebooks: run with papermill, render to self-contained HTML, record the run.

A report is a notebook in ``notebooks/reports`` with a ``parameters`` cell. Running it
writes the executed notebook and an HTML file (code hidden, charts embedded, nothing
fetched from the network) under ``<reports>/<brand>/``, and records the run (parameters,
status, duration, paths) so that it can be shared and commented on. A failed run is
recorded with its error and keeps the partly executed notebook.
"""
from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..collaboration import access
from ..domain import Action, ReportStatus, ResourceKind
from ..errors import InvalidInputError, WorkbenchError
from ..storage import collaboration as crepo
from ..storage import reports as rrepo
from ..storage.models import Report
from .checks import check_parameters

__all__ = ["REPORTS", "ReportRun", "ReportFailedError", "available_reports", "report_parameters", "run_report",
           "rerun_report", "render_html", "list_reports", "get_report", "delete_report"]

log = logging.getLogger(__name__)

REPORTS = {"funnel": "funnel.ipynb", "retention": "retention.ipynb", "prediction": "prediction.ipynb",
           "kpi": "kpi_digest.ipynb"}
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
# the kernel's own log (not the notebook's output) at ERROR: nothing of its start-up in the terminal
_KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]


@contextmanager
def kernel_options():
    """papermill options for a kernel that talks over local sockets in a folder of its own.

    Over TCP, jupyter_client picks free ports by binding and releasing them before the kernel binds
    them again; a process starting at the same moment (another kernel, Spark's JVM) can take one in
    between, and the run then waits on a kernel that never hears it. Unix sockets in a fresh folder
    cannot collide, listen on no port, and need no "running over TCP without encryption" warning.
    """
    from traitlets.config import Config

    folder = Path(tempfile.mkdtemp(prefix="wbk-"))  # short: a socket path has at most 107 characters
    try:
        yield {"config": Config({"KernelManager": {"transport": "ipc", "ip": str(folder / "k")}}),
               "extra_arguments": _KERNEL_ARGS}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# Parameters the runner fills in itself, so that the notebook opens the same workspace.
_WORKSPACE_PARAMS = ("brand", "home", "database_url", "events_path", "data_version")


def _context(ctx_or_scope):
    """A BrandContext; a brand scope (which holds one) is accepted for convenience."""
    return getattr(ctx_or_scope, "context", ctx_or_scope)


class ReportFailedError(WorkbenchError):
    """A report notebook raised; the run is recorded as FAILED with the partial notebook."""


@dataclass
class ReportRun:
    id: int
    name: str
    brand: str
    status: str
    parameters: dict
    html_path: Path | None
    notebook_path: Path | None
    duration_seconds: float
    error: str | None = None
    data_version: int | None = None  # the event table version the notebook read


def available_reports(notebooks: Path) -> dict[str, Path]:
    return {name: notebooks / file for name, file in REPORTS.items() if (notebooks / file).exists()}


def report_parameters(path: Path) -> dict[str, dict]:
    """The notebook's declared parameters: ``{name: {"default", "type", "help"}}``."""
    import papermill as pm

    return {name: {"default": p["default"], "type": p["inferred_type_name"], "help": p["help"]}
            for name, p in pm.inspect_notebook(str(path)).items()}


def nbformat_title(path: Path) -> str:
    """A report notebook's title (its metadata), else its file name."""
    import nbformat
    return nbformat.read(str(path), as_version=4).metadata.get("title") or path.stem.replace("_", " ").title()


def _kernel_name() -> str:
    from jupyter_client.kernelspec import find_kernel_specs

    return "workbench" if "workbench" in find_kernel_specs() else "python3"


def _section(markdown: str) -> str:
    """A markdown cell as one line: its heading and the first sentence after it."""
    lines = [line.strip() for line in markdown.splitlines() if line.strip()]
    heading = next((line.lstrip("#").strip() for line in lines if line.startswith("#")), "")
    text = " ".join(line for line in lines if not line.startswith("#")).replace("`", "")
    sentence = re.split(r"(?<=[.;])\s", text, maxsplit=1)[0].rstrip(".;") if text else ""
    return ": ".join(part for part in (heading, sentence) if part)


def describe_charts(notebook) -> None:
    """Give every chart (PNG output) alternative text, in place: the section it sits in (the
    markdown cell above it), so that a shared report still reads sensibly without its images."""
    section = ""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            section = _section(cell.source)
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                meta = output.setdefault("metadata", {}).setdefault("image/png", {})
                meta.setdefault("alt", f"Chart. {section}" if section else "Chart")


def render_html(notebook_path: Path, html_path: Path, title: str | None = None) -> Path:
    """Self-contained HTML of an executed notebook, code cells hidden; ``title`` names the page."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="workbench_report", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    notebook = nbformat.read(str(notebook_path), as_version=4)
    if title:
        notebook.metadata["title"] = title
    describe_charts(notebook)
    body, _ = exporter.from_notebook_node(notebook)
    html_path.write_text(body, encoding="utf-8")
    return html_path


def run_report(ctx, name: str, parameters: dict[str, Any] | None = None, *, raise_on_failure: bool = True,
               version: int | None = None, _owner: int | None = None) -> ReportRun:
    """Execute report ``name`` for the brand (``ctx``) with ``parameters`` (the others keep
    their defaults); the run is owned by the acting user. The notebook reads one event table
    version (``version``, or the latest when it starts), recorded with the run.

    Raises
    ------
    InvalidInputError
        Unknown report or parameter (the message lists the valid ones).
    ReportFailedError
        The notebook raised (when ``raise_on_failure``); the run is recorded either way.
    """
    ctx = _context(ctx)
    import papermill as pm

    settings = ctx.settings
    reports = available_reports(settings.resolved_notebooks_path)
    if name not in reports:
        raise InvalidInputError(f"unknown report {name!r}; available: {', '.join(sorted(reports)) or '(none)'}")
    declared = report_parameters(reports[name])
    params = dict(parameters or {})
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise InvalidInputError(f"report {name!r} has no parameter(s) {unknown}; it takes: "
                                f"{', '.join(k for k in declared if k not in _WORKSPACE_PARAMS)}")
    for key, value in list(params.items()):  # "revenue,purchases" for a list parameter is two items
        if declared[key]["type"] == "list" and isinstance(value, str):
            params[key] = [v.strip() for v in value.split(",") if v.strip()]
    check_parameters(ctx, declared, params)
    pinned = ctx.at(version) if version is not None else ctx.pinned()
    params.update(brand=ctx.brand, home=str(settings.home.resolve()), events_path=str(settings.resolved_events_path),
                  data_version=pinned.version)
    if settings.database_url:
        params["database_url"] = settings.database_url
    out_dir = settings.resolved_reports_path / ctx.brand
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    nb_path = out_dir / f"{name}-{stamp}.ipynb"
    html_path = out_dir / f"{name}-{stamp}.html"
    shown = {k: v for k, v in params.items() if k not in ("home", "database_url", "events_path", "data_version")}
    with ctx.db.session(write=True) as s:
        owner = _owner if _owner is not None else ctx.actor.user_id
        report_id = rrepo.start(s, ctx.brand_id, name, shown, owner, pinned.version).id
    started = time.perf_counter()
    error = None
    try:
        with kernel_options() as kernel:
            pm.execute_notebook(str(reports[name]), str(nb_path), parameters=params, kernel_name=_kernel_name(),
                                progress_bar=False, cwd=str(out_dir), start_timeout=180,
                                execution_timeout=int(settings.run_timeout_minutes * 60), **kernel)
        title = nbformat_title(reports[name])
        render_html(nb_path, html_path, f"{title} · {ctx.brand}" + (
            f" · {params.get('since') or '…'} – {params.get('until') or '…'}" if params.get("since") or params.get("until")
            else ""))
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, then re-raised as ours
        # papermill's error carries the notebook's own exception; that is what the analyst needs
        error = (f"{exc.ename}: {exc.evalue} (in cell {exc.exec_count})" if hasattr(exc, "ename")
                 else f"{type(exc).__name__}: {exc}")
        log.error("report %s for %s failed: %s", name, ctx.brand, error)
    duration = time.perf_counter() - started
    status = ReportStatus.FAILED if error else ReportStatus.SUCCEEDED
    with ctx.db.session(write=True) as s:
        rrepo.finish(s, ctx.brand_id, report_id, status=status, error=error, duration=duration,
                     notebook_path=str(nb_path) if nb_path.exists() else None,
                     html_path=str(html_path) if html_path.exists() else None)
    run = ReportRun(id=report_id, name=name, brand=ctx.brand, status=status.value, parameters=shown,
                    html_path=html_path if html_path.exists() else None,
                    notebook_path=nb_path if nb_path.exists() else None, duration_seconds=duration, error=error,
                    data_version=pinned.version)
    if error and raise_on_failure:
        raise ReportFailedError(f"report {name!r} for {ctx.brand!r} failed (run {report_id}, partial notebook "
                                f"{run.notebook_path}): {error}")
    return run


def rerun_report(ctx, report_id: int, *, raise_on_failure: bool = True) -> ReportRun:
    """Run a report again with the same parameters (needs EDIT on it). The new run belongs to
    the same owner and is shared with the same people, so whoever could read the old one can
    read the new one; a public link keeps showing the run it was made on."""
    ctx = _context(ctx)
    with ctx.db.session() as s:
        row = access.authorize(s, ctx, Action.EDIT, ResourceKind.REPORT, report_id)
        name, parameters, owner = row.name, dict(row.parameters), row.created_by
    params = {k: v for k, v in parameters.items() if k not in _WORKSPACE_PARAMS}
    run = run_report(ctx, name, params, raise_on_failure=False, _owner=owner)
    with ctx.db.session(write=True) as s:
        crepo.copy_shares(s, ctx.brand_id, ResourceKind.REPORT, report_id, run.id)
    if run.error and raise_on_failure:
        raise ReportFailedError(f"report {name!r} for {ctx.brand!r} failed (run {run.id}): {run.error}")
    return run


def list_reports(ctx):
    """The report runs the acting user may view, newest first: ``id, name, status, parameters,
    duration_seconds, html_path, started_at, error``."""
    ctx = _context(ctx)
    import pandas as pd

    with ctx.db.session() as s:
        rows = rrepo.listed(s, ctx.brand_id, ctx.actor)
        return pd.DataFrame([{"id": r.id, "name": r.name, "status": r.status.value, "parameters": r.parameters,
                              "duration_seconds": r.duration_seconds, "html_path": r.html_path,
                              "started_at": r.started_at, "error": r.error} for r in rows],
                            columns=["id", "name", "status", "parameters", "duration_seconds", "html_path",
                                     "started_at", "error"])


def get_report(ctx, report_id: int) -> Report:
    """One report run (needs VIEW)."""
    ctx = _context(ctx)
    with ctx.db.session() as s:
        return access.authorize(s, ctx, Action.VIEW, ResourceKind.REPORT, report_id)


def delete_report(ctx, report_id: int) -> None:
    """Delete a report run and its files, shares, links and comments (owner or brand admin)."""
    ctx = _context(ctx)
    with ctx.db.session(write=True) as s:
        row = access.authorize(s, ctx, Action.DELETE, ResourceKind.REPORT, report_id)
        paths = [p for p in (row.html_path, row.notebook_path) if p]
        crepo.delete_resource_traces(s, ctx.brand_id, ResourceKind.REPORT, row.id)
        crepo.record(s, ctx.brand_id, ctx.actor.user_id, ctx.actor.name, "delete", ResourceKind.REPORT, row.id,
                     {"name": row.name})
        s.delete(row)
    for p in paths:
        Path(p).unlink(missing_ok=True)
