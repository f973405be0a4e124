"""A batch of 1,000 generations with the default provider and 20% injected transient failures:
total time, and orchestration overhead per generation (time beyond the provider's own calls).

    python benchmarks/studio.py [--n 1000] [--concurrency 4]
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import workbench as wb
from workbench.errors import TransientProviderError
from workbench.studio import RetryPolicy, register_provider, run_batch
from workbench.studio.providers import LocalProvider


class Injected(LocalProvider):
    """The local provider, failing transiently on 20% of calls (seeded by id and attempt)."""
    name = "injected"
    lock = threading.Lock()
    busy = 0.0  # total seconds spent inside provider calls
    calls: dict = {}

    def generate(self, request, out_dir: Path):
        t0 = time.perf_counter()
        try:
            with Injected.lock:
                n = Injected.calls[request.generation_id] = Injected.calls.get(request.generation_id, 0) + 1
            if (request.generation_id * 7919 + n * 104729) % 100 < 20 and n < 3:
                raise TransientProviderError("injected 503")
            return super().generate(request, out_dir)
        finally:
            with Injected.lock:
                Injected.busy += time.perf_counter() - t0


register_provider("injected", Injected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = wb.open(Path(tmp) / "data")
        st = ws.brand("bench").studio
        t0 = time.perf_counter()
        for i in range(args.n):
            st.request("TEMPLATE", f"landing page {i}", {"sections": 2}, provider="injected")
        accept = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = run_batch(ws.db, ws.artifacts_path, concurrency=args.concurrency,
                           policy=RetryPolicy(backoff=(0.0, 0.0), timeout=30, lease=600))
        total = time.perf_counter() - t0
        retried = sum(1 for n in Injected.calls.values() if n > 1)
        # provider time is summed over `concurrency` threads; per generation, wall-clock overhead is
        # what the batch took beyond the provider's own work spread over the workers
        overhead = (total - Injected.busy / args.concurrency) / args.n
        print(f"accepted {args.n} requests in {accept:.1f} s ({accept / args.n * 1000:.1f} ms each, budget checks included)")
        print(f"ran {args.n}: {result.succeeded} succeeded, {result.failed} failed, {retried} needed a retry "
              f"({sum(Injected.calls.values())} provider calls)")
        print(f"batch wall time {total:.1f} s; provider time {Injected.busy:.1f} s over {args.concurrency} threads")
        print(f"orchestration overhead: {overhead * 1000:.1f} ms per generation (target < 25 ms)")
        ws.close()


if __name__ == "__main__":
    main()
