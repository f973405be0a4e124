"""The AI Studio of one brand (``acme.studio``): request, cancel, regenerate, version history,
collections, budgets and generation analytics."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from ..errors import AlreadyExistsError, InvalidInputError, NotFoundError
from ..storage import repositories as repo
from ..storage.models import Collection, CollectionItem, Generation, GenerationStatus, GenerationType, utcnow
from . import budgets
from .params import validate_params
from .providers import get_provider
from .runner import BatchResult, RetryPolicy, run_batch

if TYPE_CHECKING:
    from ..workspace import BrandScope

__all__ = ["Studio"]

_COLUMNS = ["id", "type", "status", "prompt", "provider", "model", "version", "parent_id", "attempts", "cost",
            "duration_seconds", "error", "artifact_uri", "created_at"]


def _frame(rows) -> pd.DataFrame:
    out = pd.DataFrame([{c: getattr(r, c) for c in _COLUMNS} for r in rows], columns=_COLUMNS)
    for col in ("type", "status"):
        out[col] = out[col].map(lambda v: v.value if hasattr(v, "value") else v)
    return out


def _gen_type(value) -> GenerationType:
    try:
        return GenerationType(value)
    except ValueError:
        raise InvalidInputError(f"unknown generation type {value!r}; use one of "
                                f"{', '.join(t.value for t in GenerationType)}") from None


class Studio:
    def __init__(self, scope: "BrandScope"):
        self.scope = scope
        self.db = scope.workspace.db

    # -- budgets ----------------------------------------------------------------
    def set_budget(self, monthly_cost_limit: float | None = None, monthly_generation_quota: int | None = None) -> None:
        """The brand's monthly limits (None: unlimited)."""
        with self.db.session(write=True) as s:
            budgets.set_budget(s, self.scope.id, monthly_cost_limit=monthly_cost_limit,
                               monthly_generation_quota=monthly_generation_quota)

    def usage(self, month: str | None = None) -> dict:
        with self.db.session() as s:
            return budgets.usage(s, self.scope.id, month or budgets.month_of())

    # -- generations ------------------------------------------------------------
    def request(self, type, prompt: str, parameters: dict | None = None, *, author: str | None = None,
                provider: str = "local", model: str | None = None, parent_id: int | None = None) -> int:
        """Accept a generation (PENDING) after reserving its estimated cost; returns its id.

        Raises BudgetExceededError / QuotaExceededError when the brand's month is used up,
        InvalidInputError for a bad type, prompt or parameters.
        """
        gen_type = _gen_type(type)
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidInputError("a generation needs a non-empty prompt")
        if len(prompt) > 4000:
            raise InvalidInputError(f"prompt is {len(prompt)} characters; the limit is 4000")
        params = validate_params(gen_type, parameters)
        impl = get_provider(provider, **self.scope.workspace.provider_config.get(provider, {}))
        cost = impl.estimate_cost(gen_type, params)
        with self.db.session(write=True) as s:
            author_id = repo.get_or_create_user(s, self.scope.id, author).id if author else None
            root_id, version = None, 1
            if parent_id is not None:
                parent = self._get(s, parent_id)
                root_id = parent.root_id or parent.id
                # lock the family's root row so that concurrent new versions are numbered one
                # after the other (PostgreSQL; SQLite write sessions are serialised already)
                s.execute(sa.select(Generation.id).where(Generation.id == root_id).with_for_update())
                version = 1 + s.scalar(sa.select(sa.func.max(Generation.version)).where(
                    sa.or_(Generation.root_id == root_id, Generation.id == root_id)))
            budgets.reserve(s, self.scope.id, cost, budgets.month_of())
            gen = Generation(brand_id=self.scope.id, author_id=author_id, type=gen_type, prompt=prompt,
                             parameters=params, provider=provider, model=model or impl.default_model(gen_type),
                             status=GenerationStatus.PENDING, reserved_cost=cost, parent_id=parent_id,
                             root_id=root_id, version=version, created_at=utcnow())
            s.add(gen)
            s.flush()
            return gen.id

    def _get(self, session, generation_id: int) -> Generation:
        gen = session.scalar(sa.select(Generation).where(Generation.brand_id == self.scope.id,
                                                         Generation.id == generation_id))
        if gen is None:
            raise NotFoundError(f"no generation {generation_id} for brand {self.scope.name!r}")
        return gen

    def get(self, generation_id: int) -> dict:
        with self.db.session() as s:
            g = self._get(s, generation_id)
            return {c: getattr(g, c) for c in _COLUMNS} | {"parameters": g.parameters, "root_id": g.root_id}

    def cancel(self, generation_id: int) -> bool:
        """Cancel a pending or running generation (its reservation is released). False if it had ended."""
        with self.db.session(write=True) as s:
            gen = self._get(s, generation_id)
            if gen.status not in (GenerationStatus.PENDING, GenerationStatus.RUNNING):
                return False
            gen.status, gen.finished_at, gen.lease_until = GenerationStatus.CANCELLED, utcnow(), None
            budgets.release(s, self.scope.id, budgets.month_of(gen.created_at), gen.reserved_cost)
            return True

    def regenerate(self, generation_id: int, *, prompt: str | None = None, parameters: dict | None = None,
                   author: str | None = None) -> int:
        """A new version of a generation (same prompt and parameters unless edited), linked to it."""
        parent = self.get(generation_id)
        params = {**parent["parameters"], **(parameters or {})}
        return self.request(parent["type"], prompt if prompt is not None else parent["prompt"], params,
                            author=author, provider=parent["provider"], model=parent["model"],
                            parent_id=generation_id)

    edit = regenerate

    def history(self, generation_id: int) -> pd.DataFrame:
        """Every version of the generation's family, oldest first."""
        with self.db.session() as s:
            g = self._get(s, generation_id)
            root = g.root_id or g.id
            rows = s.scalars(sa.select(Generation).where(
                Generation.brand_id == self.scope.id,
                sa.or_(Generation.id == root, Generation.root_id == root)).order_by(Generation.version)).all()
            return _frame(rows)

    def compare(self, a: int, b: int) -> pd.DataFrame:
        """Side by side: the fields where two generations differ."""
        ga, gb = self.get(a), self.get(b)
        rows = []
        for key in ["prompt", "parameters", "status", "model", "version", "cost", "duration_seconds", "attempts",
                    "artifact_uri"]:
            if ga[key] != gb[key]:
                rows.append({"field": key, str(a): ga[key], str(b): gb[key]})
        return pd.DataFrame(rows, columns=["field", str(a), str(b)])

    def list(self, status: str | None = None, type: str | None = None) -> pd.DataFrame:
        with self.db.session() as s:
            q = sa.select(Generation).where(Generation.brand_id == self.scope.id)
            if status:
                q = q.where(Generation.status == GenerationStatus(status))
            if type:
                q = q.where(Generation.type == _gen_type(type))
            return _frame(s.scalars(q.order_by(Generation.id)).all())

    def run(self, *, concurrency: int = 4, policy: RetryPolicy = RetryPolicy(), progress=None) -> BatchResult:
        """Run this brand's pending generations now, in this process (the batch flow does the
        same for every brand on a schedule). Other brands' generations are never claimed."""
        ws = self.scope.workspace
        return run_batch(ws.db, ws.artifacts_path, concurrency=concurrency, policy=policy,
                         provider_config=ws.provider_config, progress=progress, brand_id=self.scope.id)

    # -- collections ------------------------------------------------------------
    def _collection(self, session, name: str) -> Collection:
        c = session.scalar(sa.select(Collection).where(Collection.brand_id == self.scope.id, Collection.name == name))
        if c is None:
            raise NotFoundError(f"no collection named {name!r} for brand {self.scope.name!r}")
        return c

    def create_collection(self, name: str, *, author: str | None = None) -> int:
        if not name or not name.strip():
            raise InvalidInputError("a collection needs a name")
        message = f"a collection named {name!r} already exists"
        with self.db.session(write=True) as s:
            if s.scalar(sa.select(Collection.id).where(Collection.brand_id == self.scope.id, Collection.name == name)):
                raise AlreadyExistsError(message)
            author_id = repo.get_or_create_user(s, self.scope.id, author).id if author else None
            return repo.add_unique(s, Collection(brand_id=self.scope.id, name=name, created_by=author_id), message).id

    def add_to_collection(self, name: str, generation_id: int) -> None:
        with self.db.session(write=True) as s:
            c = self._collection(s, name)
            self._get(s, generation_id)  # same brand only
            repo.insert_or_get(s, CollectionItem, {"collection_id": c.id, "generation_id": generation_id},
                               {"added_at": utcnow()})

    def remove_from_collection(self, name: str, generation_id: int) -> None:
        with self.db.session(write=True) as s:
            c = self._collection(s, name)
            item = s.get(CollectionItem, (c.id, generation_id))
            if item is not None:
                s.delete(item)

    def collections(self) -> pd.DataFrame:
        """Collections with their number of generations."""
        with self.db.session() as s:
            rows = s.execute(sa.select(Collection.id, Collection.name, sa.func.count(CollectionItem.generation_id))
                             .outerjoin(CollectionItem, CollectionItem.collection_id == Collection.id)
                             .where(Collection.brand_id == self.scope.id)
                             .group_by(Collection.id, Collection.name).order_by(Collection.name)).all()
        return pd.DataFrame(rows, columns=["id", "name", "count"])

    def collection_items(self, name: str) -> pd.DataFrame:
        with self.db.session() as s:
            c = self._collection(s, name)
            ids = [i.generation_id for i in c.items]
        out = self.list()
        return out[out["id"].isin(ids)].reset_index(drop=True)

    # -- analytics --------------------------------------------------------------
    def analytics(self, by: str = "day") -> pd.DataFrame:
        """Per day (or ``by="type"``/``"status"``): counts by status, success rate, cost, p50/p95 duration.

        ``success_rate`` = succeeded / finished (succeeded + failed); cancelled and unfinished
        generations do not count against it.
        """
        df = self.list()
        if by not in ("day", "type", "status"):
            raise InvalidInputError(f"by must be 'day', 'type' or 'status', got {by!r}")
        if df.empty:
            return pd.DataFrame(columns=[by, "generations", "succeeded", "failed", "cancelled", "success_rate",
                                         "cost", "p50_duration", "p95_duration"])
        df["day"] = pd.to_datetime(df["created_at"], utc=True).dt.tz_localize(None).dt.normalize()
        grouped = df.groupby(by)
        out = pd.DataFrame({
            "generations": grouped.size(),
            "succeeded": grouped["status"].apply(lambda s: int((s == "SUCCEEDED").sum())),
            "failed": grouped["status"].apply(lambda s: int((s == "FAILED").sum())),
            "cancelled": grouped["status"].apply(lambda s: int((s == "CANCELLED").sum())),
            "cost": grouped["cost"].sum(min_count=1).fillna(0.0),
            "p50_duration": grouped["duration_seconds"].quantile(0.5),
            "p95_duration": grouped["duration_seconds"].quantile(0.95),
        })
        finished = out["succeeded"] + out["failed"]
        out.insert(4, "success_rate", (out["succeeded"] / finished).where(finished > 0))
        return out.reset_index()
