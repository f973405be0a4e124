"""Interactive (Plotly) charts of the reports, where hovering tells more than a static picture:
rates by segment, conversion over time, each KPI with its unusual days, revenue per cohort user.

Each function takes the frame an analysis returns and gives a ``plotly.graph_objects.Figure``;
show it with :func:`workbench.reports.present.chart`.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["breakdown_rates", "conversion_over_time", "metric_with_anomalies", "revenue_per_user"]

_AXIS_DATES = {"tickformat": "%b %d", "nticks": 8}  # short labels, few enough that they never overlap


def _go():
    import plotly.graph_objects as go
    return go


def breakdown_rates(by: pd.DataFrame, breakdown: str, *, top: int = 8):
    """Conversion from step 1 to each step, one line per breakdown value (the ``top`` largest by
    step-1 users; hover: users and rate). Rates, not users: segments of any size compare."""
    go = _go()
    sizes = by[by["step"] == 1].set_index("breakdown")["users"].sort_values(ascending=False)
    fig = go.Figure()
    for value in sizes.index[:top]:
        part = by[by["breakdown"] == value].sort_values("step")
        fig.add_trace(go.Scatter(
            x=part["event"], y=part["conversion"], mode="lines+markers", name=f"{value} ({sizes[value]:,})",
            customdata=part[["users"]], hovertemplate="%{x}: %{y:.1%} (%{customdata[0]:,} users)<extra>%{fullData.name}</extra>"))
    fig.update_layout(title=f"Conversion from the first step, by {breakdown}", yaxis={"tickformat": ".0%",
                      "title": "share of step-1 users", "rangemode": "tozero"}, legend_title_text=breakdown)
    return fig


def conversion_over_time(over_time: pd.DataFrame, period: str):
    """Conversion to the last step (and to each intermediate step) per period of first step."""
    go = _go()
    fig = go.Figure()
    last = over_time["step"].max()
    for step, part in over_time[over_time["step"] > 1].groupby("step"):
        starts = over_time[over_time["step"] == 1].set_index("period")["users"]
        fig.add_trace(go.Scatter(
            x=part["period"], y=part["conversion"], mode="lines+markers", name=part["event"].iloc[0],
            line={"width": 3 if step == last else 1.5},
            customdata=pd.DataFrame({"u": part["users"].to_numpy(), "s": starts.reindex(part["period"]).to_numpy()}),
            hovertemplate="%{x|%Y-%m-%d}: %{y:.1%} (%{customdata[0]:,} of %{customdata[1]:,})<extra>%{fullData.name}</extra>"))
    fig.update_layout(title=f"Conversion by {period} of first step", xaxis=_AXIS_DATES,
                      yaxis={"tickformat": ".0%", "title": "share of step-1 users", "rangemode": "tozero"})
    return fig


def metric_with_anomalies(digest: pd.DataFrame, metric: str, *, percent: bool = False):
    """One daily metric, its expected value, and its unusual days marked."""
    go = _go()
    part = digest[digest["metric"] == metric].sort_values("ds")
    fmt = ".1%" if percent else ",.2f"
    fig = go.Figure([
        go.Scatter(x=part["ds"], y=part["value"], mode="lines", name=metric,
                   hovertemplate=f"%{{x|%a %Y-%m-%d}}: %{{y:{fmt}}}<extra></extra>"),
        go.Scatter(x=part["ds"], y=part["expected"], mode="lines", name="expected", line={"dash": "dot"},
                   hovertemplate=f"expected %{{y:{fmt}}}<extra></extra>"),
    ])
    odd = part[part["is_anomaly"]]
    if len(odd):
        fig.add_trace(go.Scatter(x=odd["ds"], y=odd["value"], mode="markers", name="unusual",
                                 marker={"size": 11, "color": "#c44e52", "symbol": "circle-open", "line": {"width": 3}},
                                 customdata=odd[["score"]],
                                 hovertemplate=f"%{{x|%Y-%m-%d}}: %{{y:{fmt}}}, score %{{customdata[0]:+.1f}}<extra>unusual</extra>"))
    fig.update_layout(title=f"{metric} per day" + (f": {len(odd)} unusual day(s)" if len(odd) else ""),
                      xaxis=_AXIS_DATES, yaxis={"tickformat": ".0%" if percent else ",", "rangemode": "tozero"})
    return fig


def revenue_per_user(ltv: pd.DataFrame, period: str, *, top: int = 12):
    """Cumulative revenue per cohort user by periods since the cohort started; complete periods
    only (a period still running would read as a drop)."""
    go = _go()
    done = ltv[ltv["complete"]]
    fig = go.Figure()
    for cohort in sorted(done["cohort"].unique())[-top:]:
        part = done[done["cohort"] == cohort].sort_values("period")
        label = str(pd.Timestamp(cohort).date())
        fig.add_trace(go.Scatter(x=part["period"], y=part["revenue_per_user"], mode="lines+markers", name=label,
                                 customdata=part[["cohort_size"]],
                                 hovertemplate=f"{label}, {period} %{{x}}: %{{y:,.2f}} per user "
                                               "(%{customdata[0]:,} users)<extra></extra>"))
    fig.update_layout(title=f"Cumulative revenue per cohort user, by {period}s since the first",
                      xaxis={"title": f"{period}s since the cohort's first", "dtick": 1},
                      yaxis={"title": "revenue per user", "rangemode": "tozero"}, legend_title_text="cohort")
    return fig
