"""Plain-language summaries of result frames, for reports (Markdown strings)."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["funnel_summary", "retention_summary", "forecast_summary", "anomaly_summary", "correlation_summary"]


def _duration(seconds: float) -> str:
    if seconds is None or np.isnan(seconds):
        return "n/a"
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} seconds"


def funnel_summary(result: pd.DataFrame, window: str) -> str:
    """One paragraph: entries, overall conversion, the weakest step."""
    if result["users"].iloc[0] == 0:
        return "Nobody did the first step in this period, so there is no funnel to describe."
    first, last = result.iloc[0], result.iloc[-1]
    steps = result.iloc[1:]
    worst = steps.loc[steps["step_conversion"].fillna(1.0).idxmin()]
    return (f"**{first['users']:,}** users did *{first['event']}*; **{last['users']:,}** of them "
            f"(**{last['conversion']:.1%}**) went on to *{last['event']}* within {window}. "
            f"The weakest step is *{worst['event']}*: only {worst['step_conversion']:.1%} of the users "
            f"at the step before reached it (median time from the previous step: "
            f"{_duration(worst['median_seconds_from_previous'])}).")


def retention_summary(table: pd.DataFrame, curve: pd.DataFrame, period: str) -> str:
    if table.empty:
        return "No cohorts in this period."
    one = curve.loc[curve["period"] == 1, "rate"]
    last_row = curve.iloc[-1]
    adjective = {"day": "daily", "week": "weekly", "month": "monthly"}.get(period, f"{period}ly")
    parts = [f"**{table['cohort'].nunique()}** {adjective} cohorts, "
             f"**{int(table.loc[table.period == 0, 'cohort_size'].sum()):,}** users."]
    if len(one):
        parts.append(f"On average **{one.iloc[0]:.1%}** come back in the {period} after their first "
                     f"(weighted by cohort size, complete periods only).")
    if last_row["period"] > 1:
        parts.append(f"After {int(last_row['period'])} {period}s, {last_row['rate']:.1%} are still active "
                     f"({int(last_row['cohorts'])} cohorts old enough to tell).")
    return " ".join(parts)


def forecast_summary(metric: str, history: pd.DataFrame, forecast: pd.DataFrame, summary: pd.DataFrame | None) -> str:
    total = forecast["yhat"].sum()
    lo, hi = forecast["yhat_lower"].sum(), forecast["yhat_upper"].sum()
    recent = history["y"].tail(len(forecast)).sum()
    text = (f"Over the next **{len(forecast)} days**, *{metric}* is forecast at **{total:,.0f}** in total "
            f"(sum of daily interval bounds {lo:,.0f} – {hi:,.0f}), against {recent:,.0f} over the last "
            f"{len(forecast)} days.")
    if summary is not None and len(summary):
        s = summary.set_index("model")
        p, n = s.loc["prophet", "mase"], s.loc["seasonal_naive", "mase"]
        days = int(s.loc["prophet", "days"])
        if p < n:
            text += (f" In the backtest, Prophet's forecasts were closer than repeating last week "
                     f"(MASE {p:.2f} against {n:.2f} over {days} days; lower is better)")
        else:
            text += (f"\n\n**Warning: in the backtest Prophet did no better than repeating last week** "
                     f"(MASE {p:.2f} against {n:.2f} over {days} days; lower is better): read this forecast "
                     f"as no more than the baseline")
        text += f"; its interval held {s.loc['prophet', 'coverage']:.0%} of the actual days."
    return text


def metric_value(metric: str, value: float) -> str:
    """A daily metric's value as people read it: rates as percentages, revenue with cents."""
    if value is None or np.isnan(value):
        return "n/a"
    if metric.endswith("_rate"):
        return f"{value:.1%}"
    if metric == "revenue":
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def anomaly_summary(digest: pd.DataFrame) -> str:
    flagged = digest[digest["is_anomaly"]]
    if flagged.empty:
        return "No unusual days in any metric."
    lines = [f"- **{r.metric}** on {pd.Timestamp(r.ds).date()} ({pd.Timestamp(r.ds):%A}): "
             f"{metric_value(r.metric, r.value)}, {'above' if r.score > 0 else 'below'} the expected "
             f"{metric_value(r.metric, r.expected)} (score {r.score:+.1f})"
             for r in flagged.sort_values("ds").itertuples()]
    return f"{len(flagged)} unusual day(s):\n\n" + "\n".join(lines)


def correlation_summary(result: pd.DataFrame, differences: bool = False) -> str:
    what = "day-to-day changes" if differences else "daily values"
    sig = result[result["q_value"] < 0.05]
    if sig.empty:
        return f"No pair of metrics moves together beyond chance in their {what} (all q ≥ 0.05)."
    top = sig.iloc[0]
    return (f"Correlations of {what}: {len(sig)} of {len(result)} pairs move together beyond chance (q < 0.05). "
            f"Strongest: *{top.metric_a}* and *{top.metric_b}*, r = {top.r:.2f} "
            f"(95% CI {top.ci_low:.2f} to {top.ci_high:.2f}).")
