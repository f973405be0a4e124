"""What a brand's events are made of: event names and property keys, to catch typos.

Reading a funnel step, a retention event, a breakdown or a segment field the brand has never seen
returns zeros or an empty frame, which reads as a finding. Before a brand analysis runs, the names
it uses are checked against the brand's events at the version being read, and an unknown one is a
NotFoundError that lists close matches ("did you mean 'add_to_cart'?"). The names are computed
once per table version (a version never changes) and kept in a small cache.
"""
from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Iterable

from ..errors import NotFoundError
from ..events.schema import EVENT_COLUMNS

__all__ = ["check_events", "check_breakdown", "check_segment_fields", "event_names", "property_keys"]



@lru_cache(maxsize=64)
def _names(store, brand: str, table_id: str, version: int, what: str) -> frozenset[str]:
    """Event names (``what="events"``) or top-level property keys of one version of one table
    (``table_id``: a brand deleted and written again is another table, whose version 0 is not the
    old one's)."""
    from ..events.store import connect

    files = store.files(brand, version=version)
    if not files:
        return frozenset()
    con = connect()
    try:
        rel = con.read_parquet(files, hive_partitioning=False)
        if what == "events":
            rows = rel.aggregate("event").fetchall()
        else:
            rows = con.sql("SELECT DISTINCT unnest(json_keys(properties)) FROM rel WHERE properties IS NOT NULL"
                           ).fetchall()
        return frozenset(r[0] for r in rows if r[0] is not None)
    finally:
        con.close()


def _read(ctx, what: str) -> frozenset[str]:
    dt = ctx.store.table(ctx.brand).open(ctx.version)
    if dt is None:
        return frozenset()
    return _names(ctx.store, ctx.brand, dt.metadata().id, dt.version(), what)


def event_names(ctx) -> frozenset[str]:
    """Event names of the brand at the context's version (empty without events)."""
    return _read(ctx, "events")


def property_keys(ctx) -> frozenset[str]:
    """Top-level ``properties`` keys of the brand at the context's version."""
    return _read(ctx, "keys")


def _unknown(kind: str, name: str, known: Iterable[str], brand: str) -> NotFoundError:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if close:
        hint = f"; did you mean {' or '.join(map(repr, close))}?"
    elif known:
        shown = ", ".join(map(repr, known[:12])) + (" ..." if len(known) > 12 else "")
        hint = f"; it has {shown}"
    else:
        hint = "; it has no events yet"
    return NotFoundError(f"brand {brand!r} has no {kind} {name!r}{hint}")


def check_events(ctx, names: Iterable[str | None], what: str = "event") -> None:
    """NotFoundError for the first name (None is skipped) the brand has no events of. A brand
    without events checks nothing: its analyses are empty, and say so themselves."""
    wanted = [n for n in names if n is not None]
    if not wanted:
        return
    known = event_names(ctx)
    if not known:
        return
    for name in wanted:
        if name not in known:
            raise _unknown(what, name, known, ctx.brand)


def check_breakdown(ctx, breakdown: str | None) -> None:
    """A breakdown must be an event column or a properties key the brand has."""
    if breakdown is None or breakdown in EVENT_COLUMNS:
        return
    if not event_names(ctx):
        return
    key = breakdown.split(".", 1)[1] if breakdown.startswith("properties.") else breakdown
    known = property_keys(ctx)
    if key not in known:
        raise _unknown("column or property", breakdown, set(known) | set(EVENT_COLUMNS), ctx.brand)


def check_segment_fields(ctx, spec) -> None:
    """The events and property fields a segment definition names must exist in the brand."""
    for c in spec.conditions:
        if getattr(c, "kind", None) == "behaviour":
            check_events(ctx, [c.event], "event")
        else:
            if c.event is not None:
                check_events(ctx, [c.event], "event")
            if c.field not in ("event", "revenue", "user_id"):
                check_breakdown(ctx, c.field)
