"""How report notebooks show things: a header, readable tables and interactive charts.

Everything renders to self-contained HTML: tables are HTML (no index, numbers formatted by kind,
long ones cut with the full table one click away and as a CSV download), charts are Plotly figures
whose library is inlined once per notebook (nothing is fetched from the network). Used by the
notebooks in ``notebooks/reports``; analysts can use it in their own notebooks too.

Formats (``table(..., formats={column: kind})``): ``int`` (1,234), ``pct`` (12.3%), ``money``
(1,234.50), ``duration`` (seconds as "45 s", "7.9 min", "3.2 h", "2.1 d"), ``float`` (3 significant
decimals), ``date`` (2026-03-02).
"""
from __future__ import annotations

import base64
import html
import math
from datetime import datetime, timezone

import pandas as pd

__all__ = ["header", "table", "chart", "fmt_duration", "fmt_pct", "FORMATTERS"]

_PLOTLY_LOADED = False
PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def fmt_duration(seconds) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    s = float(seconds)
    for limit, unit, div in ((90, "s", 1), (90 * 60, "min", 60), (36 * 3600, "h", 3600)):
        if abs(s) < limit:
            return f"{s / div:.0f} {unit}" if unit == "s" else f"{s / div:.1f} {unit}"
    return f"{s / 86400:.1f} d"


def fmt_pct(value) -> str:
    return "" if value is None or pd.isna(value) else f"{100 * float(value):.1f}%"


def _num(pattern: str):
    return lambda v: "" if v is None or pd.isna(v) else pattern.format(v)


FORMATTERS = {
    "int": _num("{:,.0f}"),
    "pct": fmt_pct,
    "money": _num("{:,.2f}"),
    "duration": fmt_duration,
    "float": _num("{:,.3g}"),
    "date": lambda v: "" if v is None or pd.isna(v) else str(pd.Timestamp(v).date()),
}


def _formatted(frame: pd.DataFrame, formats: dict[str, str]) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        kind = formats.get(col)
        if kind is None:
            s = out[col]
            if pd.api.types.is_integer_dtype(s):
                kind = "int"
            elif pd.api.types.is_datetime64_any_dtype(s):
                kind = "date" if (s.dropna().dt.normalize() == s.dropna()).all() else None
            elif pd.api.types.is_float_dtype(s):
                kind = "float"
        if kind is not None:
            out[col] = out[col].map(FORMATTERS[kind])
    return out.fillna("")


def _html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, border=0, classes="wb-data")


def table(frame: pd.DataFrame, *, formats: dict[str, str] | None = None, rows: int = 25,
          name: str = "table") -> "HTML":
    """An HTML table without the index, numbers formatted, at most ``rows`` rows shown; longer
    tables show their first rows, then the whole table behind "All N rows", and a CSV download."""
    from IPython.display import HTML

    shown = _formatted(frame.reset_index(drop=True), formats or {})
    shown.columns = [str(c).replace("_", " ") for c in shown.columns]  # a pivot's axis name is not a header
    parts = [f'<div class="wb-table">{_html_table(shown.head(rows))}</div>']
    if len(frame) > rows:
        csv = base64.b64encode(frame.to_csv(index=False).encode()).decode()
        parts.append(f'<details class="wb-more"><summary>All {len(frame):,} rows</summary>'
                     f'<div class="wb-table">{_html_table(shown)}</div></details>'
                     f'<p class="wb-download"><a download="{html.escape(name)}.csv" '
                     f'href="data:text/csv;base64,{csv}">Download {html.escape(name)}.csv</a></p>')
    return HTML("".join(parts))


def _period_of(scope, since, until) -> str:
    rel = scope.events(since, until)
    lo, hi = rel.aggregate("min(ts), max(ts)").fetchall()[0]
    if lo is None:
        return "no events in this period"
    first = pd.Timestamp(since).date() if since else pd.Timestamp(lo).date()
    last = (pd.Timestamp(until) - pd.Timedelta(days=1)).date() if until else pd.Timestamp(hi).date()
    return f"{first} – {last} (UTC)"


def header(scope, title: str, *, since=None, until=None) -> "HTML":
    """The report's title line: brand, period covered, when it was generated and on which
    version of the brand's events."""
    from IPython.display import HTML

    version = scope.context.version if scope.context.version is not None else scope.data.version
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    facts = [f'Brand <strong class="wb-brand">{html.escape(scope.name)}</strong>',
             f'<span class="wb-period">{html.escape(_period_of(scope, since, until))}</span>',
             f"generated {generated}"]
    if version is not None:
        facts.append(f"data version {version}")
    return HTML(f'<header class="wb-header"><h1>{html.escape(title)}</h1>'
                f'<p class="wb-meta">{" · ".join(facts)}</p></header>')


def chart(fig, *, height: int = 420) -> "HTML":
    """A Plotly figure as HTML; the first chart of a notebook carries plotly.js inline."""
    global _PLOTLY_LOADED
    from IPython.display import HTML

    fig.update_layout(height=height, margin={"l": 60, "r": 20, "t": 50, "b": 50}, template="plotly_white",
                      colorway=PALETTE, hoverlabel={"namelength": -1})
    out = fig.to_html(full_html=False, include_plotlyjs=not _PLOTLY_LOADED,
                      config={"displaylogo": False, "responsive": True})
    _PLOTLY_LOADED = True
    return HTML(f'<div class="wb-chart">{out}</div>')
