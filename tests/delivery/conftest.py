"""A real SMTP server (aiosmtpd) and a real webhook receiver on loopback, and a workspace whose
report notebook is tiny (it can be told to fail) so that runs take seconds."""
import email
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbench.config import get_settings
from workbench.datasets import generate_events
from workbench.workspace import Workspace

REPORT = {
    "cells": [
        {"id": "p", "cell_type": "code", "metadata": {"tags": ["parameters"]}, "execution_count": None,
         "outputs": [], "source": "brand: str = \"acme\"  # brand\nhome: str = \"data\"  # workspace folder\n"
                                   "database_url: str = \"\"  # database\nevents_path: str = \"\"  # events\n"
                                   "since: str = \"\"  # first day\nuntil: str = \"\"  # first day excluded\n"
                                   "fail: bool = False  # raise, for the tests"},
        {"id": "m", "cell_type": "markdown", "metadata": {}, "source": "# Weekly numbers"},
        {"id": "b", "cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "if fail:\n    raise RuntimeError('the checkout table is empty')\n"
                   "print(f'weekly numbers for {brand} from {since} to {until}')"},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


class Receiver(BaseHTTPRequestHandler):
    plan: list = []       # status codes to answer, in order (then 200)
    got: list = []        # (status answered, headers, body)

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        code = Receiver.plan.pop(0) if Receiver.plan else 200
        Receiver.got.append((code, dict(self.headers), body))
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture
def hook():
    Receiver.plan, Receiver.got = [], []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/hook", Receiver
    srv.shutdown()


def make_workspace(tmp_path, smtp_port: int, database_url: str | None = None) -> Workspace:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir(exist_ok=True)
    (notebooks / "kpi_digest.ipynb").write_text(json.dumps(REPORT))
    settings = get_settings(home=tmp_path / "data", notebooks_path=notebooks, smtp_port=smtp_port,
                            database_url=database_url)
    ws = Workspace(settings)
    acme = ws.brand("acme")
    if not ws.store.files("acme"):
        acme.ingest(generate_events(brands=1, users=200, days=35, seed=2).events)
    for name in ("owner", "bob"):
        try:
            acme.members.add(name, email=f"{name}@example.com")
        except Exception:  # noqa: BLE001 - a second workspace on the same database
            pass
    return ws


@pytest.fixture
def team(tmp_path, smtp):
    ws = make_workspace(tmp_path, smtp.port)
    yield ws
    ws.close()
