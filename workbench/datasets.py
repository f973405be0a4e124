"""Seeded demo data: realistic product events for a few brands, with planted incidents.

Behaviour modelled per brand: sign-ups growing over time, users who come back in
sessions that thin out as they churn, fewer sessions at the weekend, a
``view -> add_to_cart -> checkout -> purchase`` path with drop-offs, revenue on
purchases, AI-generation usage, and two planted incidents (a checkout outage that
stops most purchases for a day, and a traffic spike) returned as ground truth.
Everything is vectorised with NumPy, so a million events take a few seconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InvalidInputError

__all__ = ["DemoData", "generate_events", "BRAND_NAMES", "FUNNEL_STEPS"]

BRAND_NAMES = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka"]
FUNNEL_STEPS = ["view", "add_to_cart", "checkout", "purchase"]
_COUNTRIES = np.array(["US", "FR", "DE", "GB", "BR", "JP", "IN"])
_COUNTRY_P = np.array([0.35, 0.15, 0.14, 0.12, 0.10, 0.07, 0.07])
_DEVICES = np.array(["mobile", "desktop", "tablet"])
_DEVICE_P = np.array([0.58, 0.36, 0.06])
_GEN_TYPES = np.array(["IMAGE_2D", "MODEL_3D", "ANIMATION", "TEMPLATE"])
_WEEKDAY_WEIGHT = np.array([1.0, 1.0, 0.97, 0.95, 0.9, 0.62, 0.58])  # Monday first
_US_PER_DAY = 86_400_000_000


@dataclass
class DemoData:
    """``events`` (the event columns, ``event_id`` filled) and ``incidents`` (ground truth:
    ``brand``, ``day``, ``kind``, ``metric``, ``direction``)."""
    events: pd.DataFrame
    incidents: pd.DataFrame


def _brand_events(rng: np.random.Generator, brand: str, b: int, n_users: int, days: int,
                  start_us: int, outage_day: int, spike_day: int) -> pd.DataFrame:
    # Sign-up day with exponential growth (about 3x more sign-ups at the end than at the start).
    g = np.log(3.0) / days
    signup_day = np.floor(np.log1p(rng.random(n_users) * np.expm1(g * days)) / g).astype(np.int64)
    country = rng.choice(len(_COUNTRIES), n_users, p=_COUNTRY_P)
    device = rng.choice(len(_DEVICES), n_users, p=_DEVICE_P)
    engagement = rng.gamma(1.3, 1.0, n_users)  # heavy users buy more often and come back more
    lifetime = rng.lognormal(np.log(18.0), 1.0, n_users)  # days until they fade away

    # Sessions: the first on the sign-up day, later ones thinning out over the lifetime.
    extra = rng.poisson(2.0 + 4.0 * engagement)
    sess_user = np.repeat(np.arange(n_users), 1 + extra)
    first = np.r_[0, np.cumsum(1 + extra)[:-1]]
    offset = np.floor(rng.exponential(1.0, sess_user.size) * lifetime[sess_user]).astype(np.int64)
    offset[first] = 0
    day = signup_day[sess_user] + offset
    weekday = (day + pd.Timestamp(start_us, unit="us").weekday()) % 7
    keep = (day < days) & ((rng.random(day.size) < _WEEKDAY_WEIGHT[weekday]) | (offset == 0))
    sess_user, day, is_first = sess_user[keep], day[keep], (offset == 0)[keep]
    # Traffic spike: many returning users come back on one day.
    active = np.unique(sess_user[day < spike_day])
    spike_users = rng.choice(active, size=min(active.size, max(50, active.size // 4)), replace=False)
    sess_user = np.r_[sess_user, spike_users]
    day = np.r_[day, np.full(spike_users.size, spike_day)]
    is_first = np.r_[is_first, np.zeros(spike_users.size, bool)]
    n_s = sess_user.size
    # Session start: busier in the evening (UTC), uniform seconds.
    hour = np.clip(rng.normal(17.0, 4.5, n_s), 0, 23.99)
    sess_start = start_us + day * _US_PER_DAY + (hour * 3_600_000_000).astype(np.int64)

    # Path through the shop: views, then cart, checkout and purchase with drop-offs.
    e = engagement[sess_user]
    n_views = 1 + rng.poisson(1.2 + 0.4 * e)
    p_cart = np.clip(0.22 + 0.06 * e, 0, 0.8)
    p_checkout = np.full(n_s, 0.62)
    p_purchase = np.where(day == outage_day, 0.03, 0.72)  # the outage: checkouts fail all day
    u = rng.random((3, n_s))
    stage = (u[0] < p_cart).astype(np.int64)
    stage += (stage == 1) & (u[1] < p_checkout)
    stage += (stage == 2) & (u[2] < p_purchase)
    n_gen = np.where(rng.random(n_s) < 0.12, 2, 0)  # generation_requested + generation_completed
    n_events = is_first.astype(np.int64) + 1 + n_views + stage + n_gen  # signup, session_start, ...

    # Expand to one row per event; names follow the in-session order.
    total = int(n_events.sum())
    s_idx = np.repeat(np.arange(n_s), n_events)
    pos = np.arange(total) - np.repeat(np.cumsum(n_events) - n_events, n_events)
    names = np.empty(total, dtype=object)
    sig = is_first[s_idx].astype(np.int64)
    p = pos - sig  # position after the optional signup
    names[(sig == 1) & (pos == 0)] = "signup"
    names[p == 0] = "session_start"
    nv = n_views[s_idx]
    names[(p >= 1) & (p <= nv)] = "view"
    st = stage[s_idx]
    for k, name in enumerate(["add_to_cart", "checkout", "purchase"], start=1):
        names[(p == nv + k) & (st >= k)] = name
    g0 = nv + st + 1
    has_gen = n_gen[s_idx] > 0
    names[has_gen & (p == g0)] = "generation_requested"
    names[has_gen & (p == g0 + 1)] = "generation_completed"

    gaps = rng.exponential(75.0, total) * 1_000_000
    gaps[pos == 0] = 0
    csum = np.cumsum(gaps)
    base = np.repeat(csum[np.cumsum(n_events) - n_events], n_events)
    ts_us = sess_start[s_idx] + (csum - base).astype(np.int64)

    user = sess_user[s_idx]
    is_purchase = names == "purchase"
    revenue = np.full(total, np.nan)
    revenue[is_purchase] = np.round(rng.lognormal(np.log(38.0), 0.7, int(is_purchase.sum())), 2)
    user_props = np.array([f'{{"country": "{_COUNTRIES[c]}", "device": "{_DEVICES[d]}"}}'
                           for c, d in zip(country, device)], dtype=object)
    props = user_props[user]
    gen_rows = np.flatnonzero(names == "generation_requested")
    gen_type = _GEN_TYPES[rng.choice(4, gen_rows.size, p=[0.55, 0.15, 0.15, 0.15])]
    for rows in (gen_rows, gen_rows + 1):
        props[rows] = [f'{pp[:-1]}, "type": "{t}"}}' for pp, t in zip(props[rows], gen_type)]

    inside = ts_us < start_us + days * _US_PER_DAY  # sessions crossing the last midnight are cut
    return pd.DataFrame({
        "event_id": np.char.add(f"{brand}-", np.arange(total).astype(str)).astype(object),
        "brand": brand,
        "user_id": np.char.add(f"{brand[:1]}", user.astype(str)).astype(object),
        "event": names,
        "ts": pd.to_datetime(ts_us, unit="us", utc=True),
        "revenue": revenue,
        "properties": props,
    })[inside].reset_index(drop=True)


def generate_events(brands: int = 3, users: int = 5_000, days: int = 120, *, seed: int = 0,
                    start: str = "2026-01-05") -> DemoData:
    """Seeded demo events for ``brands`` brands.

    Parameters
    ----------
    brands : int
        Number of brands (named acme, globex, initech, ...; sizes 1, 0.7, 0.5, ... x ``users``).
    users : int
        Users of the largest brand; about 20 events per user are generated.
    days : int
        Length of the period, starting at ``start`` (UTC midnight).
    seed : int
        Same seed, same events.

    Returns
    -------
    DemoData
        ``events`` sorted by brand and time, and ``incidents``: one checkout outage
        (metric ``purchases``, direction ``down``) and one traffic spike (metric
        ``active_users``, direction ``up``) per brand, each on one UTC day.
    """
    if not 1 <= brands <= len(BRAND_NAMES):
        raise InvalidInputError(f"brands must be between 1 and {len(BRAND_NAMES)}, got {brands}")
    if users < 10 or days < 28:
        raise InvalidInputError(f"need at least 10 users and 28 days, got users={users}, days={days}")
    rng = np.random.default_rng(seed)
    start_ts = pd.Timestamp(start, tz="UTC").normalize()
    start_us = int(start_ts.value // 1000)
    frames, incidents = [], []
    for b, brand in enumerate(BRAND_NAMES[:brands]):
        outage_day = int(days * 0.55) + 3 * b
        spike_day = int(days * 0.8) - 2 * b
        n_users = max(10, int(users * (1.0 / (1 + 0.45 * b))))
        frames.append(_brand_events(rng, brand, b, n_users, days, start_us, outage_day, spike_day))
        incidents += [
            {"brand": brand, "day": start_ts + pd.Timedelta(days=outage_day), "kind": "checkout_outage",
             "metric": "purchases", "direction": "down"},
            {"brand": brand, "day": start_ts + pd.Timedelta(days=spike_day), "kind": "traffic_spike",
             "metric": "active_users", "direction": "up"},
        ]
    events = pd.concat(frames, ignore_index=True).sort_values(["brand", "ts"], kind="stable")
    return DemoData(events=events.reset_index(drop=True), incidents=pd.DataFrame(incidents))
