"""Charts drawn from result frames. Nothing here computes analytics: each function takes
the frame an analysis returned and draws it with matplotlib, returning the Axes."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["plot_funnel", "plot_retention", "plot_retention_curve", "plot_forecast", "plot_anomalies",
           "plot_correlations", "plot_metric"]


def _axes(ax, size=(8, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def plot_funnel(result: pd.DataFrame, ax=None, title: str | None = None):
    """Horizontal bars of users per step (one bar group per breakdown value if present)."""
    ax = _axes(ax)
    if "breakdown" in result.columns:
        table = result.pivot(index="step", columns="breakdown", values="users")
        labels = result.drop_duplicates("step").set_index("step")["event"]
        table.index = [f"{s}. {labels[s]}" for s in table.index]
        table.iloc[::-1].plot.barh(ax=ax)
    else:
        labels = [f"{s}. {e}" for s, e in zip(result["step"], result["event"])]
        bars = ax.barh(labels[::-1], result["users"].to_numpy()[::-1], color="#4c72b0")
        for bar, conv in zip(bars, result["conversion"].to_numpy()[::-1]):
            if not np.isnan(conv):
                ax.annotate(f"{conv:.1%}", (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                            xytext=(4, 0), textcoords="offset points", va="center")
    ax.set_xlabel("users")
    ax.set_title(title or "Funnel")
    return ax


def plot_retention(table: pd.DataFrame, ax=None, title: str | None = None):
    """Cohort heatmap of retention rates; incomplete cells are hatched out."""
    ax = _axes(ax, (9, max(3, 0.35 * table["cohort"].nunique() + 1)))
    rates = table.pivot(index="cohort", columns="period", values="rate")
    complete = table.pivot(index="cohort", columns="period", values="complete").reindex_like(rates)
    shown = rates.where(complete.astype(bool) | (rates.columns.to_numpy()[None, :] == 0))
    im = ax.imshow(shown.to_numpy(dtype=float), aspect="auto", cmap="Blues", vmin=0, vmax=1)
    ax.set_yticks(range(len(rates.index)), [c.strftime("%Y-%m-%d") for c in rates.index])
    ax.set_xticks(range(len(rates.columns)), rates.columns)
    ax.set_xlabel("periods since cohort start")
    ax.set_ylabel("cohort")
    for (i, j), v in np.ndenumerate(shown.to_numpy(dtype=float)):
        if not np.isnan(v):
            ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=7, color="white" if v > 0.6 else "black")
    ax.figure.colorbar(im, ax=ax, label="retention")
    ax.set_title(title or "Retention by cohort (blank: period not over yet)")
    return ax


def plot_retention_curve(curve: pd.DataFrame, ax=None, title: str | None = None):
    ax = _axes(ax)
    ax.plot(curve["period"], curve["rate"], marker="o")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("periods since cohort start")
    ax.set_ylabel("retained")
    ax.set_title(title or "Average retention (weighted by cohort size)")
    return ax


def plot_forecast(history: pd.DataFrame, forecast: pd.DataFrame, ax=None, title: str | None = None):
    """History (ds, y) and forecast (ds, yhat, yhat_lower, yhat_upper) with its interval."""
    ax = _axes(ax, (10, 4))
    ax.plot(history["ds"], history["y"], color="black", lw=1, label="actual")
    ax.plot(forecast["ds"], forecast["yhat"], color="#4c72b0", label="forecast")
    ax.fill_between(forecast["ds"], forecast["yhat_lower"], forecast["yhat_upper"], color="#4c72b0", alpha=0.25,
                    label="interval")
    ax.legend(loc="upper left")
    ax.set_title(title or "Forecast")
    return ax


def plot_anomalies(result: pd.DataFrame, ax=None, title: str | None = None):
    """A metric with its expected value and the flagged days."""
    ax = _axes(ax, (10, 3.5))
    ax.plot(result["ds"], result["value"], color="black", lw=1, label="value")
    ax.plot(result["ds"], result["expected"], color="#4c72b0", lw=1, ls="--", label="expected")
    flagged = result[result["is_anomaly"]]
    ax.scatter(flagged["ds"], flagged["value"], color="#c44e52", zorder=3, label="anomaly")
    ax.legend(loc="upper left")
    ax.set_title(title or "Anomalies")
    return ax


def plot_metric(daily: pd.DataFrame, column: str, ax=None, title: str | None = None):
    ax = _axes(ax, (10, 3))
    ax.plot(daily.index, daily[column], lw=1)
    ax.set_title(title or column)
    return ax


def plot_correlations(result: pd.DataFrame, ax=None, title: str | None = None):
    """Matrix of r between metrics (pairs with q >= 0.05 are shown faded)."""
    names = sorted(set(result["metric_a"]) | set(result["metric_b"]))
    m = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    sig = pd.DataFrame(True, index=names, columns=names)
    for r in result.itertuples():
        m.loc[r.metric_a, r.metric_b] = m.loc[r.metric_b, r.metric_a] = r.r
        sig.loc[r.metric_a, r.metric_b] = sig.loc[r.metric_b, r.metric_a] = bool(r.q_value < 0.05)
    ax = _axes(ax, (1.2 * len(names) + 2, 1.0 * len(names) + 1))
    im = ax.imshow(m.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    for (i, j), v in np.ndenumerate(m.to_numpy(dtype=float)):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8,
                alpha=1.0 if sig.iloc[i, j] else 0.35)
    ax.figure.colorbar(im, ax=ax, label="r")
    ax.set_title(title or "Correlations (faded: not significant, q >= 0.05)")
    return ax
