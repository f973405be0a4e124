"""Delivery on one machine, on loopback only: how long a subscription takes end to end (slot
claimed -> report rendered -> email accepted by a real SMTP server), how many subscriptions
per minute one scheduler process sustains, and how fast the outbox sends.

    python benchmarks/delivery.py [--subscriptions 6] [--messages 300]

The report is the real KPI digest notebook over seeded demo data (papermill + nbconvert).
"""
from __future__ import annotations

import argparse
import json
import socket
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Box:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def main() -> None:
    from aiosmtpd.controller import Controller

    from workbench.config import get_settings
    from workbench.datasets import generate_events
    from workbench.delivery import send_due
    from workbench.storage import delivery as drepo
    from workbench.workspace import Workspace

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=6)
    parser.add_argument("--messages", type=int, default=300)
    args = parser.parse_args()
    box = _Box()
    smtp = Controller(box, hostname="127.0.0.1", port=_port())
    smtp.start()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(get_settings(home=Path(tmp) / "data", smtp_port=smtp.port))
        acme = ws.brand("acme")
        acme.ingest(generate_events(brands=1, users=2000, days=60, seed=1).events)
        acme.members.add("bob", email="bob@example.com")
        now = datetime.now(timezone.utc).replace(second=1, microsecond=0)
        for i in range(args.subscriptions):
            acme.subscriptions.create(f"kpi-{i}", "kpi", {"since": "2026-02-01", "until": "2026-03-01"},
                                      cron="* * * * *", channels=[{"type": "email", "to": ["bob"]}],
                                      lookback_days=None)
        t0 = time.perf_counter()
        out = ws.deliver(now)
        wall = time.perf_counter() - t0
        runs = [r for i in range(args.subscriptions) for r in acme.subscriptions.runs(f"kpi-{i}").to_dict("records")]
        per_run = sorted(r["seconds"] for r in runs)
        # the outbox alone: messages that are already rendered
        with ws.db.session(write=True) as s:
            for i in range(args.messages):
                drepo.enqueue(s, brand_id=acme.id, dedupe_key=f"bench:{i}", channel="email",
                              target="bob@example.com", subject=f"message {i}", payload={"text": "hello"})
        t1 = time.perf_counter()
        sent, _ = send_due(ws, datetime.now(timezone.utc) + timedelta(seconds=1))
        send_wall = time.perf_counter() - t1
        ws.close()
    smtp.stop()
    print(json.dumps({"subscriptions": args.subscriptions, "rendered": out["rendered"], "emails": box.count,
                      "wall_s": round(wall, 1), "first_run_end_to_end_s": round(per_run[0], 1), "median_run_s": round(per_run[len(per_run) // 2], 1),
                      "max_run_s": round(per_run[-1], 1),
                      "subscriptions_per_minute": round(60 * out["rendered"] / wall, 1),
                      "outbox_messages": sent, "outbox_messages_per_s": round(sent / send_wall, 1)}))


if __name__ == "__main__":
    main()
