"""Correlations between daily metric series, with honest uncertainty."""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InsufficientDataError, InvalidInputError

__all__ = ["correlations", "benjamini_hochberg", "METHODS"]

METHODS = ("pearson", "spearman", "kendall")
_Z975 = stats.norm.ppf(0.975)


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values), in the input order; NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    order = np.argsort(p[ok])
    ranked = p[ok][order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    q[ok] = out
    return q


def _fisher_ci(r: float, n: int, method: str) -> tuple[float, float]:
    """95% interval through Fisher's z. For Spearman the standard error is widened by
    sqrt(1.06) (Fieller et al.); for Kendall, z-transforming tau uses sqrt(0.437/(n-4))."""
    if n <= 3 or np.isnan(r):
        return np.nan, np.nan
    if abs(r) >= 1:
        return float(r), float(r)
    if method == "kendall":
        if n <= 4:
            return np.nan, np.nan
        se = np.sqrt(0.437 / (n - 4))
    else:
        se = np.sqrt((1.06 if method == "spearman" else 1.0) / (n - 3))
    z = np.arctanh(r)
    return float(np.tanh(z - _Z975 * se)), float(np.tanh(z + _Z975 * se))


def correlations(metrics: pd.DataFrame, method: str = "pearson", *, differences: bool = False,
                 min_periods: int = 5) -> pd.DataFrame:
    """Pairwise correlations between the columns of a daily metrics frame.

    Parameters
    ----------
    metrics : DataFrame
        One column per metric, indexed by day. Rows with a missing value are
        dropped pair by pair.
    method : {"pearson", "spearman", "kendall"}
    differences : bool
        Correlate day-to-day changes instead of levels, so that two series that
        merely share a trend are not reported as correlated.
    min_periods : int
        Pairs with fewer common days than this get NaN statistics.

    Returns
    -------
    DataFrame
        One row per pair: ``metric_a``, ``metric_b``, ``r``, ``p_value``, ``ci_low``,
        ``ci_high`` (95%, Fisher z), ``n`` (days used) and ``q_value``
        (Benjamini–Hochberg across all pairs), sorted by ``q_value``.
    """
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not isinstance(metrics, pd.DataFrame):
        raise InvalidInputError(f"metrics must be a DataFrame of daily series, not {type(metrics).__name__}")
    numeric = metrics.select_dtypes("number")
    dropped = sorted(set(metrics.columns) - set(numeric.columns))
    if dropped:
        raise InvalidInputError(f"metric columns must be numeric; not numeric: {dropped}")
    if numeric.shape[1] < 2:
        raise InsufficientDataError(f"need at least two metric columns, got {list(numeric.columns)}")
    data = numeric.sort_index().astype(float)
    if differences:
        data = data.diff().iloc[1:]
    test = {"pearson": stats.pearsonr, "spearman": stats.spearmanr, "kendall": stats.kendalltau}[method]
    rows = []
    for a, b in combinations(data.columns, 2):
        pair = data[[a, b]].dropna()
        n = len(pair)
        r = p = np.nan
        if n >= max(min_periods, 3) and pair[a].nunique() > 1 and pair[b].nunique() > 1:
            res = test(pair[a], pair[b])
            r, p = float(res[0]), float(res[1])
        lo, hi = _fisher_ci(r, n, method)
        rows.append({"metric_a": a, "metric_b": b, "r": r, "p_value": p, "ci_low": lo, "ci_high": hi, "n": n})
    out = pd.DataFrame(rows, columns=["metric_a", "metric_b", "r", "p_value", "ci_low", "ci_high", "n"])
    out["q_value"] = benjamini_hochberg(out["p_value"])
    return out.sort_values(["q_value", "metric_a", "metric_b"], na_position="last").reset_index(drop=True)
