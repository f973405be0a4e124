"""Group rows by a 64-bit user key, compiled with numba.

The funnel reads its step rows unsorted and groups them here, which is cheaper than a
full sort in the database: rows are spread into buckets by the key's top bits (a
histogram and one scatter, in threads over row ranges), then each bucket, a few hundred
rows, is ordered by a counting pass on the next 8 bits and an insertion sort. The keys
must be spread evenly over 64 bits: a hash, or :func:`mix` of integer ids.

Equal keys do not prove equal ids unless the key is a bijection of the id (``mix``):
:func:`one_id_per_group` checks string ids exactly, through an 8-byte fingerprint that
*is* the id for ids of up to 7 bytes and a byte-for-byte comparison for longer ones.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

__all__ = ["Grouped", "group_by_key", "mix", "fingerprints", "one_id_per_group", "is_string", "in_threads", "threads_for",
           "row_slices", "group_slices"]

_LONG = np.uint64(1 << 63)  # fingerprint flag: the id has more than 7 bytes
_MIN_ROWS_PER_THREAD = 100_000
_LARGE_BUCKET = 4096  # rows; larger buckets are merge-sorted


def in_threads(fn, tasks: list[tuple], threads: int) -> list:
    """``fn(*task)`` for each task, in up to ``threads`` threads (the kernels release the
    GIL); results in order."""
    if threads <= 1 or len(tasks) <= 1:
        return [fn(*task) for task in tasks]
    with ThreadPoolExecutor(min(threads, len(tasks))) as pool:
        return list(pool.map(lambda task: fn(*task), tasks))


def threads_for(n: int) -> int:
    """Threads worth starting for ``n`` rows: one per core, at least 100,000 rows each."""
    return max(1, min(os.cpu_count() or 1, n // _MIN_ROWS_PER_THREAD))


def row_slices(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive (start, end) ranges of about equal size covering 0..n."""
    cuts = np.linspace(0, n, parts + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:])]


def group_slices(starts: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Up to ``parts`` non-empty ranges of groups (g0, g1) with about equal rows; a group
    (rows ``starts[g]:starts[g+1]``) is never cut."""
    n_groups = len(starts) - 1
    cuts = np.searchsorted(starts, np.linspace(starts[0], starts[-1], parts + 1)[1:-1])
    bounds = [0, *sorted(set(int(c) for c in cuts)), n_groups]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


@njit(cache=True, nogil=True)
def _mix(values, lo, hi, out):  # pragma: no cover
    for i in range(lo, hi):  # splitmix64's finaliser: a bijection of 64-bit integers
        z = values[i]
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        out[i] = z ^ (z >> np.uint64(31))


def mix(ids: np.ndarray) -> np.ndarray:
    """Integer ids as evenly spread 64-bit keys; distinct ids always get distinct keys."""
    values = np.ascontiguousarray(ids).astype(np.uint64, copy=False)
    out = np.empty(len(values), np.uint64)
    threads = threads_for(len(values))
    in_threads(lambda a, b: _mix(values, a, b, out), row_slices(len(values), threads), threads)
    return out


@njit(cache=True, nogil=True)
def _histogram(keys, lo, hi, shift, counts):  # pragma: no cover
    for i in range(lo, hi):
        counts[keys[i] >> shift] += 1


@njit(cache=True, nogil=True)
def _scatter(keys, codes, times, fp, lo, hi, shift, offsets, out_keys, perm, out_codes, out_times,
             out_fp):  # pragma: no cover
    """Rows lo..hi-1 to their buckets' next free slots (``offsets``), with their payload."""
    has_fp = fp.shape[0] > 0
    for i in range(lo, hi):
        b = keys[i] >> shift
        o = offsets[b]
        out_keys[o] = keys[i]
        perm[o] = i
        out_codes[o] = codes[i]
        out_times[o] = times[i]
        if has_fp:
            out_fp[o] = fp[i]
        offsets[b] = o + 1


@njit(cache=True, nogil=True)
def _permute(values, s, order, tmp):  # pragma: no cover
    """values[s:s+m] = values[s:s+m][order], through ``tmp`` (no allocation)."""
    m = order.shape[0]
    for k in range(m):
        tmp[k] = values[s + order[k]]
    for k in range(m):
        values[s + k] = tmp[k]


@njit(cache=True, nogil=True)
def _sort_buckets(bounds, b0, b1, shift, keys, perm, codes, times, fp, is_start):  # pragma: no cover
    """Order buckets b0..b1-1 by key, moving the payload alongside, and mark where each
    key starts. A bucket of the expected size (a few hundred rows) gets a counting pass on
    the next 8 bits, which leaves it nearly sorted, then an insertion sort; a large one
    (a few users with very many rows) a merge sort."""
    has_fp = fp.shape[0] > 0
    counts = np.zeros(257, np.int64)
    largest = 0
    for b in range(b0, b1):
        largest = max(largest, bounds[b + 1] - bounds[b])
    order = np.empty(largest, np.int64)
    tmp_u, tmp_i = np.empty(largest, np.uint64), np.empty(largest, np.int64)
    tmp_c, tmp_t = np.empty(largest, codes.dtype), np.empty(largest, times.dtype)
    for b in range(b0, b1):
        s, e = bounds[b], bounds[b + 1]
        m = e - s
        if m > 24:
            if m > _LARGE_BUCKET:
                order[:m] = np.argsort(keys[s:e], kind="mergesort")
            else:  # a counting pass on the next 8 bits
                counts[:] = 0
                for i in range(s, e):
                    counts[((keys[i] >> shift) & np.uint64(255)) + 1] += 1
                for d in range(256):
                    counts[d + 1] += counts[d]
                for i in range(s, e):
                    d = (keys[i] >> shift) & np.uint64(255)
                    order[counts[d]] = i - s
                    counts[d] += 1
            _permute(keys, s, order[:m], tmp_u)
            _permute(perm, s, order[:m], tmp_i)
            _permute(codes, s, order[:m], tmp_c)
            _permute(times, s, order[:m], tmp_t)
            if has_fp:
                _permute(fp, s, order[:m], tmp_u)
        for i in range(s + 1, e):
            k = keys[i]
            if k >= keys[i - 1]:
                continue
            p, c, t = perm[i], codes[i], times[i]
            f = fp[i] if has_fp else np.uint64(0)
            j = i - 1
            while j >= s and keys[j] > k:
                keys[j + 1], perm[j + 1], codes[j + 1], times[j + 1] = keys[j], perm[j], codes[j], times[j]
                if has_fp:
                    fp[j + 1] = fp[j]
                j -= 1
            keys[j + 1], perm[j + 1], codes[j + 1], times[j + 1] = k, p, c, t
            if has_fp:
                fp[j + 1] = f
        for i in range(s, e):
            is_start[i] = i == s or keys[i] != keys[i - 1]


class Grouped(NamedTuple):
    """Rows grouped by key: group g is rows ``starts[g]:starts[g+1]`` of ``perm`` (the
    original row indexes), ``codes``, ``times`` and ``fp`` (fingerprints, if given)."""
    starts: np.ndarray
    perm: np.ndarray
    codes: np.ndarray
    times: np.ndarray
    fp: np.ndarray


def group_by_key(keys: np.ndarray, codes: np.ndarray, times: np.ndarray, fp: np.ndarray | None = None,
                 threads: int | None = None) -> Grouped:
    """Group rows by ``keys`` (ascending), carrying their ``codes``, ``times`` and ``fp``.
    Rows inside a group keep no particular order. New, writable arrays."""
    keys = np.ascontiguousarray(keys, dtype=np.uint64)
    fp = np.empty(0, np.uint64) if fp is None else fp
    n = len(keys)
    threads = threads or threads_for(n)
    bits = int(min(16, max(1, np.ceil(np.log2(max(n, 2) / 128)))))
    shift = np.uint64(64 - bits)
    rows = [(i, a, b) for i, (a, b) in enumerate(row_slices(n, threads))]
    counts = np.zeros((threads, 1 << bits), np.int64)
    in_threads(lambda i, a, b: _histogram(keys, a, b, shift, counts[i]), rows, threads)
    bounds = np.zeros((1 << bits) + 1, np.int64)
    np.cumsum(counts.sum(axis=0), out=bounds[1:])
    offsets = bounds[:-1] + np.cumsum(counts, axis=0) - counts  # per thread: where its rows of a bucket go
    out = Grouped(np.empty(0, np.int64), np.empty(n, np.int64), np.empty(n, codes.dtype), np.empty(n, times.dtype),
                  np.empty(len(fp), np.uint64))
    out_keys = np.empty(n, np.uint64)
    in_threads(lambda i, a, b: _scatter(keys, codes, times, fp, a, b, shift, offsets[i], out_keys, out.perm,
                                        out.codes, out.times, out.fp), rows, threads)
    is_start = np.empty(n, np.bool_)
    in_threads(lambda b0, b1: _sort_buckets(bounds, b0, b1, np.uint64(64 - bits - 8), out_keys, out.perm, out.codes,
                                            out.times, out.fp, is_start), group_slices(bounds, threads), threads)
    return out._replace(starts=np.append(np.flatnonzero(is_start), n).astype(np.int64))


def _string_buffers(ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    width = np.int32 if pa.types.is_string(ids.type) else np.int64
    offsets = np.frombuffer(ids.buffers()[1], width)[ids.offset:ids.offset + len(ids) + 1]
    return offsets, np.frombuffer(ids.buffers()[2] or b"", np.uint8)


def is_string(ids: pa.Array | pa.ChunkedArray) -> bool:
    return pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)


@njit(cache=True, nogil=True)
def _fingerprints(offsets, data, lo, hi, out):  # pragma: no cover
    """Ids of up to 7 bytes: their length and bytes (so equal fingerprints are equal ids);
    longer ids: flagged, with their length and first 5 bytes."""
    for i in range(lo, hi):
        a = offsets[i]
        m = offsets[i + 1] - a
        if m <= 7:
            v = np.uint64(m) << np.uint64(56)
            for j in range(m):
                v |= np.uint64(data[a + j]) << np.uint64(8 * j)
        else:
            v = _LONG | (np.uint64(m & 0xFFFF) << np.uint64(40))
            for j in range(5):
                v |= np.uint64(data[a + j]) << np.uint64(8 * j)
        out[i] = v


def fingerprints(ids: pa.Array) -> np.ndarray:
    """An 8-byte fingerprint of each string id, for :func:`one_id_per_group`."""
    offsets, data = _string_buffers(ids)
    out = np.empty(len(ids), np.uint64)
    threads = threads_for(len(ids))
    in_threads(lambda a, b: _fingerprints(offsets, data, a, b, out), row_slices(len(ids), threads), threads)
    return out


@njit(cache=True, nogil=True)
def _same_ids(starts, g0, g1, perm, fp, offsets, data):  # pragma: no cover
    for g in range(g0, g1):
        s = starts[g]
        lead = perm[s]
        for i in range(s + 1, starts[g + 1]):
            if fp[i] != fp[s]:
                return False
            if fp[s] & _LONG:
                a, b = offsets[lead], offsets[perm[i]]
                if offsets[perm[i] + 1] - b != offsets[lead + 1] - a:
                    return False
                for j in range(offsets[lead + 1] - a):
                    if data[a + j] != data[b + j]:
                        return False
    return True


def one_id_per_group(grouped: Grouped, ids: pa.Array) -> bool:
    """True when the rows of each group share one id. For string ids, ``grouped`` must
    carry their :func:`fingerprints`."""
    starts, perm = grouped.starts, grouped.perm
    if len(ids) == 0:
        return True
    if not is_string(ids):
        firsts = np.repeat(perm[starts[:-1]], np.diff(starts))
        return bool(pc.all(pc.equal(ids.take(pa.array(perm)), ids.take(pa.array(firsts)))).as_py())
    if len(grouped.fp) != len(ids):
        raise ValueError("string ids are checked through their fingerprints: group them with fp=fingerprints(ids)")
    offsets, data = _string_buffers(ids)
    threads = threads_for(len(ids))
    return all(in_threads(lambda g0, g1: _same_ids(starts, g0, g1, perm, grouped.fp, offsets, data),
                          group_slices(starts, threads), threads))
