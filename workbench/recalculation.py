"""Recalculate everything saved for a brand: funnels, cohorts, segments, anomaly checks and
forecasts, storing each result with its time. Flows call this once per brand."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .records import frame_to_records
from .storage import repositories as repo

if TYPE_CHECKING:
    from .workspace import BrandScope

__all__ = ["recalculate_brand", "record_outcome", "ANOMALY_METRICS"]

log = logging.getLogger(__name__)
ANOMALY_METRICS = ("active_users", "purchases", "revenue")


def recalculate_brand(scope: "BrandScope", *, forecast_metrics: tuple[str, ...] = ("revenue",),
                      horizon: int = 28, anomaly_metrics: tuple[str, ...] = ANOMALY_METRICS) -> dict:
    """Recalculate and store every saved analysis of the brand. Returns counts of what was stored.

    Raises whatever the first failing calculation raises (the caller retries and reports).
    """
    done = {"funnels": len(scope.funnels.calculate_all()), "cohorts": len(scope.cohorts.calculate_all()),
            "segments": len(scope.segments.calculate_all())}
    digest = scope.anomaly_digest(list(anomaly_metrics))
    flagged = digest[digest["is_anomaly"]]
    with scope.workspace.db.session(write=True) as s:
        repo.ResultRepository(s, scope.id).add("anomaly", None, {"metrics": list(anomaly_metrics)},
                                               frame_to_records(flagged))
    done["anomalies"] = int(len(flagged))
    done["predictions"] = [scope.forecast(m, horizon, folds=2, backtest_horizon=min(horizon, 14)).prediction_id
                           for m in forecast_metrics]
    log.info("recalculated %s: %s", scope.name, done)
    return done


def record_outcome(scope: "BrandScope", status: str, detail: dict | str) -> None:
    """Store how a brand's recalculation ended (kind ``recalculation``), failures included."""
    with scope.workspace.db.session(write=True) as s:
        repo.ResultRepository(s, scope.id).add(
            "recalculation", None, {"status": status},
            [{"status": status, **(detail if isinstance(detail, dict) else {"error": detail})}])
