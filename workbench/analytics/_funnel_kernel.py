"""The funnel's per-user walk, compiled with numba.

Input: the step events grouped by user (all users one after another, in any order
inside a user); the walk first puts each user's rows in time order. For every step-1 row (an attempt) the chain takes, step by step, the
earliest eligible row: at or after the previous step's time (strictly after when the
previous step names the same event), after the row used by the last earlier step of
the same event, and within the window of step 1. A user's counted attempt is the
first attempt (earliest time, then earliest row) reaching their furthest step.

Rows that tie in time keep an arbitrary order; every choice above depends on
time groups, never on the order inside one, except that two rows of one event at one
time are interchangeable.
"""
from __future__ import annotations

import os

import numpy as np
from numba import njit

from ._user_groups import group_slices, in_threads

NO_TIME = np.iinfo(np.int64).min
_MAX_SLICE_ROWS = 2**31 - 2  # walk's scratch holds int32 row offsets


@njit(cache=True, nogil=True)
def _time_order(codes, times, pos, s, e):  # pragma: no cover
    """Sort rows s..e-1 by time, in place in the three arrays (ties in any order)."""
    for i in range(s + 1, e):
        if times[i] < times[i - 1]:
            break
    else:
        return
    if e - s <= 32:
        for i in range(s + 1, e):
            c, t, p = codes[i], times[i], pos[i]
            j = i - 1
            while j >= s and times[j] > t:
                codes[j + 1], times[j + 1], pos[j + 1] = codes[j], times[j], pos[j]
                j -= 1
            codes[j + 1], times[j + 1], pos[j + 1] = c, t, p
        return
    perm = np.argsort(times[s:e], kind="mergesort") + s
    codes[s:e] = codes[perm]
    times[s:e] = times[perm]
    pos[s:e] = pos[perm]


@njit(cache=True, nogil=True)
def walk(group_start, codes, times, pos, step_codes, strict, last_same, window, n_codes):  # pragma: no cover
    """Per user (group g = rows group_start[g]:group_start[g+1]) with a step-1 row:
    level, step times (NO_TIME beyond the level), entered, last_start, the user's first
    step-1 row (``touch``) and the end of the run of rows at that same time
    (``touch_end``: the first-touch value is the smallest among their step-1 rows). Users
    without a step-1 row are left out (``keep`` False).

    Each group's rows are first put in time order, in place, in ``codes``, ``times`` and
    ``pos`` (the rows' original positions); ``touch`` and ``touch_end`` are positions in
    that order. Releases the GIL: disjoint slices of users can run in threads."""
    n_groups = group_start.shape[0] - 1
    n_steps = step_codes.shape[0]
    base = group_start[0]
    n = group_start[n_groups] - base
    level = np.zeros(n_groups, np.int64)
    out_t = np.full((n_groups, n_steps), NO_TIME, np.int64)
    entered = np.full(n_groups, NO_TIME, np.int64)
    last_start = np.full(n_groups, NO_TIME, np.int64)
    touch = np.full(n_groups, -1, np.int64)
    touch_end = np.full(n_groups, -1, np.int64)
    keep = np.zeros(n_groups, np.bool_)
    # Scratch indexed by row - base, holding rows - base (int32: a slice has < 2**31 rows):
    # nxt[i, c]: the first row at index >= i of the same user with code c, or -1;
    # tie_start[i] / tie_end[i]: the first row of i's run of equal times / the row after it.
    nxt = np.empty((n + 1, n_codes), np.int32)
    tie_start = np.empty(n, np.int32)
    tie_end = np.empty(n, np.int32)
    idx = np.empty(n_steps, np.int64)
    first_code = step_codes[0]
    for g in range(n_groups):
        _time_order(codes, times, pos, group_start[g], group_start[g + 1])
        s, e = group_start[g] - base, group_start[g + 1] - base
        for c in range(n_codes):
            nxt[e, c] = -1
        for i in range(e - 1, s - 1, -1):
            for c in range(n_codes):
                nxt[i, c] = nxt[i + 1, c]
            nxt[i, codes[i + base]] = i
        for i in range(s, e):
            tie_start[i] = i if i == s or times[i + base - 1] != times[i + base] else tie_start[i - 1]
        for i in range(e - 1, s - 1, -1):
            tie_end[i] = i + 1 if i == e - 1 or times[i + base + 1] != times[i + base] else tie_end[i + 1]
        best = 0
        for a in range(s, e):  # relative rows; times/codes are read at row + base
            if codes[a + base] != first_code:
                continue
            if not keep[g]:
                keep[g] = True
                entered[g] = times[a + base]
                touch[g] = a + base
                touch_end[g] = tie_end[a] + base
            last_start[g] = times[a + base]
            if best == n_steps:
                continue
            idx[0] = a
            reached = 1
            limit = times[a + base] + window
            for k in range(1, n_steps):
                prev = idx[k - 1]
                q = tie_end[prev] if strict[k] else tie_start[prev]
                if last_same[k] >= 0 and idx[last_same[k]] + 1 > q:
                    q = idx[last_same[k]] + 1
                j = nxt[q, step_codes[k]]
                if j < 0 or times[j + base] > limit:
                    break
                idx[k] = j
                reached = k + 1
            if reached > best:
                best = reached
                for k in range(reached):
                    out_t[g, k] = times[idx[k] + base]
        level[g] = best
    return keep, level, out_t, entered, last_start, touch, touch_end


def walk_threads(group_start, *args, threads: int | None = None):
    """:func:`walk` over slices of users in ``threads`` threads (default: one per core, when
    there are enough users); the same result as one call."""
    n_groups = group_start.shape[0] - 1
    threads = max(1, min(threads or os.cpu_count() or 1, n_groups // 10_000 or 1))
    slices = max(threads, int(group_start[-1] - group_start[0]) // _MAX_SLICE_ROWS + 1)
    if slices == 1:
        return walk(group_start, *args)
    results = in_threads(lambda g0, g1: walk(group_start[g0:g1 + 1], *args), group_slices(group_start, slices),
                         threads)
    return tuple(np.concatenate([r[i] for r in results]) for i in range(len(results[0])))
