import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.analytics import correlations
from workbench.analytics.correlations import benjamini_hochberg
from workbench.errors import InsufficientDataError, InvalidInputError


def test_pearson_matches_scipy_and_fisher_interval():
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    df = pd.DataFrame({"a": x, "b": 0.6 * x + rng.normal(size=60), "c": rng.normal(size=60)},
                      index=pd.date_range("2026-01-01", periods=60))
    out = correlations(df).set_index(["metric_a", "metric_b"])
    r, p = stats.pearsonr(df.a, df.b)
    row = out.loc[("a", "b")]
    assert row.r == pytest.approx(r) and row.p_value == pytest.approx(p) and row.n == 60
    z, se = np.arctanh(r), 1 / np.sqrt(57)
    assert row.ci_low == pytest.approx(np.tanh(z - 1.959964 * se), rel=1e-5)
    assert row.ci_high == pytest.approx(np.tanh(z + 1.959964 * se), rel=1e-5)
    assert list(out.reset_index().columns) == ["metric_a", "metric_b", "r", "p_value", "ci_low", "ci_high", "n",
                                               "q_value"]
    assert len(out) == 3


def test_benjamini_hochberg_by_hand():
    # p sorted: 0.01, 0.02, 0.03, 0.5 with m=4 -> 0.04, 0.04, 0.04, 0.5
    assert benjamini_hochberg([0.03, 0.5, 0.01, 0.02]).tolist() == pytest.approx([0.04, 0.5, 0.04, 0.04])
    q = benjamini_hochberg([0.2, np.nan])
    assert q[0] == pytest.approx(0.2) and np.isnan(q[1])


def test_differences_remove_shared_trends():
    rng = np.random.default_rng(1)
    t = np.arange(120.0)
    df = pd.DataFrame({"a": t + rng.normal(0, 3, 120), "b": 2 * t + rng.normal(0, 3, 120)},
                      index=pd.date_range("2026-01-01", periods=120))
    assert correlations(df).r.item() > 0.95
    diffed = correlations(df, differences=True)
    assert abs(diffed.r.item()) < 0.3 and diffed.n.item() == 119
    assert diffed.ci_low.item() < 0 < diffed.ci_high.item()


def test_spearman_and_constant_columns():
    df = pd.DataFrame({"a": [1, 2, 3, 4, 5, 6.0], "b": [1, 4, 9, 16, 25, 36.0], "flat": [1.0] * 6})
    out = correlations(df, method="spearman").set_index(["metric_a", "metric_b"])
    assert out.loc[("a", "b"), "r"] == pytest.approx(1.0)
    assert np.isnan(out.loc[("a", "flat"), "r"])  # undefined, reported as NaN, not a crash


def test_bad_input():
    with pytest.raises(InvalidInputError, match="method"):
        correlations(pd.DataFrame({"a": [1.0], "b": [2.0]}), method="magic")
    with pytest.raises(InsufficientDataError, match="two metric columns"):
        correlations(pd.DataFrame({"a": [1.0, 2.0]}))
    with pytest.raises(InvalidInputError, match="numeric"):
        correlations(pd.DataFrame({"a": [1.0], "b": ["x"]}))
