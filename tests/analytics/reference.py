"""Deliberately simple pure-Python references for the analytics, used as oracles in tests.

They follow the written semantics literally (brute force over row assignments), with
no cleverness shared with the DuckDB implementation.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import timedelta


def _reach(rows, steps, k, t_prev, t1, window, used) -> int:
    """Furthest step (count) reachable, having matched steps[:k] with last time t_prev."""
    if k == len(steps):
        return k
    best = k
    for i, (t, name) in enumerate(rows):
        if i in used or name != steps[k] or t > t1 + window:
            continue
        if t < t_prev or (steps[k] == steps[k - 1] and t <= t_prev):
            continue
        best = max(best, _reach(rows, steps, k + 1, t, t1, window, used | {i}))
        if best == len(steps):
            break
    return best


def _greedy(rows, steps, start, window):
    """Times of the greedy chain from row `start`: each step takes the earliest eligible unused row."""
    t1 = rows[start][0]
    times, used = [t1], {start}
    for k in range(1, len(steps)):
        cands = [(t, i) for i, (t, name) in enumerate(rows)
                 if i not in used and name == steps[k] and t <= t1 + window
                 and (t > times[-1] if steps[k] == steps[k - 1] else t >= times[-1])]
        if not cands:
            break
        t, i = min(cands)
        times.append(t)
        used.add(i)
    return times


def funnel_reference(events: list[tuple[str, str, object]], steps: list[str], window: timedelta):
    """events: (user, event, ts). Returns {user: (level, [t1..t_level])}."""
    by_user = defaultdict(list)
    for user, name, ts in events:
        by_user[user].append((ts, name))
    out = {}
    for user, rows in by_user.items():
        rows.sort(key=lambda r: r[0])
        starts = [i for i, (t, name) in enumerate(rows) if name == steps[0]]
        if not starts:
            continue
        levels = [(_reach(rows, steps, 1, rows[i][0], rows[i][0], window, {i}), rows[i][0], i) for i in starts]
        best = max(level for level, _, _ in levels)
        first = min((t, i) for level, t, i in levels if level == best)[1]
        times = _greedy(rows, steps, first, window)
        assert len(times) == best, "greedy chain from the counted attempt must reach the furthest step"
        out[user] = (best, times)
    return out


def funnel_table_reference(events, steps, window):
    users = funnel_reference(events, steps, window)
    n1 = len(users)
    rows, prev = [], n1
    for k in range(1, len(steps) + 1):
        reached = [times for level, times in users.values() if level >= k]
        med = (statistics.median((t[k - 1] - t[k - 2]).total_seconds() for t in reached)
               if k > 1 and reached else None)
        rows.append({"step": k, "users": len(reached),
                     "step_conversion": (1.0 if n1 else None) if k == 1 else (len(reached) / prev if prev else None),
                     "median_seconds_from_previous": med})
        prev = len(reached)
    return rows


def retention_reference(events, period: str, periods: int, mode: str, start_event=None, return_event=None):
    """events: (user, event, ts naive UTC). Returns {(cohort_start, k): users} and sizes."""
    import pandas as pd

    def index(ts):
        if period == "day":
            return (ts.normalize() - pd.Timestamp("1970-01-01")).days
        if period == "week":
            return (ts.normalize() - pd.Timestamp("1970-01-05")).days // 7
        return ts.year * 12 + ts.month - 1

    first = {}
    for user, name, ts in events:
        if start_event is None or name == start_event:
            if user not in first or ts < first[user]:
                first[user] = ts
    cohort = {u: index(t) for u, t in first.items()}
    active = defaultdict(set)
    for user, name, ts in events:
        if user in cohort and (return_event is None or name == return_event):
            k = index(ts) - cohort[user]
            if k >= 1:
                active[user].add(k)
    counts = defaultdict(int)
    sizes = defaultdict(int)
    for user, c in cohort.items():
        sizes[c] += 1
        for k in range(1, periods + 1):
            ks = active[user]
            hit = (k in ks) if mode == "on" else any(x >= k for x in ks)
            counts[(c, k)] += hit
    return sizes, counts, index
