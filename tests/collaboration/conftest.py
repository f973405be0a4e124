"""A brand with members at every level, and a tiny report notebook so that report runs are quick."""
import json

import pytest

import workbench as wb
from workbench.config import get_settings
from workbench.datasets import generate_events
from workbench.workspace import Workspace

USERS = ["owner", "admin", "viewer", "commenter", "editor", "sharer", "nobody"]
LEVELS = {"viewer": "VIEW", "commenter": "COMMENT", "editor": "EDIT", "sharer": "ADMIN"}
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

TINY_REPORT = {
    "cells": [
        {"id": "params", "cell_type": "code", "metadata": {"tags": ["parameters"]}, "execution_count": None, "outputs": [],
         "source": "brand: str = \"acme\"  # brand\nhome: str = \"data\"  # workspace folder\n"
                   "database_url: str = \"\"  # application database\nevents_path: str = \"\"  # event store\n"
                   "window: str = \"7d\"  # funnel window"},
        {"id": "intro", "cell_type": "markdown", "metadata": {}, "source": "# Tiny report\nA report small enough to run quickly."},
        {"id": "body", "cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "print(f\"report for {brand} over {window}\")"},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def open_ws(tmp_path, url=None) -> Workspace:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir(exist_ok=True)
    (notebooks / "funnel.ipynb").write_text(json.dumps(TINY_REPORT))
    return Workspace(get_settings(home=tmp_path / "data", database_url=url, notebooks_path=notebooks))


@pytest.fixture(params=BACKENDS)
def team(request, tmp_path):
    """A workspace whose brand ``acme`` has members owner, admin (brand admin), viewer,
    commenter, editor, sharer, nobody and extra, and a little event history."""
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        with wb.open(tmp_path / "data", database_url=url).db.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE brands, users, shares, public_links, comments, audit_events CASCADE")
    ws = open_ws(tmp_path, url)
    acme = ws.brand("acme")
    for name in USERS + ["extra"]:
        acme.members.add(name, role="admin" if name == "admin" else "member")
    acme.ingest(generate_events(brands=1, users=150, days=40, seed=3).events)
    ws.brand("globex").ingest(generate_events(brands=1, users=50, days=28, seed=4).events.assign(brand="globex"))
    yield ws
    ws.close()
