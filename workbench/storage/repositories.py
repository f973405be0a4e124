"""Repositories: the queries services make, each limited to one brand.

Races on unique keys are settled by the database, never by a read-then-insert: rows that
may be created by two processes at once (brands, users, budgets, collection items) are
written with ``INSERT ... ON CONFLICT DO NOTHING`` and read back (:func:`insert_or_get`);
named resources that must not exist twice are inserted in a savepoint whose unique
violation becomes an :class:`AlreadyExistsError` (:func:`add_unique`).
"""
from __future__ import annotations

from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import AlreadyExistsError, NotFoundError
from .models import (AnalysisResult, Brand, CohortDefinition, FunnelDefinition, IngestRecord,
                     SegmentDefinition, User, utcnow)

__all__ = ["brand_id", "brand_name", "get_or_create_brand", "brand_names", "delete_brand", "get_or_create_user", "insert_or_get", "insert_missing", "add_unique",
           "DefinitionRepository", "ResultRepository", "record_ingest"]

M = TypeVar("M", FunnelDefinition, CohortDefinition, SegmentDefinition)
T = TypeVar("T")


def insert_or_get(session: Session, model: type[T], keys: dict[str, Any], values: dict[str, Any] | None = None) -> T:
    """The row of ``model`` whose unique ``keys`` are given, inserted (with ``values``) when
    missing. Safe when several processes do it at once: the loser's insert does nothing,
    and every caller reads the one row back."""
    row = session.scalar(sa.select(model).where(*(getattr(model, k) == v for k, v in keys.items())))
    if row is not None:
        return row
    insert_missing(session, model, keys, values)
    return session.scalars(sa.select(model).where(*(getattr(model, k) == v for k, v in keys.items()))
                           .execution_options(populate_existing=True)).one()


def insert_missing(session: Session, model, keys: dict[str, Any], values: dict[str, Any] | None = None) -> None:
    """``INSERT ... ON CONFLICT (keys) DO NOTHING`` on SQLite and PostgreSQL alike."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(model).values(**keys, **(values or {})).on_conflict_do_nothing(index_elements=list(keys)))


def add_unique(session: Session, row: T, message: str) -> T:
    """Insert ``row``; when a unique key is taken (also by a concurrent process), raise
    AlreadyExistsError(message) and leave the session usable."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise AlreadyExistsError(message) from None
    return row


def get_or_create_brand(session: Session, name: str) -> Brand:
    return insert_or_get(session, Brand, {"name": name}, {"created_at": utcnow()})


def brand_id(session: Session, name: str) -> int | None:
    return session.scalar(sa.select(Brand.id).where(Brand.name == name))


def brand_name(session: Session, brand_id: int) -> str | None:
    return session.scalar(sa.select(Brand.name).where(Brand.id == brand_id))


def delete_brand(session: Session, brand_id: int) -> None:
    """The brand's row; every row that belongs to the brand goes with it (ON DELETE CASCADE)."""
    session.execute(sa.delete(Brand).where(Brand.id == brand_id))


def brand_names(session: Session) -> list[str]:
    return list(session.scalars(sa.select(Brand.name).order_by(Brand.name)))


def get_or_create_user(session: Session, brand_id: int, name: str, email: str | None = None) -> User:
    return insert_or_get(session, User, {"brand_id": brand_id, "name": name}, {"email": email, "created_at": utcnow()})


class DefinitionRepository(Generic[M]):
    """Create, read, update and delete saved definitions of one kind for one brand."""

    def __init__(self, session: Session, model: type[M], brand_id: int):
        self.session, self.model, self.brand_id = session, model, brand_id
        self.kind = model.__tablename__.rstrip("s")

    def _query(self):
        return sa.select(self.model).where(self.model.brand_id == self.brand_id)

    def list(self, visible=None) -> list[M]:
        """Every definition of the brand, or those matching ``visible`` (a clause from
        :func:`workbench.storage.resources.visible`)."""
        q = self._query() if visible is None else self._query().where(visible)
        return list(self.session.scalars(q.order_by(self.model.name)))

    def get(self, name_or_id: str | int) -> M:
        col = self.model.id if isinstance(name_or_id, int) else self.model.name
        row = self.session.scalar(self._query().where(col == name_or_id))
        if row is None:
            raise NotFoundError(f"no {self.kind} named {name_or_id!r} for this brand")
        return row

    def create(self, name: str, **fields: Any) -> M:
        message = f"a {self.kind} named {name!r} already exists; update it or pick another name"
        if self.session.scalar(self._query().where(self.model.name == name)) is not None:
            raise AlreadyExistsError(message)
        return add_unique(self.session, self.model(brand_id=self.brand_id, name=name, **fields), message)

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

    def add(self, kind: str, definition_id: int | None, parameters: dict, records: list[dict], *,
            data_version: int | None = None) -> AnalysisResult:
        row = AnalysisResult(brand_id=self.brand_id, kind=kind, definition_id=definition_id,
                             parameters=parameters, result=records, data_version=data_version)
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
                       table_version=report.version)
    session.add(row)
    session.flush()
    return row
