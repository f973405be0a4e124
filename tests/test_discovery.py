"""A notebook finds its project's workspace from any folder of the project."""
import os
import shutil
from pathlib import Path

import pytest

import workbench as wb
from workbench.config import discover_home
from workbench.datasets import generate_events

ROOT = Path(__file__).resolve().parents[1]


def _project(tmp_path) -> Path:
    project = tmp_path / "project"
    (project / "notebooks" / "explore").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copy(ROOT / "notebooks" / "explore" / "explore_brand.ipynb", project / "notebooks" / "explore")
    return project


def test_discovery_prefers_the_data_that_exists_then_the_project(tmp_path):
    project = _project(tmp_path)
    deep = project / "notebooks" / "explore"
    assert discover_home(deep) == project / "data"  # the project marker
    with wb.open(project / "data") as ws:
        ws.brand("acme")  # creates data/workbench.db
    nested = project / "notebooks" / "explore" / "sub"
    nested.mkdir()
    (nested / "data").mkdir()  # an unrelated data folder without a database is not taken
    assert discover_home(nested) == project / "data"
    assert discover_home(tmp_path / "elsewhere") == Path("data")


@pytest.mark.slow
def test_the_explore_notebook_sees_the_demo_data_from_its_own_folder(tmp_path, monkeypatch):
    import papermill as pm

    project = _project(tmp_path)
    with wb.open(project / "data") as ws:
        ws.brand("acme").ingest(generate_events(brands=1, users=300, days=35, seed=1).events)
    env_home = {k: v for k, v in os.environ.items() if k.startswith("WORKBENCH_")}
    for key in env_home:
        monkeypatch.delenv(key)
    out = tmp_path / "out.ipynb"
    from workbench.reports.runner import kernel_options
    with kernel_options() as kernel:  # local sockets: no port for a concurrent process to take
        pm.execute_notebook(str(project / "notebooks" / "explore" / "explore_brand.ipynb"), str(out),
                            cwd=str(project / "notebooks" / "explore"), progress_bar=False,
                            kernel_name="python3", start_timeout=120, execution_timeout=240, **kernel)
    text = out.read_text()
    assert str(project / "data") in text, "the notebook says which workspace it opened"
    assert "Empty DataFrame" not in text and "user_id" in text
