"""Stored forecasts of a brand's daily metrics: each prediction keeps its settings, the
forecast rows and the backtest scores, so later runs can be compared with earlier ones."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from .analytics import forecasting
from .analytics.forecasting import BacktestResult
from .analytics.metrics import METRICS
from .analytics.segments import segment_spec
from .errors import InvalidInputError, NotFoundError
from .records import frame_to_records, records_to_frame
from .storage import repositories as repo
from .storage.models import Prediction, SegmentDefinition

if TYPE_CHECKING:
    from .workspace import BrandScope

__all__ = ["ForecastRun", "Predictions", "FORECASTABLE"]

FORECASTABLE = (*METRICS, "conversion_rate")


@dataclass
class ForecastRun:
    """One stored prediction: its id, the forecast and the backtest against seasonal naive."""
    prediction_id: int
    metric: str
    forecast: pd.DataFrame
    backtest: BacktestResult | None
    history: pd.DataFrame


class Predictions:
    """A brand's predictions (``acme.predictions``)."""

    def __init__(self, scope: "BrandScope"):
        self.scope = scope

    def _series(self, metric: str, segment, since, until) -> pd.DataFrame:
        if metric not in FORECASTABLE:
            raise InvalidInputError(f"cannot forecast {metric!r}; choose one of {', '.join(FORECASTABLE)}")
        daily = self.scope.daily_metrics([metric], segment=segment, since=since, until=until)
        return pd.DataFrame({"ds": daily.index, "y": daily[metric].to_numpy()})

    def create(self, metric: str = "revenue", horizon: int = 90, *, segment=None, since=None, until=None,
               folds: int = 3, backtest_horizon: int | None = None, **options) -> ForecastRun:
        """Forecast a daily metric (zero-filled days), backtest it, and store the prediction.

        ``backtest_horizon`` (default: min(horizon, 28)) is the length of each backtest
        fold; ``folds=0`` skips the backtest. Other options are forecasting settings
        (see :func:`workbench.analytics.forecasting.forecast`).
        """
        history = self._series(metric, segment, since, until)
        fc = forecasting.forecast(history, horizon, **options)
        bt = None
        if folds:
            bt = forecasting.backtest(history, backtest_horizon or min(horizon, 28), folds=folds, **options)
        return self._store(metric, horizon, segment, options, folds, backtest_horizon, history, fc, bt)

    def _store(self, metric, horizon, segment, options, folds, backtest_horizon, history, fc, bt) -> ForecastRun:
        settings = forecasting.ForecastSettings(**options).model_dump()
        settings.update({"folds": folds, "backtest_horizon": backtest_horizon or min(horizon, 28),
                         "history_start": str(history["ds"].iloc[0].date()),
                         "history_end": str(history["ds"].iloc[-1].date())})
        # the segment is part of what was forecast: a saved one by name (and id), an unsaved
        # definition as written, so that a stored prediction never reads as the whole brand
        if isinstance(segment, str):
            settings["segment"] = segment
        elif segment is not None:
            settings["segment_definition"] = segment_spec(segment).model_dump(mode="json")
        with self.scope.workspace.db.session(write=True) as s:
            segment_id = (repo.DefinitionRepository(s, SegmentDefinition, self.scope.id).get(segment).id
                          if isinstance(segment, str) else None)
            row = Prediction(brand_id=self.scope.id, metric=metric, segment_id=segment_id, horizon=horizon,
                             settings=settings, forecast=frame_to_records(fc), scores=bt.to_dict() if bt else {})
            s.add(row)
            s.flush()
            pid = row.id
        return ForecastRun(prediction_id=pid, metric=metric, forecast=fc, backtest=bt, history=history)

    def create_many(self, metrics: list[str], horizon: int = 90, *, folds: int = 3, n_jobs: int | None = None,
                    **options) -> dict[str, ForecastRun | str]:
        """Forecast several metrics in parallel processes; a metric that cannot be forecast
        maps to its error message instead of stopping the others."""
        histories = {m: self._series(m, None, None, None) for m in metrics}
        bt_h = min(horizon, 28)
        results = forecasting.forecast_many(histories, horizon, n_jobs=n_jobs, backtest_folds=folds, **options)
        out: dict[str, ForecastRun | str] = {}
        for m, (fc, bt, err) in results.items():
            out[m] = err if err else self._store(m, horizon, None, options, folds, bt_h, histories[m], fc, bt)
        return out

    def list(self, metric: str | None = None) -> pd.DataFrame:
        """Stored predictions, newest first: ``id, metric, segment`` (a saved segment's name,
        ``"(unsaved)"`` for a definition, None for the whole brand), ``horizon, created_at,
        mase_prophet, mase_seasonal_naive`` (overall MASE of Prophet and of the baseline)."""
        with self.scope.workspace.db.session() as s:
            q = sa.select(Prediction).where(Prediction.brand_id == self.scope.id)
            if metric:
                q = q.where(Prediction.metric == metric)
            rows = s.scalars(q.order_by(Prediction.created_at.desc(), Prediction.id.desc())).all()
            out = []
            for r in rows:
                mase = {x["model"]: x["mase"] for x in (r.scores or {}).get("summary", [])}
                segment = r.settings.get("segment") or ("(unsaved)" if r.settings.get("segment_definition") else None)
                out.append({"id": r.id, "metric": r.metric, "segment": segment, "horizon": r.horizon,
                            "created_at": r.created_at, "mase_prophet": mase.get("prophet"),
                            "mase_seasonal_naive": mase.get("seasonal_naive")})
        return pd.DataFrame(out, columns=["id", "metric", "segment", "horizon", "created_at", "mase_prophet",
                                          "mase_seasonal_naive"])

    def get(self, prediction_id: int) -> dict:
        """A stored prediction: ``settings``, ``forecast`` (frame), ``scores`` and metadata."""
        with self.scope.workspace.db.session() as s:
            r = s.scalar(sa.select(Prediction).where(Prediction.brand_id == self.scope.id,
                                                     Prediction.id == prediction_id))
            if r is None:
                raise NotFoundError(f"no prediction {prediction_id} for brand {self.scope.name!r}")
            fc = records_to_frame(r.forecast, ("ds",))
            return {"id": r.id, "metric": r.metric, "horizon": r.horizon, "settings": r.settings,
                    "segment": r.settings.get("segment") or r.settings.get("segment_definition"),
                    "forecast": fc, "scores": r.scores, "created_at": r.created_at}
