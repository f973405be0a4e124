"""Saved analyses of a brand: funnels, cohorts and segments with their stored results,
predictions, and the recalculation of all of them. Services over a BrandContext."""
from .definitions import CohortSpec, FunnelSpec, SavedCohorts, SavedFunnels, SavedSegments
from .predictions import FORECASTABLE, ForecastRun, Predictions
from .recalculation import ANOMALY_METRICS, recalculate_brand, record_outcome

__all__ = ["FunnelSpec", "CohortSpec", "SavedFunnels", "SavedCohorts", "SavedSegments", "Predictions", "ForecastRun",
           "FORECASTABLE", "recalculate_brand", "record_outcome", "ANOMALY_METRICS"]
