"""Funnels, retention, daily metrics and segments written once in Ibis, for any supported Ibis backend.

This is the portable path: the same expressions run on DuckDB (embedded) and on
PySpark when a brand outgrows one machine. The functions in :mod:`.funnels`,
:mod:`.retention`, :mod:`.metrics` and :mod:`.segments` are DuckDB fast paths with the
same semantics (see their module docstrings); the test suite checks that both paths
return identical frames.

Pass an Ibis table to :func:`workbench.analytics.funnel`, ``funnel_users``,
``retention``, ``daily_metrics`` or the segment functions and the work runs here, on
that table's backend::

    con = ibis.pyspark.connect(spark)            # spark.sql.session.timeZone must be UTC
    funnel(con.read_parquet("s3://.../events/"), ["view", "purchase"], "7d")

Only plain SQL operations are used (filters, equi/inequality joins, GROUP BY,
ROW_NUMBER), all on integer microseconds since the epoch, so counts and times are exact
on every engine (a revenue sum may differ in its last bits: engines add in any order). Two primitives have no portable Ibis spelling on every backend (epoch
microseconds of a timestamp, and a JSON string lookup); they are mapped per backend
in ``_BUILTINS``.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInputError, MissingColumnsError
from ._inputs import breakdown_source, window_us

__all__ = ["is_ibis_table", "funnel", "funnel_users", "retention", "daily_metrics", "segment_users",
           "filter_events", "BACKENDS"]

# primitive -> backend name -> that backend's built-in SQL function
_BUILTINS = {
    "epoch_us": {"duckdb": "epoch_us", "pyspark": "unix_micros"},
    "json_get": {"duckdb": "json_extract_string", "pyspark": "get_json_object"},
}
BACKENDS = tuple(_BUILTINS["epoch_us"])
_DAY_US = 86_400_000_000
_WEEK_US = 7 * _DAY_US
_MONDAY_US = 4 * _DAY_US  # 1970-01-05, the first Monday after the epoch


def is_ibis_table(value: Any) -> bool:
    """True for an Ibis table expression (without importing Ibis when it is not in use)."""
    mod = type(value).__module__
    if not mod.startswith("ibis."):
        return False
    import ibis.expr.types as ir

    return isinstance(value, ir.Table)


def _backend(table) -> str:
    try:
        name = table._find_backend(use_default=True).name  # a memtable runs on Ibis's default, DuckDB
    except Exception as exc:  # an unbound table (e.g. ibis.table(schema)) has no engine to run on
        raise InvalidInputError(f"the Ibis table is not bound to a backend: {exc}") from exc
    if name not in BACKENDS:
        raise InvalidInputError(f"Ibis backend {name!r} is not supported by the portable path "
                                f"(supported: {', '.join(BACKENDS)})")
    return name


def epoch_us(x):
    """Microseconds since the epoch of a UTC timestamp (the body never runs: the backend's built-in does)."""


def json_get(x, path):
    """The string at JSON ``path`` of ``x``, or NULL (the body never runs: the backend's built-in does)."""


def _builtin(primitive: str, backend: str, inputs: tuple, output):
    """An Ibis scalar function bound to ``backend``'s built-in for ``primitive``."""
    import ibis

    stub = {"epoch_us": epoch_us, "json_get": json_get}[primitive]
    return ibis.udf.scalar.builtin(stub, name=_BUILTINS[primitive][backend], signature=(inputs, output))


def _epoch_us(ts, backend: str):
    """Epoch microseconds of a timestamp column; a naive timestamp is taken as UTC, as on the fast path."""
    import ibis.expr.datatypes as dt

    if not ts.type().is_timestamp():
        raise InvalidInputError(f"column {ts.get_name()!r} must be a timestamp for the portable path, "
                                f"got {ts.type()}")
    utc = dt.Timestamp(timezone="UTC")
    if ts.type().timezone is None:
        ts = ts.cast(utc)
    return _builtin("epoch_us", backend, (utc,), dt.int64)(ts)


def _base_columns(table, backend: str, cols: dict) -> dict:
    """``user_id``, ``event`` (string) and ``t`` (epoch microseconds) from the columns named
    in ``cols`` (``user_col``, ``event_col``, ``ts_col``); a missing one is named in the error."""
    columns = list(table.columns)
    missing = [cols[k] for k in ("user_col", "event_col", "ts_col") if cols[k] not in columns]
    if missing:
        raise MissingColumnsError(missing, columns)
    return {"user_id": table[cols["user_col"]], "event": table[cols["event_col"]].cast("string"),
            "t": _epoch_us(table[cols["ts_col"]], backend)}


def _standard(table, backend: str, cols: dict, breakdown: str | None = None):
    """user_id, event, t and (with a breakdown) bd; rows without user or time are dropped."""
    out = _base_columns(table, backend, cols)
    if breakdown is not None:
        out["bd"] = _breakdown(table, backend, breakdown)
    std = table.select(**out)
    return std.filter(std.user_id.notnull(), std.t.notnull())


def last_event_us(table, ts_col: str) -> int | None:
    """Epoch microseconds of the latest event in ``table`` (None when it has none)."""
    if ts_col not in table.columns:
        raise MissingColumnsError([ts_col], list(table.columns))
    last = _epoch_us(table[ts_col], _backend(table)).max().execute()
    return None if last is None or pd.isna(last) else int(last)


def _breakdown(table, backend: str, breakdown: str):
    import ibis.expr.datatypes as dt

    kind, name = breakdown_source(breakdown, list(table.columns))
    if kind == "column":
        return table[name].cast("string")
    return _builtin("json_get", backend, (dt.string, dt.string), dt.string)(table.properties.cast("string"),
                                                                           "$." + name)


# ----------------------------------------------------------------------------- funnels

def _funnel_users_expr(table, steps: list[str], window_us: int, breakdown: str | None, cols: dict):
    """Per-user expression: user_id, bd, level, t1..tn (µs), entered, last_start."""
    import ibis

    from .funnels import _needs_rank

    backend = _backend(table)
    ev = _standard(table, backend, cols, breakdown)
    names = list(dict.fromkeys(steps))
    ev = ev.filter(ev.event.isin(names))
    # r: a row's number among the user's rows of that event, in time order. Rows of one event at
    # one time are interchangeable, so the earliest eligible row is the one with the smallest r.
    by_event = {}
    for name in names:
        rows = ev.filter(ev.event == name)
        by_event[name] = rows.mutate(r=ibis.row_number().over(group_by=rows.user_id, order_by=rows.t))
    first = by_event[steps[0]]
    chain = first.select(uk=first.user_id, t1=first.t, r1=first.r)
    for k in range(2, len(steps) + 1):
        name, prev = steps[k - 1], steps[k - 2]
        f = by_event[name].select(fu="user_id", ft="t", fr="r")
        conds = [chain.uk == f.fu, f.ft > chain[f"t{k-1}"] if name == prev else f.ft >= chain[f"t{k-1}"],
                 f.ft <= chain.t1 + window_us]
        last_same = _needs_rank(steps, k)
        if last_same is not None:
            conds.append(f.fr > chain[f"r{last_same}"])
        found = (chain.join(f, conds).group_by(["uk", "r1"])
                 .agg(**{f"t{k}": f.ft.min(), f"r{k}": f.fr.min()}))
        chain = chain.left_join(found, [chain.uk == found.uk, chain.r1 == found.r1]).drop("uk_right", "r1_right")
    level = sum((chain[f"t{k}"].notnull().cast("int64") for k in range(2, len(steps) + 1)), ibis.literal(1))
    chain = chain.mutate(level=level)
    ranked = chain.mutate(pick=ibis.row_number().over(group_by=chain.uk,
                                                      order_by=[ibis.desc(chain.level), chain.t1, chain.r1]))
    tcols = [f"t{k}" for k in range(1, len(steps) + 1)]
    best = ranked.filter(ranked.pick == 0).select("uk", "level", *tcols)
    # per user, from their step-1 rows: first and last start, and the first-touch breakdown
    # value (the earliest step-1 row; ties in time: the smallest value, NULL last)
    starts = by_event[steps[0]]
    if breakdown is not None:
        order = [starts.t, starts.bd.isnull(), starts.bd]
        starts = starts.mutate(bd_rank=ibis.row_number().over(group_by=starts.user_id, order_by=order))
        touch = {"bd": starts.bd.min(where=starts.bd_rank == 0)}
    else:
        touch = {}
    per_user = starts.group_by(uk=starts.user_id).agg(**touch, entered=starts.t.min(), last_start=starts.t.max())
    if breakdown is None:
        per_user = per_user.mutate(bd=ibis.null("string"))
    return best.join(per_user, "uk").select(user_id="uk", bd="bd", level="level", **{c: c for c in tcols},
                                            entered="entered", last_start="last_start")


def funnel_users(table, steps: list[str], window: timedelta, *, breakdown: str | None, cols: dict) -> pd.DataFrame:
    """Per-user funnel progress on the table's backend; same frame as ``funnels.funnel_users``."""
    from .funnels import us_to_datetime

    expr = _funnel_users_expr(table, steps, window_us(window), breakdown, cols)
    out = expr.execute().rename(columns={"bd": "breakdown"})
    for col in [f"t{k}" for k in range(1, len(steps) + 1)] + ["entered", "last_start"]:
        out[col] = us_to_datetime(out[col])
    out["level"] = out["level"].astype("int64")
    out["breakdown"] = out["breakdown"].astype(object).where(out["breakdown"].notna(), None)
    cols_out = ["user_id", "breakdown", "level"] + [f"t{k}" for k in range(1, len(steps) + 1)] + \
        ["entered", "last_start"]
    return out[cols_out].sort_values("user_id", kind="stable").reset_index(drop=True)


def funnel(table, steps: list[str], window: timedelta, *, breakdown: str | None, cols: dict) -> pd.DataFrame:
    """The funnel table on the table's backend; same frame as ``funnels.funnel``."""
    import ibis

    from .funnels import summary_frame

    users = _funnel_users_expr(table, steps, window_us(window), breakdown, cols)
    n = len(steps)
    aggs = {f"u{k}": (users.level >= k).sum() for k in range(1, n + 1)}
    # NULL outside the users reaching the step rather than median(where=...), which Ibis spells
    # for Spark with a non-constant percentage that Spark refuses
    aggs.update({f"m{k}": (users.level >= k).ifelse(users[f"t{k}"] - users[f"t{k-1}"], ibis.null()).median()
                 for k in range(2, n + 1)})
    per_bd = users.group_by("bd").agg(**aggs).execute()
    per_bd["bd"] = per_bd["bd"].astype(object).where(per_bd["bd"].notna(), None)
    return summary_frame(per_bd, steps, breakdown is not None)


# ----------------------------------------------------------------------------- retention

def _floor_div(x, d: int):
    """Floor division of an integer expression by a positive constant.

    Ibis spells ``x // d`` as FLOOR of a float division. That is exact here: for
    |x| < 2**53 (epoch microseconds up to the year 2255) the correctly rounded quotient
    of a non-multiple stays more than half an ulp away from the next integer, because
    that distance is at least 1/d > (x/d) * 2**-53."""
    return (x // d).cast("int64")


def _with_month_index(table, us: str, out: str):
    """``table`` plus column ``out`` = year * 12 + month - 1 of the UTC instant in column ``us``
    (epoch µs), by integer civil-date arithmetic (the inverse of H. Hinnant's
    days_from_civil): no time zone or calendar function of the engine is involved. Each
    intermediate is its own column, so that the SQL stays small."""
    t = table.mutate(_z=_floor_div(table[us], _DAY_US) + 719468)
    t = t.mutate(_era=_floor_div(t._z, 146097))
    t = t.mutate(_doe=t._z - t._era * 146097)
    t = t.mutate(_yoe=_floor_div(t._doe - _floor_div(t._doe, 1460) + _floor_div(t._doe, 36524)
                                 - _floor_div(t._doe, 146096), 365))
    t = t.mutate(_mp=_floor_div(5 * (t._doe - (365 * t._yoe + _floor_div(t._yoe, 4) - _floor_div(t._yoe, 100))) + 2,
                                153))
    t = t.mutate(_month=(t._mp < 10).ifelse(t._mp + 3, t._mp - 9))
    t = t.mutate(**{out: (t._yoe + t._era * 400 + (t._month <= 2).cast("int64")) * 12 + t._month - 1})
    return t.drop("_z", "_era", "_doe", "_yoe", "_mp", "_month")


def _with_period_index(table, period: str, us: str, out: str):
    if period == "day":
        return table.mutate(**{out: _floor_div(table[us], _DAY_US)})
    if period == "week":
        return table.mutate(**{out: _floor_div(table[us] - _MONDAY_US, _WEEK_US)})
    return _with_month_index(table, us, out)


def period_start_us(period: str, idx: int) -> int:
    """Epoch microseconds of the start of period ``idx`` (the inverse of the period index)."""
    if period == "day":
        return idx * _DAY_US
    if period == "week":
        return idx * _WEEK_US + _MONDAY_US
    start = datetime(idx // 12, idx % 12 + 1, 1)
    return (start - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def retention(table, *, period: str, periods: int, start_event: str | None, return_event: str | None, mode: str,
              cols: dict) -> pd.DataFrame:
    """Cohort retention on the table's backend; same frame as ``retention.retention``."""
    backend = _backend(table)
    ev = _standard(table, backend, cols)
    ev = _with_period_index(ev, period, "t", "p")
    starts = ev.filter(ev.event == start_event) if start_event else ev
    cohorts = starts.group_by("user_id").agg(c=starts.p.min())
    returns = ev.filter(ev.event == return_event) if return_event else ev
    active = returns.select("user_id", "p").distinct()
    j = active.join(cohorts, "user_id")
    j = j.select("user_id", "c", k=j.p - j.c)
    j = j.filter(j.k >= 1)
    if mode == "on":
        j = j.filter(j.k <= periods)
        hits = j.group_by(["c", "k"]).agg(users=j.count())
    else:  # per user the last active period; users retained "on or after" k are those with mk >= k
        last = j.group_by(["user_id", "c"]).agg(k=j.k.max())
        hits = last.group_by(["c", "k"]).agg(users=last.count())
    sizes = cohorts.group_by("c").agg(cohort_size=cohorts.count()).execute()
    hits = hits.execute()
    max_ts = ev.t.max().execute()
    return _retention_frame(sizes, hits, period, periods, mode, max_ts)


def _retention_frame(sizes: pd.DataFrame, hits: pd.DataFrame, period: str, periods: int, mode: str,
                     max_ts) -> pd.DataFrame:
    """The long retention table from cohort sizes ``c, cohort_size`` and counts ``c, k, users``
    (users active in period c+k for "on"; users whose last active period is c+k otherwise)."""
    sizes = sizes.sort_values("c")
    cohorts = sizes["c"].to_numpy(np.int64)
    grid = np.zeros((len(cohorts), periods + 2), np.int64)  # column periods+1: later than reported
    row = np.searchsorted(cohorts, hits["c"].to_numpy(np.int64))
    np.add.at(grid, (row, np.minimum(hits["k"].to_numpy(np.int64), periods + 1)), hits["users"].to_numpy(np.int64))
    if mode == "on_or_after":  # active in k or any later period: suffix sums
        grid = grid[:, ::-1].cumsum(axis=1)[:, ::-1]
    grid[:, 0] = sizes["cohort_size"].to_numpy(np.int64)
    k = np.tile(np.arange(periods + 1), len(cohorts))
    c = np.repeat(cohorts, periods + 1)
    last = None if max_ts is None or pd.isna(max_ts) else int(max_ts)
    out = pd.DataFrame({
        "cohort": np.array([period_start_us(period, int(x)) for x in c], np.int64).astype("datetime64[us]")
        .astype("datetime64[ns]"),
        "period": k.astype(np.int64),
        "cohort_size": np.repeat(grid[:, 0], periods + 1),
        "users": grid[:, :periods + 1].reshape(-1),
        "complete": [last is not None and period_start_us(period, int(x) + int(y) + 1) <= last for x, y in zip(c, k)],
    })
    out["rate"] = (out["users"] / out["cohort_size"]).astype("float64")
    out["complete"] = out["complete"].astype(bool)
    return out[["cohort", "period", "cohort_size", "users", "rate", "complete"]]


# ----------------------------------------------------------------------------- daily metrics
def daily_metrics(table, needed: dict[str, tuple[str, str | None]], *, cols: dict) -> pd.DataFrame:
    """Per UTC day, ``ds`` and one float column per metric of ``needed`` (entries of
    ``metrics.METRICS``); days without events are absent. Same as the fast path's query."""
    import ibis

    base = _base_columns(table, _backend(table), cols)
    revenue = (table[cols["revenue_col"]].cast("float64") if cols["revenue_col"] in table.columns
               else ibis.null().cast("float64"))
    ev = table.select(**base, revenue=revenue)
    ev = ev.filter(ev.t.notnull())
    ev = ev.mutate(d=_floor_div(ev.t, _DAY_US))

    def aggregate(kind: str, event: str | None):
        where = ev.event == event if event else None
        if kind == "users":
            return ev.user_id.nunique(where=where)
        if kind == "events":
            return ev.count(where=where)
        return ibis.coalesce(ev.revenue.sum(), 0.0)

    out = ev.group_by("d").agg(**{m: aggregate(*spec).cast("float64") for m, spec in needed.items()}).execute()
    out = out.sort_values("d").reset_index(drop=True)
    days = out.pop("d").to_numpy(np.int64)
    out.insert(0, "ds", (days * _DAY_US).astype("datetime64[us]").astype("datetime64[ns]"))
    return out


# ----------------------------------------------------------------------------- segments
def _condition(ev, c, backend: str):
    """The rows matching a property condition (see :mod:`.segments`)."""
    import ibis.expr.datatypes as dt

    from .segments import COLUMNS, compares_numbers

    value = c.value
    numeric = compares_numbers(c)
    if c.field in COLUMNS:
        expr = ev[c.field].cast("float64" if numeric else "string")
    else:
        raw = _builtin("json_get", backend, (dt.string, dt.string), dt.string)(ev.properties, "$." + c.field)
        expr = raw.try_cast("float64") if numeric else raw

    def lit(v):
        if isinstance(v, bool):
            return "true" if v else "false"  # as JSON spells them
        return float(v) if numeric else str(v)

    ops = {"==": lambda x: expr == lit(x), "!=": lambda x: expr != lit(x), ">": lambda x: expr > lit(x),
           ">=": lambda x: expr >= lit(x), "<": lambda x: expr < lit(x), "<=": lambda x: expr <= lit(x),
           "in": lambda x: expr.isin([lit(v) for v in x]), "not in": lambda x: expr.notin([lit(v) for v in x]),
           "contains": lambda x: expr.contains(str(x))}
    cond = ops[c.op](value)
    return cond & (ev.event == c.event) if c.event else cond


def _members(table, spec, as_of_us: int | None, cols: dict):
    """An Ibis table of the segment's members (column ``user_id``)."""
    import ibis

    backend = _backend(table)
    base = _base_columns(table, backend, cols)
    columns = list(table.columns)
    ev = table.select(**base, revenue=table.revenue if "revenue" in columns else ibis.null().cast("float64"),
                      properties=table.properties.cast("string") if "properties" in columns
                      else ibis.null().cast("string"))
    if as_of_us is None:
        last = ev.t.max().execute()
        as_of_us = 0 if last is None or pd.isna(last) else int(last)
    users = ev.select("user_id").distinct()
    parts = []
    for c in spec.conditions:
        if c.kind == "property":
            parts.append(ev.filter(_condition(ev, c, backend)).select("user_id").distinct())
            continue
        hits = ev.filter(ev.event == c.event, ev.t <= as_of_us)
        if c.within_days:
            hits = hits.filter(hits.t > as_of_us - c.within_days * _DAY_US)
        counts = hits.group_by("user_id").agg(n=hits.count())
        joined = users.left_join(counts, users.user_id == counts.user_id)
        n = ibis.coalesce(joined.n, 0)
        cmp = {"==": n == c.count, "!=": n != c.count, ">": n > c.count, ">=": n >= c.count, "<": n < c.count,
               "<=": n <= c.count}[c.op]
        parts.append(joined.filter(cmp).select(user_id=joined.user_id))
    return ibis.intersect(*parts) if spec.match == "all" and len(parts) > 1 else (
        ibis.union(*parts, distinct=True) if len(parts) > 1 else parts[0])


def segment_users(table, spec, *, as_of_us: int | None, cols: dict) -> pd.DataFrame:
    """Members of a segment on the table's backend; same frame as ``segments.segment_users``."""
    out = _members(table, spec, as_of_us, cols).execute()
    return out.sort_values("user_id", na_position="last", kind="stable").reset_index(drop=True)


def filter_events(table, spec, *, as_of_us: int | None, cols: dict):
    """The rows of ``table`` whose user is a member of the segment (an Ibis table)."""
    members = _members(table, spec, as_of_us, cols)
    return table.semi_join(members, table[cols["user_col"]] == members.user_id)
