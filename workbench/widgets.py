"""ipywidgets explorers for JupyterLab: pick settings, see the table and chart redraw.

>>> from workbench.widgets import funnel_explorer
>>> funnel_explorer(acme)          # as the last line of a cell
"""
from __future__ import annotations

import html
import logging

import ipywidgets as w
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from . import plots
from .errors import WorkbenchError

__all__ = ["FunnelExplorer", "RetentionExplorer", "funnel_explorer", "retention_explorer"]

log = logging.getLogger(__name__)


class _Explorer:
    """Controls above an output area; any change recomputes ``result`` and redraws."""

    def __init__(self, scope, controls: list):
        self.scope = scope
        self.result: pd.DataFrame | None = None
        self.error: str | None = None
        self.output = w.Output()
        self.status = w.HTML()
        for c in controls:
            c.observe(lambda _change: self.refresh(), names="value")
        self.widget = w.VBox([w.HBox(controls[:3]), w.HBox(controls[3:]), self.status, self.output])
        self.refresh()

    def compute(self) -> pd.DataFrame:
        raise NotImplementedError

    def draw(self, result: pd.DataFrame) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        try:
            self.result, self.error = self.compute(), None
            self.status.value = ""
        except WorkbenchError as exc:  # show bad settings in the widget, keep the last good result
            self.error = str(exc)
            shown = " (the chart below is the last one that worked)" if self.result is not None else ""
            self.status.value = f"<span style='color:#c44e52'>{html.escape(str(exc))}{shown}</span>"
            return
        self.output.clear_output(wait=True)
        with self.output:
            self.draw(self.result)
            plt.show()
            display(self.result)

    def _ipython_display_(self):
        display(self.widget)


class FunnelExplorer(_Explorer):
    def __init__(self, scope, steps=("view", "add_to_cart", "checkout", "purchase"), window: str = "7d"):
        names = sorted(r[0] for r in scope.events().aggregate("event").fetchall() if r[0] is not None)
        self.steps = w.TagsInput(value=list(steps), allowed_tags=names or list(steps), allow_duplicates=True,
                                 description="steps")
        self.window = w.Text(value=window, description="window", continuous_update=False)
        self.breakdown = w.Dropdown(options=[("(none)", None), ("country", "country"), ("device", "device")],
                                    description="breakdown")
        self.since = w.Text(value="", description="since", placeholder="YYYY-MM-DD", continuous_update=False)
        self.until = w.Text(value="", description="until", placeholder="YYYY-MM-DD", continuous_update=False)
        super().__init__(scope, [self.steps, self.window, self.breakdown, self.since, self.until])

    def compute(self) -> pd.DataFrame:
        return self.scope.funnel(list(self.steps.value), self.window.value, breakdown=self.breakdown.value,
                                 since=self.since.value or None, until=self.until.value or None)

    def draw(self, result: pd.DataFrame) -> None:
        plots.plot_funnel(result, title=f"{self.scope.name}: funnel within {self.window.value}")


class RetentionExplorer(_Explorer):
    def __init__(self, scope, period: str = "week", periods: int = 8):
        self.period = w.Dropdown(options=["day", "week", "month"], value=period, description="period")
        self.periods = w.IntSlider(value=periods, min=1, max=26, description="periods", continuous_update=False)
        self.mode = w.Dropdown(options=["on", "on_or_after"], value="on", description="mode")
        self.start_event = w.Text(value="", description="start event", placeholder="any event",
                                  continuous_update=False)
        self.return_event = w.Text(value="", description="return event", placeholder="any event",
                                   continuous_update=False)
        super().__init__(scope, [self.period, self.periods, self.mode, self.start_event, self.return_event])

    def compute(self) -> pd.DataFrame:
        return self.scope.retention(period=self.period.value, periods=self.periods.value, mode=self.mode.value,
                                    start_event=self.start_event.value or None,
                                    return_event=self.return_event.value or None)

    def draw(self, result: pd.DataFrame) -> None:
        plots.plot_retention(result)


def funnel_explorer(scope, **kwargs) -> FunnelExplorer:
    """An interactive funnel for a brand scope: steps, window, breakdown, date range."""
    return FunnelExplorer(scope, **kwargs)


def retention_explorer(scope, **kwargs) -> RetentionExplorer:
    """An interactive retention heatmap: period, number of periods, mode, start/return events."""
    return RetentionExplorer(scope, **kwargs)
