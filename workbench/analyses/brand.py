"""The analytics of :mod:`workbench.analytics` over one brand's events (a :class:`BrandContext`).

Pure analytics take frames or relations; these functions feed them the brand's events,
limited to a period and to a segment's members when asked. A segment is a saved one (by
name: the acting user must be allowed to view it) or a definition.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from .. import analytics
from ..analytics import segments as segments_mod
from ..analytics.segments import SegmentSpec, segment_spec
from ..collaboration import access
from ..context import check_period
from ..domain import Action, ResourceKind
from .vocabulary import check_breakdown, check_events, check_segment_fields

__all__ = ["segment_spec_of", "scoped_events", "segment_users", "funnel", "funnel_dropoff", "time_to_convert",
           "funnel_over_time", "revenue_curve", "retention", "daily_metrics", "correlations", "anomalies",
           "anomaly_digest"]


def segment_spec_of(ctx, segment) -> SegmentSpec:
    """A saved segment's definition (by name, checked against the acting user's access), or
    ``segment`` itself validated as a definition."""
    if isinstance(segment, str):
        with ctx.db.session() as s:
            row = access.authorize(s, ctx, Action.VIEW, ResourceKind.SEGMENT, segment)
            return segment_spec({"conditions": row.conditions, "match": row.match})
    return segment_spec(segment)


def scoped_events(ctx, *, segment=None, since=None, until=None) -> duckdb.DuckDBPyRelation:
    """The brand's events in ``[since, until)``, limited to a segment's members when given."""
    rel = ctx.events(since, until)
    if segment is None:
        return rel
    spec = segment_spec_of(ctx, segment)
    check_segment_fields(ctx, spec)
    return segments_mod.filter_events(rel, spec)


def segment_users(ctx, segment, *, as_of=None) -> pd.DataFrame:
    """Members (``user_id``) of a saved segment (by name) or of a definition."""
    spec = segment_spec_of(ctx, segment)
    check_segment_fields(ctx, spec)
    return segments_mod.segment_users(ctx.events(), spec, as_of=as_of)


def _steps(ctx, steps) -> None:
    check_events(ctx, steps if isinstance(steps, (list, tuple)) else [], "event")


def funnel(ctx, steps, window, *, breakdown=None, segment=None, since=None, until=None) -> pd.DataFrame:
    _steps(ctx, steps)
    check_breakdown(ctx, breakdown)
    return analytics.funnel(scoped_events(ctx, segment=segment, since=since, until=until), steps, window,
                            breakdown=breakdown)


def funnel_dropoff(ctx, steps, window, *, segment=None, since=None, until=None) -> pd.DataFrame:
    _steps(ctx, steps)
    return analytics.funnel_dropoff(scoped_events(ctx, segment=segment, since=since, until=until), steps, window)


def time_to_convert(ctx, steps, window, *, segment=None, since=None, until=None) -> pd.DataFrame:
    _steps(ctx, steps)
    return analytics.time_to_convert(scoped_events(ctx, segment=segment, since=since, until=until), steps, window)


def funnel_over_time(ctx, steps, window, *, period="week", segment=None, since=None, until=None) -> pd.DataFrame:
    _steps(ctx, steps)
    return analytics.funnel_over_time(scoped_events(ctx, segment=segment, since=since, until=until), steps, window,
                                      period=period)


def revenue_curve(ctx, *, segment=None, since=None, until=None, **kwargs) -> pd.DataFrame:
    return analytics.revenue_curve(scoped_events(ctx, segment=segment, since=since, until=until), **kwargs)


def retention(ctx, *, segment=None, since=None, until=None, **kwargs) -> pd.DataFrame:
    check_events(ctx, [kwargs.get("start_event"), kwargs.get("return_event")], "event")
    return analytics.retention(scoped_events(ctx, segment=segment, since=since, until=until), **kwargs)


def daily_metrics(ctx, metrics=None, *, segment=None, since=None, until=None) -> pd.DataFrame:
    """Daily metrics, zero-filled days (``until`` exclusive)."""
    since, until = check_period(since, until)
    end = until - pd.Timedelta(days=1) if until is not None else None
    return analytics.daily_metrics(scoped_events(ctx, segment=segment, since=since, until=until), metrics,
                                   start=since, end=end)


def correlations(ctx, metrics=None, *, method="pearson", differences=False, segment=None, since=None,
                 until=None) -> pd.DataFrame:
    daily = daily_metrics(ctx, metrics, segment=segment, since=since, until=until)
    return analytics.correlations(daily, method, differences=differences)


def anomalies(ctx, metric="active_users", *, segment=None, since=None, until=None, **kwargs) -> pd.DataFrame:
    daily = daily_metrics(ctx, [metric], segment=segment, since=since, until=until)
    return analytics.anomalies(daily[metric], **kwargs)


def anomaly_digest(ctx, metrics, *, segment=None, since=None, until=None, **kwargs) -> pd.DataFrame:
    """Anomalies of several daily metrics in one long frame: ``metric, ds, value, expected,
    score, is_anomaly``."""
    daily = daily_metrics(ctx, metrics, segment=segment, since=since, until=until)
    parts = [analytics.anomalies(daily[m], **kwargs).assign(metric=m) for m in metrics]
    out = pd.concat(parts, ignore_index=True)
    return out[["metric", "ds", "value", "expected", "score", "is_anomaly"]]
