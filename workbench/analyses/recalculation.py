"""Recalculate everything saved for a brand: funnels, cohorts, segments, anomaly checks and
forecasts, storing each result with its time. Flows call this once per brand."""
from __future__ import annotations

import logging

from ..records import frame_to_records
from ..storage import repositories as repo
from . import brand
from .definitions import SavedCohorts, SavedFunnels, SavedSegments
from .predictions import Predictions

__all__ = ["recalculate_brand", "record_outcome", "ANOMALY_METRICS"]

log = logging.getLogger(__name__)
ANOMALY_METRICS = ("active_users", "purchases", "revenue")


def recalculate_brand(ctx, *, forecast_metrics: tuple[str, ...] = ("revenue",), horizon: int = 28,
                      anomaly_metrics: tuple[str, ...] = ANOMALY_METRICS) -> dict:
    """Recalculate and store every saved analysis of the brand (``ctx``: a BrandContext).
    Returns counts of what was stored.

    Raises whatever the first failing calculation raises (the caller retries and reports).
    """
    done = {"funnels": len(SavedFunnels(ctx).calculate_all()), "cohorts": len(SavedCohorts(ctx).calculate_all()),
            "segments": len(SavedSegments(ctx).calculate_all())}
    digest = brand.anomaly_digest(ctx, list(anomaly_metrics))
    flagged = digest[digest["is_anomaly"]]
    with ctx.db.session(write=True) as s:
        repo.ResultRepository(s, ctx.brand_id).add("anomaly", None, {"metrics": list(anomaly_metrics)},
                                                   frame_to_records(flagged))
    done["anomalies"] = int(len(flagged))
    predictions = Predictions(ctx)
    done["predictions"] = [predictions.create(m, horizon, folds=2, backtest_horizon=min(horizon, 14)).prediction_id
                           for m in forecast_metrics]
    log.info("recalculated %s: %s", ctx.brand, done)
    return done


def record_outcome(ctx, status: str, detail: dict | str) -> None:
    """Store how a brand's recalculation ended (kind ``recalculation``), failures included."""
    with ctx.db.session(write=True) as s:
        repo.ResultRepository(s, ctx.brand_id).add(
            "recalculation", None, {"status": status},
            [{"status": status, **(detail if isinstance(detail, dict) else {"error": detail})}])
