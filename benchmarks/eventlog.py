"""Seeded synthetic event logs for benchmarks, written as Parquet in row groups.

About 20 event names, 5 brands, 90 days. Users act in sessions; within a session,
events follow a shop path (view -> add_to_cart -> checkout -> purchase) with
drop-offs, mixed with 16 other event names, so funnels have realistic conversion.
Columns: brand, user_id (string), event, ts (timestamp[us, UTC]), ts_us (int64, the
same instant in microseconds, for engines that want integer time), revenue.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BRANDS = ["acme", "globex", "initech", "umbrella", "hooli"]
PATH_EVENTS = ["view", "add_to_cart", "checkout", "purchase"]
OTHER_EVENTS = ["session_start", "search", "scroll", "click", "share", "like", "comment", "signup", "login",
                "logout", "settings", "notification_open", "wishlist_add", "review", "coupon_apply",
                "generation_requested"]
START_US = 1_767_571_200_000_000  # 2026-01-05 00:00 UTC
DAY_US = 86_400_000_000


def write_log(path: Path, rows: int, *, seed: int = 0, days: int = 90, chunk: int = 5_000_000) -> Path:
    rng = np.random.default_rng(seed)
    names = np.array(PATH_EVENTS + OTHER_EVENTS)
    n_users = max(1000, rows // 60)
    schema = pa.schema([("brand", pa.string()), ("user_id", pa.string()), ("event", pa.string()),
                        ("ts", pa.timestamp("us", tz="UTC")), ("ts_us", pa.int64()), ("revenue", pa.float64())])
    user_brand = rng.choice(len(BRANDS), n_users, p=[0.35, 0.25, 0.2, 0.12, 0.08])
    written = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        while written < rows:
            n = min(chunk, rows - written)
            # sessions of ~8 events: session start time, then events seconds-to-minutes apart
            n_sess = n // 8 + 1
            sess_user = rng.integers(0, n_users, n_sess)
            sess_start = START_US + rng.integers(0, days * DAY_US, n_sess)
            sess = np.sort(rng.integers(0, n_sess, n))
            pos = np.arange(n) - np.searchsorted(sess, sess, side="left")
            ts = sess_start[sess] + pos * rng.integers(5_000_000, 240_000_000, n)
            # shop path: a session goes `depth` steps down view -> ... -> purchase, then other events
            depth = rng.choice(5, n_sess, p=[0.3, 0.33, 0.17, 0.08, 0.12])
            ev = np.where(pos < depth[sess], pos, 4 + rng.integers(0, len(OTHER_EVENTS), n))
            user = sess_user[sess]
            revenue = np.where(ev == 3, np.round(rng.lognormal(3.5, 0.7, n), 2), np.nan)
            table = pa.table({
                "brand": pa.array(np.array(BRANDS)[user_brand[user]]),
                "user_id": pa.array(np.char.add("u", user.astype(str))),
                "event": pa.array(names[ev]),
                "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
                "ts_us": pa.array(ts, pa.int64()),
                "revenue": pa.array(revenue, from_pandas=True),
            }, schema=schema)
            writer.write_table(table, row_group_size=1_000_000)
            written += n
    return path


if __name__ == "__main__":
    out = write_log(Path(sys.argv[1]), int(float(sys.argv[2])))
    print(out)
