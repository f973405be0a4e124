"""Repositories: the queries services make, each limited to one brand."""
from __future__ import annotations

from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import AlreadyExistsError, NotFoundError
from .models import (AnalysisResult, Brand, CohortDefinition, FunnelDefinition, IngestRecord,
                     SegmentDefinition, User)

__all__ = ["brand_id", "get_or_create_brand", "brand_names", "get_or_create_user", "DefinitionRepository",
           "ResultRepository", "record_ingest"]

M = TypeVar("M", FunnelDefinition, CohortDefinition, SegmentDefinition)


def get_or_create_brand(session: Session, name: str) -> Brand:
    brand = session.scalar(sa.select(Brand).where(Brand.name == name))
    if brand is None:
        try:
            with session.begin_nested():
                brand = Brand(name=name)
                session.add(brand)
        except IntegrityError:  # created concurrently by another process
            brand = session.scalar(sa.select(Brand).where(Brand.name == name))
    return brand


def brand_id(session: Session, name: str) -> int | None:
    return session.scalar(sa.select(Brand.id).where(Brand.name == name))


def brand_names(session: Session) -> list[str]:
    return list(session.scalars(sa.select(Brand.name).order_by(Brand.name)))


def get_or_create_user(session: Session, brand_id: int, name: str, email: str | None = None) -> User:
    user = session.scalar(sa.select(User).where(User.brand_id == brand_id, User.name == name))
    if user is None:
        user = User(brand_id=brand_id, name=name, email=email)
        session.add(user)
        session.flush()
    return user


class DefinitionRepository(Generic[M]):
    """Create, read, update and delete saved definitions of one kind for one brand."""

    def __init__(self, session: Session, model: type[M], brand_id: int):
        self.session, self.model, self.brand_id = session, model, brand_id
        self.kind = model.__tablename__.rstrip("s")

    def _query(self):
        return sa.select(self.model).where(self.model.brand_id == self.brand_id)

    def list(self) -> list[M]:
        return list(self.session.scalars(self._query().order_by(self.model.name)))

    def get(self, name_or_id: str | int) -> M:
        col = self.model.id if isinstance(name_or_id, int) else self.model.name
        row = self.session.scalar(self._query().where(col == name_or_id))
        if row is None:
            raise NotFoundError(f"no {self.kind} named {name_or_id!r} for this brand")
        return row

    def create(self, name: str, **fields: Any) -> M:
        if self.session.scalar(self._query().where(self.model.name == name)) is not None:
            raise AlreadyExistsError(f"a {self.kind} named {name!r} already exists; update it or pick another name")
        row = self.model(brand_id=self.brand_id, name=name, **fields)
        self.session.add(row)
        self.session.flush()
        return row

    def update(self, name_or_id: str | int, **fields: Any) -> M:
        row = self.get(name_or_id)
        for key, value in fields.items():
            setattr(row, key, value)
        self.session.flush()
        return row

    def delete(self, name_or_id: str | int) -> None:
        self.session.delete(self.get(name_or_id))
        self.session.flush()


class ResultRepository:
    """Stored results of calculations, newest first."""

    def __init__(self, session: Session, brand_id: int):
        self.session, self.brand_id = session, brand_id

    def add(self, kind: str, definition_id: int | None, parameters: dict, records: list[dict]) -> AnalysisResult:
        row = AnalysisResult(brand_id=self.brand_id, kind=kind, definition_id=definition_id,
                             parameters=parameters, result=records)
        self.session.add(row)
        self.session.flush()
        return row

    def latest(self, kind: str, definition_id: int) -> AnalysisResult | None:
        return self.session.scalar(
            sa.select(AnalysisResult)
            .where(AnalysisResult.brand_id == self.brand_id, AnalysisResult.kind == kind,
                   AnalysisResult.definition_id == definition_id)
            .order_by(AnalysisResult.calculated_at.desc(), AnalysisResult.id.desc()).limit(1))

    def history(self, kind: str, definition_id: int) -> list[AnalysisResult]:
        return list(self.session.scalars(
            sa.select(AnalysisResult)
            .where(AnalysisResult.brand_id == self.brand_id, AnalysisResult.kind == kind,
                   AnalysisResult.definition_id == definition_id)
            .order_by(AnalysisResult.calculated_at.desc(), AnalysisResult.id.desc())))


def record_ingest(session: Session, brand_id: int, report) -> IngestRecord:
    row = IngestRecord(brand_id=brand_id, source=report.source, accepted=report.accepted,
                       duplicates=report.duplicates, rejected=report.rejected,
                       quarantine_path=str(report.quarantine_path) if report.quarantine_path else None,
                       data_file=str(report.data_file) if report.data_file else None)
    session.add(row)
    session.flush()
    return row
