"""Portal under load, on loopback only: 200 concurrent signed-in readers of one report page and
its thread (each reader its own session), bounded in count and time.

Prints requests per second, p50/p99 latency and the error count. The server is uvicorn in its
own process (one worker, as `workbench serve` runs it), the load comes from this one. Readers
pause ``--think`` seconds on average (0.5x to 1.5x, uniformly) between page loads, as people
reading do; ``--think 0`` is a closed loop that measures the most the server can take.

    python benchmarks/portal.py [--readers 200] [--requests 2000] [--seconds 60] [--think 5]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SECRET = "bench-7Qp2vL9sK4mN8rT1wY6zB3cD5fG0hJ2x"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup(home: Path, readers: int) -> tuple[int, list[str]]:
    """A brand with a rendered report, a thread of 20 comments and ``readers`` members with tokens."""
    import workbench as wb
    from workbench.datasets import generate_events
    from workbench.portal import create_token

    ws = wb.open(home)
    acme = ws.brand("acme")
    acme.ingest(generate_events(brands=1, users=500, days=35, seed=1).events)
    acme.members.add("owner")
    owner = ws.brand("acme", user="owner")
    rid = owner.report("funnel", window="3d").id
    first = owner.collab.comment("report", rid, "First look: **checkout** is the weak step.")
    for i in range(19):
        owner.collab.comment("report", rid, f"Note {i}", reply_to=first if i % 2 else None)
    tokens = []
    for i in range(readers):
        acme.members.add(f"reader{i}")
        owner.collab.share("report", rid, f"reader{i}", "COMMENT")
        tokens.append(create_token(ws.db, acme.id, f"reader{i}").token)
    ws.close()
    return rid, tokens


async def _reader(client: httpx.AsyncClient, url: str, name: str, token: str, rid: int, budget, latencies,
                  errors, deadline: float, think: float) -> None:
    page = await client.get(f"{url}/signin")
    form_token = page.text.split('name="form_token" value="')[1].split('"')[0]
    r = await client.post(f"{url}/signin", data={"brand": "acme", "user": name, "token": token,
                                                 "form_token": form_token}, headers={"Origin": url})
    if r.status_code != 303:
        errors.append(f"sign-in {r.status_code}")
        return
    if think:  # readers arrive spread over one think time, not in the same instant
        await asyncio.sleep(random.uniform(0, think))
    while time.perf_counter() < deadline and budget[0] > 0:
        budget[0] -= 1
        t0 = time.perf_counter()
        try:
            r = await client.get(f"{url}/reports/{rid}")
            ok = r.status_code == 200 and "Comments" in r.text
        except httpx.HTTPError as exc:
            ok, r = False, f"{type(exc).__name__}: {exc}"
        latencies.append(time.perf_counter() - t0)
        if not ok:
            errors.append(str(getattr(r, "status_code", r)))
        if think:
            await asyncio.sleep(random.uniform(0.5 * think, 1.5 * think))


async def _load(url: str, rid: int, tokens: list[str], total: int, seconds: float, think: float):
    latencies, errors, budget = [], [], [total]
    limits = httpx.Limits(max_connections=len(tokens) + 10, max_keepalive_connections=len(tokens) + 10)
    deadline = time.perf_counter() + seconds
    clients = [httpx.AsyncClient(timeout=30, limits=limits, follow_redirects=False) for _ in tokens]
    started = time.perf_counter()
    await asyncio.gather(*(_reader(c, url, f"reader{i}", t, rid, budget, latencies, errors, deadline, think)
                           for i, (c, t) in enumerate(zip(clients, tokens))))
    wall = time.perf_counter() - started
    for c in clients:
        await c.aclose()
    return latencies, errors, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=5.0, help="mean seconds between a reader's page loads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "data"
        rid, tokens = _setup(home, args.readers)
        port = _port()
        env = {**os.environ, "WORKBENCH_HOME": str(home), "WORKBENCH_PORTAL_SECRET": SECRET}
        server = subprocess.Popen([sys.executable, "-m", "workbench.cli", "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(url + "/signin", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            latencies, errors, wall = asyncio.run(_load(url, rid, tokens, args.requests, args.seconds, args.think))
        finally:
            server.terminate()
            server.wait(10)
    latencies.sort()
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    print(json.dumps({"readers": args.readers, "think_s": args.think, "requests": len(latencies), "wall_s": round(wall, 2),
                      "requests_per_s": round(len(latencies) / wall, 1), "p50_ms": round(pct(0.50), 1),
                      "p99_ms": round(pct(0.99), 1), "errors": len(errors), "first_errors": errors[:5]}))


if __name__ == "__main__":
    main()
