"""Saved funnels, cohorts and segments of a brand: create, list, update, delete,
recalculate, with every calculation stored with its time and the event table version it read.
Re-calculating with ``version=`` that version reads exactly the data the stored result was made
on, whatever was ingested since.

Specs are validated with pydantic at this boundary, so a bad definition is refused
with a message naming the field before anything is stored. Every method asks the one
authorisation rule first (view to read, edit to change or recalculate, delete to delete);
lists show only what the acting user may view; what a user creates is theirs.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, NamedTuple

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..analytics._inputs import parse_window
from ..analytics.funnels import MAX_STEPS, MIN_STEPS
from ..analytics.segments import SegmentSpec, segment_spec
from ..collaboration import access
from ..domain import Action, ResourceKind
from ..errors import InvalidInputError, invalid_input
from ..records import frame_to_records, records_to_frame
from ..storage import collaboration as crepo
from ..storage import repositories as repo
from ..storage import resources
from ..storage.models import CohortDefinition, FunnelDefinition, SegmentDefinition
from . import brand, vocabulary

__all__ = ["FunnelSpec", "CohortSpec", "SavedFunnels", "SavedCohorts", "SavedSegments", "StoredResult"]


class StoredResult(NamedTuple):
    """One stored calculation: when, the frame, and the event table version it read."""
    calculated_at: datetime
    frame: pd.DataFrame
    data_version: int | None


class FunnelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: list[str] = Field(min_length=MIN_STEPS, max_length=MAX_STEPS)
    window: timedelta
    breakdown: str | None = None
    segment: str | None = None

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v):
        return parse_window(v)


class CohortSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: Literal["day", "week", "month"] = "week"
    periods: int = Field(default=12, ge=0, le=520)
    start_event: str | None = None
    return_event: str | None = None
    mode: Literal["on", "on_or_after"] = "on"
    segment: str | None = None


def _validate(model: type[BaseModel], data: dict) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:  # our own errors raised in validators arrive wrapped in it too
        raise invalid_input(exc, f"{model.__name__.removesuffix('Spec').lower()} definition") from exc


class _Saved:
    model = None
    spec_model: type[BaseModel] = None
    kind = ""
    date_columns: tuple[str, ...] = ()

    def __init__(self, ctx):
        self.ctx = ctx
        self.db = ctx.db

    @property
    def resource(self) -> ResourceKind:
        return ResourceKind(self.kind)

    def _repo(self, session):
        return repo.DefinitionRepository(session, self.model, self.ctx.brand_id)

    def _authorized(self, session, action: Action, name):
        """The definition row, once the acting user may ``action`` it."""
        return access.authorize(session, self.ctx, action, self.resource, name)

    # conversions between a spec and the stored row
    def _to_row(self, spec, session) -> dict:
        raise NotImplementedError

    def _to_spec(self, row, session) -> BaseModel:
        raise NotImplementedError

    def _check_names(self, spec) -> None:
        """NotFoundError (with close matches) for events or fields the brand's events never had."""

    def _compute(self, spec, ctx) -> pd.DataFrame:
        raise NotImplementedError

    def _segment_id(self, session, name: str | None) -> int | None:
        if name is None:
            return None
        return access.authorize(session, self.ctx, Action.VIEW, ResourceKind.SEGMENT, name).id

    def _segment_name(self, session, segment_id: int | None) -> str | None:
        if segment_id is None:
            return None
        return repo.DefinitionRepository(session, SegmentDefinition, self.ctx.brand_id).get(segment_id).name

    def create(self, name: str, **spec) -> BaseModel:
        """Save a new definition named ``name`` (owned by the acting user); returns the validated spec."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError("a saved definition needs a non-empty name")
        checked = _validate(self.spec_model, spec)
        self._check_names(checked)
        self.ctx.ensure_brand()
        with self.db.session(write=True) as s:
            self._repo(s).create(name, created_by=self.ctx.actor.user_id, **self._to_row(checked, s))
        return checked

    def get(self, name: str) -> BaseModel:
        with self.db.session() as s:
            return self._to_spec(self._authorized(s, Action.VIEW, name), s)

    def list(self) -> pd.DataFrame:
        """Saved definitions the acting user may view, with their settings and last update time."""
        with self.db.session() as s:
            rows = [{"name": r.name, **self._to_spec(r, s).model_dump(mode="json"), "updated_at": r.updated_at}
                    for r in self._repo(s).list(resources.visible(self.resource, self.ctx.brand_id, self.ctx.actor))]
        return pd.DataFrame(rows)

    def update(self, name: str, **changes) -> BaseModel:
        """Change some settings of a saved definition (validated as a whole)."""
        with self.db.session(write=True) as s:
            row = self._authorized(s, Action.EDIT, name)
            merged = {**self._to_spec(row, s).model_dump(), **changes}
            checked = _validate(self.spec_model, merged)
            self._check_names(checked)
            self._repo(s).update(row.id, **self._to_row(checked, s))
        return checked

    def delete(self, name: str) -> None:
        """Delete the definition, its shares, links and comments (owner or brand admin)."""
        with self.db.session(write=True) as s:
            row = self._authorized(s, Action.DELETE, name)
            crepo.delete_resource_traces(s, self.ctx.brand_id, self.resource, row.id)
            crepo.record(s, self.ctx.brand_id, self.ctx.actor.user_id, self.ctx.actor.name, "delete",
                         self.resource, row.id, {"name": row.name})
            self._repo(s).delete(row.id)

    def calculate(self, name: str, *, version: int | None = None) -> pd.DataFrame:
        """Recalculate a saved definition and store the result with the time of calculation and
        the event table version it read (``version``: read that version instead of the latest)."""
        with self.db.session() as s:
            row = self._authorized(s, Action.EDIT, name)
            spec, definition_id = self._to_spec(row, s), row.id
        ctx = self.ctx.at(version) if version is not None else self.ctx.pinned()
        result = self._compute(spec, ctx)
        with self.db.session(write=True) as s:
            repo.ResultRepository(s, self.ctx.brand_id).add(self.kind, definition_id, spec.model_dump(mode="json"),
                                                            frame_to_records(result), data_version=ctx.version)
        return result

    def results(self, name: str) -> list[StoredResult]:
        """Every stored calculation of ``name``, newest first: ``(calculated_at, frame, data_version)``."""
        with self.db.session() as s:
            row = self._authorized(s, Action.VIEW, name)
            return [StoredResult(r.calculated_at, records_to_frame(r.result, self.date_columns), r.data_version)
                    for r in repo.ResultRepository(s, self.ctx.brand_id).history(self.kind, row.id)]

    def latest(self, name: str) -> pd.DataFrame | None:
        history = self.results(name)
        return history[0][1] if history else None

    def calculate_all(self) -> dict[str, pd.DataFrame]:
        """Recalculate every definition the acting user may edit."""
        with self.db.session() as s:
            names = [r.name for r in self._repo(s).list(resources.visible(self.resource, self.ctx.brand_id,
                                                                          self.ctx.actor))
                     if access.can(s, self.ctx, Action.EDIT, self.resource, r.id)]
        return {n: self.calculate(n) for n in names}


class SavedFunnels(_Saved):
    model, spec_model, kind = FunnelDefinition, FunnelSpec, "funnel"

    def _to_row(self, spec: FunnelSpec, session) -> dict:
        return {"steps": spec.steps, "window_seconds": int(spec.window.total_seconds()),
                "breakdown": spec.breakdown, "segment_id": self._segment_id(session, spec.segment)}

    def _to_spec(self, row, session) -> FunnelSpec:
        return FunnelSpec(steps=row.steps, window=timedelta(seconds=row.window_seconds), breakdown=row.breakdown,
                          segment=self._segment_name(session, row.segment_id))

    def _check_names(self, spec: FunnelSpec) -> None:
        vocabulary.check_events(self.ctx, spec.steps)
        vocabulary.check_breakdown(self.ctx, spec.breakdown)

    def _compute(self, spec: FunnelSpec, ctx) -> pd.DataFrame:
        return brand.funnel(ctx, spec.steps, spec.window, breakdown=spec.breakdown, segment=spec.segment)


class SavedCohorts(_Saved):
    model, spec_model, kind = CohortDefinition, CohortSpec, "cohort"
    date_columns = ("cohort",)

    def _to_row(self, spec: CohortSpec, session) -> dict:
        fields = spec.model_dump(exclude={"segment"})
        return {**fields, "segment_id": self._segment_id(session, spec.segment)}

    def _to_spec(self, row, session) -> CohortSpec:
        return CohortSpec(period=row.period, periods=row.periods, start_event=row.start_event,
                          return_event=row.return_event, mode=row.mode,
                          segment=self._segment_name(session, row.segment_id))

    def _check_names(self, spec: CohortSpec) -> None:
        vocabulary.check_events(self.ctx, [spec.start_event, spec.return_event])

    def _compute(self, spec: CohortSpec, ctx) -> pd.DataFrame:
        return brand.retention(ctx, **spec.model_dump())


class SavedSegments(_Saved):
    """Saved segments; ``calculate`` stores the size, ``members`` lists the users."""
    model, spec_model, kind = SegmentDefinition, SegmentSpec, "segment"

    def _to_row(self, spec: SegmentSpec, session) -> dict:
        return {"conditions": [c.model_dump(mode="json") for c in spec.conditions], "match": spec.match}

    def _to_spec(self, row, session) -> SegmentSpec:
        return segment_spec({"conditions": row.conditions, "match": row.match})

    def _check_names(self, spec: SegmentSpec) -> None:
        vocabulary.check_segment_fields(self.ctx, spec)

    def _compute(self, spec: SegmentSpec, ctx) -> pd.DataFrame:
        members = brand.segment_users(ctx, spec)
        return pd.DataFrame({"size": [len(members)]})

    def members(self, name: str) -> pd.DataFrame:
        return brand.segment_users(self.ctx, self.get(name))

    def size(self, name: str) -> int:
        return len(self.members(name))
