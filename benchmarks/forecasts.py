"""Fits per second for 100 daily series (180 days each, weekly pattern + trend + noise):
serial against both cores (process pool), in one run.

    python benchmarks/forecasts.py [--series 100] [--days 180] [--horizon 28]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from workbench.analytics import forecast_many


def make_series(n: int, days: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    out = {}
    for i in range(n):
        level, slope, amp = rng.uniform(50, 500), rng.uniform(-0.2, 1.0), rng.uniform(5, 60)
        y = level + slope * t + amp * np.sin(2 * np.pi * (t + i) / 7) + rng.normal(0, amp / 4, days)
        out[f"series_{i:03d}"] = pd.DataFrame({"ds": pd.date_range("2026-01-05", periods=days), "y": y})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--horizon", type=int, default=28)
    args = parser.parse_args()
    series = make_series(args.series, args.days)
    warm = dict(list(series.items())[:4])
    t0 = time.perf_counter()
    forecast_many(warm, args.horizon, n_jobs=2)
    print(f"starting 2 worker processes and 4 fits: {time.perf_counter() - t0:.1f} s (paid once per process)")
    forecast_many(warm, args.horizon, n_jobs=1)
    timings = {}
    for n_jobs in (1, 2):
        t0 = time.perf_counter()
        results = forecast_many(series, args.horizon, n_jobs=n_jobs)
        timings[n_jobs] = time.perf_counter() - t0
        failed = sum(1 for _, _, err in results.values() if err)
        print(f"n_jobs={n_jobs}: {args.series} fits in {timings[n_jobs]:.1f} s = "
              f"{args.series / timings[n_jobs]:.1f} fits/s ({failed} failed)")
    print(f"speed-up with both cores: {timings[1] / timings[2]:.2f}x")


if __name__ == "__main__":
    main()
