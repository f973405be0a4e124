"""Queries of report runs, limited to one brand (and to what an actor may view)."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import ReportStatus, ResourceKind
from .models import Report, utcnow
from .resources import visible

__all__ = ["start", "finish", "listed"]


def start(session: Session, brand_id: int, name: str, parameters: dict, created_by: int | None,
          data_version: int | None = None) -> Report:
    row = Report(brand_id=brand_id, name=name, parameters=parameters, status=ReportStatus.RUNNING,
                 created_by=created_by, started_at=utcnow(), data_version=data_version)
    session.add(row)
    session.flush()
    return row


def finish(session: Session, brand_id: int, report_id: int, *, status: ReportStatus, error: str | None,
           duration: float, notebook_path: str | None, html_path: str | None) -> None:
    session.execute(sa.update(Report).where(Report.brand_id == brand_id, Report.id == report_id).values(
        status=status, error=error, duration_seconds=duration, notebook_path=notebook_path, html_path=html_path,
        finished_at=datetime.now(timezone.utc)))


def listed(session: Session, brand_id: int, actor) -> list[Report]:
    """The runs ``actor`` may view, newest first."""
    return list(session.scalars(sa.select(Report).where(visible(ResourceKind.REPORT, brand_id, actor))
                                .order_by(Report.started_at.desc(), Report.id.desc())))
