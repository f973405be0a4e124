"""Stored forecasts of a brand's daily metrics: each prediction keeps its settings, the
forecast rows and the backtest scores, so later runs can be compared with earlier ones."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from ..analytics import forecasting
from ..analytics.forecasting import BacktestResult
from ..analytics.metrics import DAILY_METRICS
from ..analytics.segments import segment_spec
from ..collaboration import access
from ..domain import Action, ResourceKind
from ..errors import InvalidInputError
from ..records import frame_to_records, records_to_frame
from ..storage import collaboration as crepo
from ..storage import predictions as prepo
from . import brand

__all__ = ["ForecastRun", "Predictions", "FORECASTABLE"]

FORECASTABLE = DAILY_METRICS

log = logging.getLogger(__name__)


@dataclass
class ForecastRun:
    """One stored prediction: its id, the forecast and the backtest against seasonal naive."""
    prediction_id: int
    metric: str
    forecast: pd.DataFrame
    backtest: BacktestResult | None
    history: pd.DataFrame

    @property
    def beats_baseline(self) -> bool | None:
        """Whether Prophet beat the seasonal-naive baseline in the backtest (None: no backtest)."""
        return None if self.backtest is None else self.backtest.beats_baseline

    @property
    def warning(self) -> str | None:
        """Set when Prophet lost to the baseline: the sentence saying so."""
        return None if self.backtest is None or self.beats_baseline else self.backtest.verdict()


class Predictions:
    """A brand's predictions (``acme.predictions``); a new one is owned by the acting user."""

    def __init__(self, ctx):
        self.ctx = ctx

    def _series(self, metric: str, segment, since, until, ctx=None) -> pd.DataFrame:
        if metric not in FORECASTABLE:
            raise InvalidInputError(f"cannot forecast {metric!r}; choose one of {', '.join(FORECASTABLE)}")
        daily = brand.daily_metrics(ctx or self.ctx, [metric], segment=segment, since=since, until=until)
        return pd.DataFrame({"ds": daily.index, "y": daily[metric].to_numpy()})

    def create(self, metric: str = "revenue", horizon: int = 90, *, segment=None, since=None, until=None,
               folds: int = 3, backtest_horizon: int | None = None, version: int | None = None,
               **options) -> ForecastRun:
        """Forecast a daily metric (zero-filled days), backtest it, and store the prediction with
        the event table version it read (``version``: read that version instead of the latest).

        ``backtest_horizon`` (default: min(horizon, 28)) is the length of each backtest
        fold; ``folds=0`` skips the backtest. When the history is too short for them, folds
        get shorter (down to a week), then fewer (see :func:`~workbench.analytics.forecasting.fit_folds`);
        the stored settings hold what was run. A forecast that loses to the baseline says so
        (``run.warning``, the stored scores' ``verdict``, a logged warning). Other options are
        forecasting settings (see :func:`workbench.analytics.forecasting.forecast`).
        """
        ctx = self.ctx.at(version) if version is not None else self.ctx.pinned()
        history = self._series(metric, segment, since, until, ctx)
        fc = forecasting.forecast(history, horizon, **options)
        bt = None
        if folds:
            folds, backtest_horizon = forecasting.fit_folds(len(history),
                                                            backtest_horizon or min(horizon, 28), folds)
            bt = forecasting.backtest(history, backtest_horizon, folds=folds, **options)
        return self._store(metric, horizon, segment, options, folds, backtest_horizon, history, fc, bt, ctx.version)

    def _store(self, metric, horizon, segment, options, folds, backtest_horizon, history, fc, bt,
               data_version) -> ForecastRun:
        settings = forecasting.ForecastSettings(**options).model_dump()
        if bt is not None:  # what was run (folds adapt to the history)
            folds, backtest_horizon = int(bt.summary["folds"].iloc[0]), bt.fold_days
        settings.update({"folds": folds, "backtest_horizon": backtest_horizon or min(horizon, 28),
                         "history_start": str(history["ds"].iloc[0].date()),
                         "history_end": str(history["ds"].iloc[-1].date())})
        # the segment is part of what was forecast: a saved one by name (and id), an unsaved
        # definition as written, so that a stored prediction never reads as the whole brand
        if isinstance(segment, str):
            settings["segment"] = segment
        elif segment is not None:
            settings["segment_definition"] = segment_spec(segment).model_dump(mode="json")
        with self.ctx.db.session(write=True) as s:
            segment_id = (access.authorize(s, self.ctx, Action.VIEW, ResourceKind.SEGMENT, segment).id
                          if isinstance(segment, str) else None)
            pid = prepo.add(s, self.ctx.brand_id, metric=metric, segment_id=segment_id, horizon=horizon,
                            settings=settings, forecast=frame_to_records(fc), scores=bt.to_dict() if bt else {},
                            created_by=self.ctx.actor.user_id, data_version=data_version).id
        run = ForecastRun(prediction_id=pid, metric=metric, forecast=fc, backtest=bt, history=history)
        if run.warning:
            log.warning("prediction %d of %s for %s: %s", pid, metric, self.ctx.brand, run.warning)
        return run

    def create_many(self, metrics: list[str], horizon: int = 90, *, folds: int = 3, n_jobs: int | None = None,
                    **options) -> dict[str, ForecastRun | str]:
        """Forecast several metrics in parallel processes; a metric that cannot be forecast
        maps to its error message instead of stopping the others."""
        ctx = self.ctx.pinned()
        histories = {m: self._series(m, None, None, None, ctx) for m in metrics}
        bt_h = min(horizon, 28)
        results = forecasting.forecast_many(histories, horizon, n_jobs=n_jobs, backtest_folds=folds, **options)
        out: dict[str, ForecastRun | str] = {}
        for m, (fc, bt, err) in results.items():
            out[m] = err if err else self._store(m, horizon, None, options, folds, bt_h, histories[m], fc, bt,
                                                 ctx.version)
        return out

    def list(self, metric: str | None = None) -> pd.DataFrame:
        """Stored predictions, newest first: ``id, metric, segment`` (a saved segment's name,
        ``"(unsaved)"`` for a definition, None for the whole brand), ``horizon, created_at,
        mase_prophet, mase_seasonal_naive`` (overall MASE of Prophet and of the baseline),
        ``beats_baseline`` (False: Prophet lost to repeating last week)."""
        with self.ctx.db.session() as s:
            rows = prepo.listed(s, self.ctx.brand_id, self.ctx.actor, metric)
            out = []
            for r in rows:
                mase = {x["model"]: x["mase"] for x in (r.scores or {}).get("summary", [])}
                segment = r.settings.get("segment") or ("(unsaved)" if r.settings.get("segment_definition") else None)
                out.append({"id": r.id, "metric": r.metric, "segment": segment, "horizon": r.horizon,
                            "created_at": r.created_at, "mase_prophet": mase.get("prophet"),
                            "mase_seasonal_naive": mase.get("seasonal_naive"),
                            "beats_baseline": (r.scores or {}).get("beats_baseline")})
        return pd.DataFrame(out, columns=["id", "metric", "segment", "horizon", "created_at", "mase_prophet",
                                          "mase_seasonal_naive", "beats_baseline"])

    def get(self, prediction_id: int) -> dict:
        """A stored prediction: ``settings``, ``forecast`` (frame), ``scores`` and metadata."""
        with self.ctx.db.session() as s:
            r = access.authorize(s, self.ctx, Action.VIEW, ResourceKind.PREDICTION, prediction_id)
            fc = records_to_frame(r.forecast, ("ds",))
            return {"id": r.id, "metric": r.metric, "horizon": r.horizon, "settings": r.settings,
                    "segment": r.settings.get("segment") or r.settings.get("segment_definition"),
                    "forecast": fc, "scores": r.scores, "created_at": r.created_at, "data_version": r.data_version}

    def rerun(self, prediction_id: int) -> ForecastRun:
        """Forecast again with a stored prediction's metric, horizon, segment and settings, on
        the data there is now (needs EDIT on it); stored as a new prediction of the same owner."""
        with self.ctx.db.session() as s:
            r = access.authorize(s, self.ctx, Action.EDIT, ResourceKind.PREDICTION, prediction_id)
            metric, horizon, settings, owner = r.metric, r.horizon, dict(r.settings), r.created_by
        segment = settings.get("segment") or settings.get("segment_definition")
        options = {k: settings[k] for k in forecasting.ForecastSettings.model_fields if k in settings}
        run = self.create(metric, horizon, segment=segment, folds=settings.get("folds", 3),
                          backtest_horizon=settings.get("backtest_horizon"), **options)
        with self.ctx.db.session(write=True) as s:
            prepo.set_owner(s, self.ctx.brand_id, run.prediction_id, owner)
            crepo.copy_shares(s, self.ctx.brand_id, ResourceKind.PREDICTION, prediction_id, run.prediction_id)
        return run

    def delete(self, prediction_id: int) -> None:
        """Delete a stored prediction, its shares, links and comments (owner or brand admin)."""
        with self.ctx.db.session(write=True) as s:
            r = access.authorize(s, self.ctx, Action.DELETE, ResourceKind.PREDICTION, prediction_id)
            crepo.delete_resource_traces(s, self.ctx.brand_id, ResourceKind.PREDICTION, r.id)
            crepo.record(s, self.ctx.brand_id, self.ctx.actor.user_id, self.ctx.actor.name, "delete",
                         ResourceKind.PREDICTION, r.id, {"metric": r.metric})
            s.delete(r)
