"""A portal over a brand with members at each level and a rendered report."""
import json
import re

import pytest
from starlette.testclient import TestClient

from workbench.config import get_settings
from workbench.portal import create_app, create_token
from workbench.workspace import Workspace

from ..collaboration.conftest import TINY_REPORT

SECRET = "x7Qp2vL9sK4mN8rT1wY6zB3cD5fG0hJ2"
ORIGIN = "http://testserver"
LEVELS = {"viewer": "VIEW", "commenter": "COMMENT", "editor": "EDIT"}


def settings_for(tmp_path, **extra):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir(exist_ok=True)
    (notebooks / "funnel.ipynb").write_text(json.dumps(TINY_REPORT))
    return get_settings(home=tmp_path / "data", notebooks_path=notebooks, portal_secret=SECRET, **extra)


class Team:
    """The workspace, the report, and a signed-in client per member."""

    def __init__(self, tmp_path, **extra):
        self.settings = settings_for(tmp_path, **extra)
        self.ws = Workspace(self.settings)
        acme = self.ws.brand("acme")
        for name in ["owner", "viewer", "commenter", "editor", "nobody"]:
            acme.members.add(name)
        self.owner = self.ws.brand("acme", user="owner")
        self.report = self.owner.report("funnel", window="3d").id
        for user, level in LEVELS.items():
            self.owner.collab.share("report", self.report, user, level)
        globex = self.ws.brand("globex")
        globex.members.add("gina")
        self.other = globex.report("funnel").id  # another brand's report
        self.app = create_app(self.settings)
        self.tokens = {u: create_token(self.ws.db, acme.id, u).token
                       for u in ["owner", "viewer", "commenter", "editor", "nobody"]}

    def client(self, user: str | None = None) -> TestClient:
        c = TestClient(self.app, base_url=ORIGIN, follow_redirects=False)
        if user:
            r = sign_in(c, "acme", user, self.tokens[user])
            assert r.status_code == 303, r.text
        return c


def form_token(client) -> str:
    page = client.get("/signin").text
    return re.search(r'name="form_token" value="([^"]+)"', page).group(1)


def sign_in(client, brand, user, token, **headers):
    return client.post("/signin", data={"brand": brand, "user": user, "token": token,
                                        "form_token": form_token(client)},
                       headers={"Origin": ORIGIN, **headers})


def csrf(client, page="/") -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(page).text).group(1)


@pytest.fixture
def team(tmp_path):
    t = Team(tmp_path)
    yield t
    t.ws.close()
