"""One benchmark measurement, run in its own process so that peak memory is its own.

Usage: python benchmarks/tasks.py ENGINE TASK PARQUET [REPEATS]
Prints one JSON line: seconds (median of the repeats), peak_mb and a result digest.
"""
from __future__ import annotations

import json
import resource
import statistics
import sys
import time

STEPS = ["view", "add_to_cart", "checkout", "purchase"]
WINDOW_US = 7 * 86_400_000_000
WEEK_US = 604_800_000_000
MONDAY_US = 345_600_000_000  # 1970-01-05


def workbench_task(task: str, path: str):
    import duckdb

    from workbench.analytics import funnel, retention

    if task == "funnel_one_brand":
        con = duckdb.connect()
        rel = con.read_parquet(path).filter("brand = 'acme'")
        out = funnel(rel, STEPS, "7d")
        return out["users"].tolist()
    if task == "funnel_by_brand":
        out = funnel(path, STEPS, "7d", breakdown="brand")
        return out.sort_values(["breakdown", "step"])["users"].tolist()
    if task == "retention":
        out = retention(path, period="week", periods=12)
        return int(out["users"].sum())
    raise SystemExit(f"unknown task {task}")


def chdb_task(task: str, path: str):
    import chdb

    src = f"file('{path}', Parquet)"
    fast = "SETTINGS schema_inference_make_columns_nullable = 0"
    conds = ", ".join(f"event = '{s}'" for s in STEPS)
    names = ", ".join(f"'{s}'" for s in STEPS)
    if task == "funnel_one_brand":
        q = (f"SELECT level, count() AS n FROM (SELECT user_id, windowFunnel({WINDOW_US})(toUInt64(ts_us), {conds}) "
             f"AS level FROM {src} WHERE brand = 'acme' AND event IN ({names}) GROUP BY user_id) "
             f"GROUP BY level ORDER BY level {fast}")
        rows = [tuple(map(int, line.split(","))) for line in str(chdb.query(q, "CSV")).split()]
        counts = dict(rows)
        return [sum(n for lv, n in counts.items() if lv >= k) for k in range(1, 5)]
    if task == "funnel_by_brand":
        q = (f"SELECT brand, level, count() AS n FROM (SELECT brand, user_id, "
             f"windowFunnel({WINDOW_US})(toUInt64(ts_us), {conds}) AS level FROM {src} "
             f"WHERE event IN ({names}) GROUP BY brand, user_id) GROUP BY brand, level ORDER BY brand, level {fast}")
        rows = [line.split(",") for line in str(chdb.query(q, "CSV")).split()]
        by = {}
        for b, lv, n in rows:
            by.setdefault(b.strip('"'), {})[int(lv)] = int(n)
        return [sum(n for lv, n in by[b].items() if lv >= k) for b in sorted(by) for k in range(1, 5)]
    if task == "retention":
        # cohort week and a bitmask of active weeks per user (groupBitOr), then counts per (cohort, k)
        q = f"""
        WITH u AS (
            SELECT min(w) AS c, groupBitOr(bitShiftLeft(toUInt64(1), toUInt64(w - base))) AS m, any(base) AS b
            FROM (SELECT user_id, intDiv(ts_us - {MONDAY_US}, {WEEK_US}) AS w,
                         (SELECT min(intDiv(ts_us - {MONDAY_US}, {WEEK_US})) FROM {src}) AS base FROM {src})
            GROUP BY user_id)
        SELECT sum(users) FROM (
            SELECT c, k, countIf(bitAnd(bitShiftRight(m, toUInt64(c - b + k)), 1) = 1) AS users
            FROM u ARRAY JOIN range(1, 13) AS k GROUP BY c, k)
        {fast}"""
        users_after = int(str(chdb.query(q, "CSV")).strip())
        sizes = int(str(chdb.query(f"SELECT uniqExact(user_id) FROM {src} {fast}", "CSV")).strip())
        return users_after + sizes
    raise SystemExit(f"unknown task {task}")


def _peak_rss_mb() -> float:
    """This process's own peak resident memory (VmHWM). getrusage's ru_maxrss would also
    count the parent's memory at fork time."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    engine, task, path = sys.argv[1:4]
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    fn = {"workbench": workbench_task, "chdb": chdb_task}[engine]
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn(task, path)
        times.append(time.perf_counter() - t0)
    peak_mb = _peak_rss_mb()
    print(json.dumps({"seconds": statistics.median(times), "peak_mb": peak_mb, "result": result}))


if __name__ == "__main__":
    main()
