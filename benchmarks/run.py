"""Analytics speed against chdb (ClickHouse in-process) on the same Parquet files, in one run.

    python benchmarks/run.py [--sizes 10e6 50e6] [--repeats 3] [--dir data/bench]

For each size it writes a seeded event log (benchmarks/eventlog.py), then times, in a
fresh process each (so that peak memory is the task's own): funnel for one brand,
funnel for all brands broken down by brand (4 steps, 7-day window), and weekly
retention (12 periods), for workbench (DuckDB) and for chdb at its fastest
(integer timestamps, non-nullable schema inference, events pre-filtered to the
steps; a groupBitOr bitmask for retention). Results are checked to be equal.
Prints medians, the ratio workbench / chdb (below 1.0: workbench is faster) and peak memory.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from eventlog import write_log  # noqa: E402

TASKS = ["funnel_one_brand", "funnel_by_brand", "retention"]


def measure(engine: str, task: str, path: Path, repeats: int) -> dict:
    out = subprocess.run([sys.executable, str(HERE / "tasks.py"), engine, task, str(path), str(repeats)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["10e6", "50e6"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("data/bench"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    print(f"{'rows':>6} {'task':<18} {'workbench s':>11} {'chdb s':>8} {'ratio':>6} {'wb peak MB':>10} "
          f"{'chdb peak MB':>12}  same result")
    for size in args.sizes:
        rows = int(float(size))
        path = args.dir / f"events_{rows // 1_000_000}M.parquet"
        if not path.exists():
            write_log(path, rows, seed=0)
        for task in TASKS:
            wb = measure("workbench", task, path, args.repeats)
            ch = measure("chdb", task, path, args.repeats)
            print(f"{rows // 1_000_000:>5}M {task:<18} {wb['seconds']:>11.2f} {ch['seconds']:>8.2f} "
                  f"{wb['seconds'] / ch['seconds']:>6.2f} {wb['peak_mb']:>10.0f} {ch['peak_mb']:>12.0f}  "
                  f"{wb['result'] == ch['result']}", flush=True)


if __name__ == "__main__":
    main()
