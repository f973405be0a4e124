"""Segments: named filters of users by property and behavioural conditions.

A **property condition** matches a user when at least one of their events (of one
event name, if given) satisfies ``field op value``; ``field`` is an event column
(``event``, ``revenue``, ``user_id``) or a key of the JSON ``properties``.

A **behavioural condition** counts the user's events of one name in the
``within_days`` days up to ``as_of`` (default: the last event in the data; all
time when ``within_days`` is None) and compares the count: "did purchase at least
2 times in the last 30 days" is ``Behaviour(event="purchase", op=">=", count=2,
within_days=30)``. Users with no such events have a count of 0, so ``op="=="``
with ``count=0`` finds users who did not do it.

A segment combines conditions with ``match="all"`` (AND) or ``"any"`` (OR).

Given an Ibis table, :func:`segment_users` and :func:`filter_events` run the same
semantics on that table's backend (:mod:`.portable`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import invalid_input
from . import portable
from ._inputs import as_relation, literal, quote

__all__ = ["PropertyCondition", "BehaviourCondition", "SegmentSpec", "segment_spec", "segment_users",
           "filter_events"]

_OPS = Literal["==", "!=", ">", ">=", "<", "<=", "in", "not in", "contains"]
COLUMNS = ("event", "revenue", "user_id")  # fields read from the events columns


class PropertyCondition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["property"] = "property"
    field: str = Field(min_length=1)
    op: _OPS = "=="
    value: Any
    event: str | None = None

    @field_validator("value")
    @classmethod
    def _value_fits(cls, v, info):
        if info.data.get("op") in ("in", "not in") and not isinstance(v, (list, tuple)):
            raise ValueError("'in' and 'not in' need a list value")
        return v


class BehaviourCondition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["behaviour"] = "behaviour"
    event: str = Field(min_length=1)
    op: Literal["==", "!=", ">", ">=", "<", "<="] = ">="
    count: int = Field(default=1, ge=0)
    within_days: int | None = Field(default=None, gt=0)


Condition = Annotated[Union[PropertyCondition, BehaviourCondition], Field(discriminator="kind")]


class SegmentSpec(BaseModel):
    """A segment's definition: conditions and how they combine."""
    model_config = ConfigDict(extra="forbid")
    conditions: list[Condition] = Field(min_length=1)
    match: Literal["all", "any"] = "all"


def segment_spec(value) -> SegmentSpec:
    """Validate a SegmentSpec, a dict, or a list of condition dicts; errors name the problem."""
    if isinstance(value, SegmentSpec):
        return value
    if isinstance(value, (list, tuple)):
        value = {"conditions": list(value)}
    try:
        return SegmentSpec.model_validate(value)
    except ValidationError as exc:
        raise invalid_input(exc, "segment definition") from exc


def _sql_value(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return repr(float(v))
    return literal(str(v))


def compares_numbers(c: PropertyCondition) -> bool:
    """Whether the condition compares numbers (its value, or every listed value, is a
    number): the field is then read as a double, else as a string. Events columns
    (``event``, ``revenue``, ``user_id``) are read as they are; any other field is a key
    of the JSON ``properties`` (a missing or non-numeric one is NULL and matches nothing)."""
    v = c.value
    return isinstance(v, (int, float)) and not isinstance(v, bool) or (
        isinstance(v, (list, tuple)) and bool(v) and all(isinstance(x, (int, float)) for x in v))


def _property_sql(c: PropertyCondition) -> str:
    numeric = compares_numbers(c)
    if c.field in COLUMNS:
        col = quote(c.field)
        expr = f"CAST({col} AS DOUBLE)" if numeric else f"CAST({col} AS VARCHAR)"
    else:
        raw = f"json_extract_string(properties, {literal('$.' + c.field)})"
        expr = f"TRY_CAST({raw} AS DOUBLE)" if numeric else raw
    if c.op in ("in", "not in"):
        cond = f"{expr} {c.op.upper()} ({', '.join(_sql_value(x) for x in c.value)})"
    elif c.op == "contains":
        cond = f"contains({expr}, {literal(str(c.value))})"
    else:
        cond = f"{expr} {'=' if c.op == '==' else c.op} {_sql_value(c.value)}"
    if c.event:
        cond = f"event = {literal(c.event)} AND {cond}"
    return f"SELECT DISTINCT user_id FROM ev WHERE {cond}"


def _behaviour_sql(c: BehaviourCondition, as_of: str) -> str:
    since = f" AND ts > TIMESTAMP {as_of} - INTERVAL {c.within_days} DAY" if c.within_days else ""
    return (f"SELECT u.user_id FROM (SELECT DISTINCT user_id FROM ev) u LEFT JOIN ("
            f"SELECT user_id, count(*) AS n FROM ev WHERE event = {literal(c.event)} AND ts <= TIMESTAMP {as_of}"
            f"{since} GROUP BY user_id) x USING (user_id) "
            f"WHERE coalesce(x.n, 0) {'=' if c.op == '==' else c.op} {c.count}")


def _members_sql(spec: SegmentSpec, as_of: str) -> str:
    parts = [_property_sql(c) if isinstance(c, PropertyCondition) else _behaviour_sql(c, as_of)
             for c in spec.conditions]
    glue = " INTERSECT " if spec.match == "all" else " UNION "
    return glue.join(f"({p})" for p in parts)


def _relation(events, user_col, event_col, ts_col) -> duckdb.DuckDBPyRelation:
    return as_relation(events, required={"user_id": user_col, "event": event_col, "ts": ts_col},
                       optional={"revenue": "revenue", "properties": "properties"})


def _as_of_utc(as_of) -> pd.Timestamp:
    ts = pd.Timestamp(as_of)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts


def _as_of_literal(rel: duckdb.DuckDBPyRelation, as_of) -> str:
    if as_of is None:
        value = rel.query("ev", "SELECT max(ts) FROM ev").fetchall()[0][0]
        value = value or datetime(1970, 1, 1)
    else:
        value = _as_of_utc(as_of).to_pydatetime()
    return literal(value.isoformat(sep=" "))


def _as_of_us(as_of) -> int | None:
    """``as_of`` in epoch microseconds (naive: UTC); None stays None (the last event)."""
    return None if as_of is None else (_as_of_utc(as_of) - pd.Timestamp(0)) // pd.Timedelta(microseconds=1)


def segment_users(events, segment, *, as_of=None, user_col: str = "user_id", event_col: str = "event",
                  ts_col: str = "ts") -> pd.DataFrame:
    """Members of a segment.

    Parameters
    ----------
    events : DataFrame | pyarrow.Table | DuckDBPyRelation | str
    segment : SegmentSpec | dict | list of condition dicts
    as_of : datetime-like, optional
        End of the look-back windows of behavioural conditions (default: last event).

    Returns
    -------
    DataFrame
        One column ``user_id``, sorted.
    """
    spec = segment_spec(segment)
    if portable.is_ibis_table(events):
        return portable.segment_users(events, spec, as_of_us=_as_of_us(as_of),
                                      cols={"user_col": user_col, "event_col": event_col, "ts_col": ts_col})
    rel = _relation(events, user_col, event_col, ts_col)
    sql = _members_sql(spec, _as_of_literal(rel, as_of))
    return rel.query("ev", f"SELECT user_id FROM ({sql}) ORDER BY user_id").df()


def filter_events(events, segment, *, as_of=None):
    """The events of the segment's members only: a DuckDB relation with standard column
    names in, the same out; or an Ibis table in, an Ibis table on its backend out."""
    spec = segment_spec(segment)
    if portable.is_ibis_table(events):
        return portable.filter_events(events, spec, as_of_us=_as_of_us(as_of),
                                      cols={"user_col": "user_id", "event_col": "event", "ts_col": "ts"})
    rel = _relation(events, "user_id", "event", "ts")
    sql = _members_sql(spec, _as_of_literal(rel, as_of))
    return events.query("ev", f"SELECT * FROM ev WHERE user_id IN (SELECT user_id FROM ({sql}))")
