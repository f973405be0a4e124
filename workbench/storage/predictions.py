"""Queries of stored predictions, limited to one brand (and to what an actor may view)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import ResourceKind
from .models import Prediction, utcnow
from .resources import visible

__all__ = ["add", "listed", "set_owner"]


def add(session: Session, brand_id: int, *, metric: str, segment_id: int | None, horizon: int, settings: dict,
        forecast: list[dict], scores: dict, created_by: int | None, data_version: int | None = None) -> Prediction:
    row = Prediction(brand_id=brand_id, metric=metric, segment_id=segment_id, horizon=horizon, settings=settings,
                     forecast=forecast, scores=scores, created_by=created_by, created_at=utcnow(),
                     data_version=data_version)
    session.add(row)
    session.flush()
    return row


def listed(session: Session, brand_id: int, actor, metric: str | None = None) -> list[Prediction]:
    """The predictions ``actor`` may view, newest first."""
    q = sa.select(Prediction).where(visible(ResourceKind.PREDICTION, brand_id, actor))
    if metric:
        q = q.where(Prediction.metric == metric)
    return list(session.scalars(q.order_by(Prediction.created_at.desc(), Prediction.id.desc())))


def set_owner(session: Session, brand_id: int, prediction_id: int, owner: int | None) -> None:
    session.execute(sa.update(Prediction).where(Prediction.brand_id == brand_id, Prediction.id == prediction_id)
                    .values(created_by=owner))
