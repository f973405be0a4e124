"""The AI Studio of one brand (``acme.studio``): request, cancel, regenerate, version history,
collections, budgets and generation analytics.

Every method asks the one authorisation rule first: view to read a generation or a
collection, edit to cancel, regenerate or edit a generation or to change a collection,
delete to delete; lists show what the acting user may view. What a user requests or
creates is theirs (``author`` defaults to them). Budgets and running the queue are brand
operations: brand admins only.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..collaboration import access
from ..domain import Action, GenerationStatus, GenerationType, ResourceKind, parse
from ..errors import AlreadyExistsError, InvalidInputError, PermissionDeniedError
from ..storage import collaboration as crepo
from ..storage import generations as grepo
from ..storage import repositories as repo
from ..storage import resources
from ..storage.models import Collection, utcnow
from . import budgets
from .params import validate_params
from .providers import get_provider
from .runner import BatchResult, RetryPolicy, run_batch

__all__ = ["Studio"]

_COLUMNS = ["id", "type", "status", "prompt", "provider", "model", "version", "parent_id", "attempts", "cost",
            "duration_seconds", "error", "artifact_uri", "created_at"]
GEN, COLL = ResourceKind.GENERATION, ResourceKind.COLLECTION


def _frame(rows) -> pd.DataFrame:
    out = pd.DataFrame([{c: getattr(r, c) for c in _COLUMNS} for r in rows], columns=_COLUMNS)
    for col in ("type", "status"):
        out[col] = out[col].map(lambda v: v.value if hasattr(v, "value") else v)
    return out


def _gen_type(value) -> GenerationType:
    return parse(GenerationType, value, "generation type")


def _status(value) -> GenerationStatus:
    return parse(GenerationStatus, value, "generation status")


class Studio:
    def __init__(self, ctx):
        self.ctx = ctx
        self.db = ctx.db

    def _admin_only(self, what: str) -> None:
        if not self.ctx.actor.is_admin:
            raise PermissionDeniedError(f"{self.ctx.actor.name!r} may not {what}: brand admins only")

    def _author_id(self, session, author: str | None) -> int | None:
        """Who a new generation or collection belongs to: the acting user; the local owner may
        name an author (created as a member on first use)."""
        actor = self.ctx.actor
        if not actor.is_local_owner:
            if author not in (None, actor.name):
                raise PermissionDeniedError(f"{actor.name!r} may not act as author {author!r}")
            return actor.user_id
        return repo.get_or_create_user(session, self.ctx.brand_id, author).id if author else None

    # -- budgets ----------------------------------------------------------------
    def set_budget(self, monthly_cost_limit: float | None = None, monthly_generation_quota: int | None = None) -> None:
        """The brand's monthly limits (None: unlimited)."""
        self._admin_only("set the budget")
        self.ctx.ensure_brand()
        with self.db.session(write=True) as s:
            budgets.set_budget(s, self.ctx.brand_id, monthly_cost_limit=monthly_cost_limit,
                               monthly_generation_quota=monthly_generation_quota)

    def usage(self, month: str | None = None) -> dict:
        with self.db.session() as s:
            return budgets.usage(s, self.ctx.brand_id, month or budgets.month_of())

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
        impl = get_provider(provider, **self.ctx.provider_config.get(provider, {}))
        cost = impl.estimate_cost(gen_type, params)
        self.ctx.ensure_brand()
        with self.db.session(write=True) as s:
            author_id = self._author_id(s, author)
            root_id, version = None, 1
            if parent_id is not None:
                parent = access.authorize(s, self.ctx, Action.EDIT, GEN, parent_id)
                root_id = parent.root_id or parent.id
                version = grepo.next_version(s, root_id)
            budgets.reserve(s, self.ctx.brand_id, cost, budgets.month_of())
            return grepo.add(s, brand_id=self.ctx.brand_id, author_id=author_id, type=gen_type, prompt=prompt,
                             parameters=params, provider=provider, model=model or impl.default_model(gen_type),
                             reserved_cost=cost, parent_id=parent_id, root_id=root_id, version=version).id

    def get(self, generation_id: int) -> dict:
        with self.db.session() as s:
            g = access.authorize(s, self.ctx, Action.VIEW, GEN, generation_id)
            return {c: getattr(g, c) for c in _COLUMNS} | {"parameters": g.parameters, "root_id": g.root_id}

    def cancel(self, generation_id: int) -> bool:
        """Cancel a pending or running generation (its reservation is released). False if it had ended."""
        with self.db.session(write=True) as s:
            gen = access.authorize(s, self.ctx, Action.EDIT, GEN, generation_id)
            return self._cancel(s, gen)

    def _cancel(self, s, gen) -> bool:
        if gen.status not in (GenerationStatus.PENDING, GenerationStatus.RUNNING):
            return False
        gen.status, gen.finished_at, gen.lease_until = GenerationStatus.CANCELLED, utcnow(), None
        budgets.release(s, self.ctx.brand_id, budgets.month_of(gen.created_at), gen.reserved_cost)
        return True

    def delete(self, generation_id: int) -> None:
        """Delete a generation and its artifact (owner or brand admin); an unfinished one is cancelled first."""
        with self.db.session(write=True) as s:
            gen = access.authorize(s, self.ctx, Action.DELETE, GEN, generation_id)
            self._cancel(s, gen)
            artifact = gen.artifact_uri
            crepo.delete_resource_traces(s, self.ctx.brand_id, GEN, gen.id)
            crepo.record(s, self.ctx.brand_id, self.ctx.actor.user_id, self.ctx.actor.name, "delete", GEN, gen.id,
                         {"prompt": gen.prompt[:80]})
            s.delete(gen)
        if artifact:
            Path(artifact).unlink(missing_ok=True)

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
        """Every version of the generation's family that the acting user may view, oldest first."""
        with self.db.session() as s:
            g = access.authorize(s, self.ctx, Action.VIEW, GEN, generation_id)
            return _frame(grepo.family(s, self.ctx.brand_id, self.ctx.actor, g.root_id or g.id))

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
        """The generations the acting user may view, oldest first."""
        with self.db.session() as s:
            return _frame(grepo.listed(s, self.ctx.brand_id, self.ctx.actor, status=_status(status) if status else None,
                                       type=_gen_type(type) if type else None))

    def run(self, *, concurrency: int = 4, policy: RetryPolicy = RetryPolicy(), progress=None) -> BatchResult:
        """Run this brand's pending generations now, in this process (the batch flow does the
        same for every brand on a schedule). Other brands' generations are never claimed."""
        self._admin_only("run the generation queue")
        return run_batch(self.db, self.ctx.artifacts_path, concurrency=concurrency, policy=policy,
                         provider_config=self.ctx.provider_config, progress=progress, brand_id=self.ctx.brand_id)

    # -- collections ------------------------------------------------------------
    def create_collection(self, name: str, *, author: str | None = None) -> int:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError("a collection needs a name")
        message = f"a collection named {name!r} already exists"
        self.ctx.ensure_brand()
        with self.db.session(write=True) as s:
            if resources.find(s, self.ctx.brand_id, COLL, name) is not None:
                raise AlreadyExistsError(message)
            owner = self._author_id(s, author)
            return repo.add_unique(s, Collection(brand_id=self.ctx.brand_id, name=name, created_by=owner,
                                                 created_at=utcnow()), message).id

    def add_to_collection(self, name: str, generation_id: int) -> None:
        with self.db.session(write=True) as s:
            c = access.authorize(s, self.ctx, Action.EDIT, COLL, name)
            access.authorize(s, self.ctx, Action.VIEW, GEN, generation_id)  # same brand, and visible
            grepo.add_item(s, c.id, generation_id)

    def remove_from_collection(self, name: str, generation_id: int) -> None:
        with self.db.session(write=True) as s:
            c = access.authorize(s, self.ctx, Action.EDIT, COLL, name)
            grepo.remove_item(s, c.id, generation_id)

    def delete_collection(self, name: str) -> None:
        """Delete a collection (not its generations): owner or brand admin."""
        with self.db.session(write=True) as s:
            c = access.authorize(s, self.ctx, Action.DELETE, COLL, name)
            crepo.delete_resource_traces(s, self.ctx.brand_id, COLL, c.id)
            crepo.record(s, self.ctx.brand_id, self.ctx.actor.user_id, self.ctx.actor.name, "delete", COLL, c.id,
                         {"name": c.name})
            s.delete(c)

    def collections(self) -> pd.DataFrame:
        """Collections the acting user may view, with their number of generations."""
        with self.db.session() as s:
            rows = grepo.collections(s, self.ctx.brand_id, self.ctx.actor)
        return pd.DataFrame(rows, columns=["id", "name", "count"])

    def collection_items(self, name: str) -> pd.DataFrame:
        """The generations in a collection (viewing a collection shows what it holds)."""
        with self.db.session() as s:
            c = access.authorize(s, self.ctx, Action.VIEW, COLL, name)
            return _frame(grepo.collection_items(s, self.ctx.brand_id, c.id))

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
