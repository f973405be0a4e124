"""Running generations: claim with a lease, call the provider with retries, finish exactly once.

- **Claim**: pending generations (and running ones whose lease expired: their worker
  died) are marked RUNNING for one worker in one transaction (``FOR UPDATE SKIP LOCKED``
  on PostgreSQL, SQLite's write lock otherwise), so two batches never take the same one.
- **Retry**: transient provider errors (rate limits, 5xx, timeouts) are retried with
  backoff up to 3 attempts in all, counted across workers; permanent ones are not.
- **Finish**: the final update only applies while the row is still RUNNING and claimed by
  this worker, together with the budget settlement; a generation cancelled or reclaimed
  meanwhile is left alone. So each generation finishes exactly once.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import sqlalchemy as sa

from ..errors import PermanentProviderError, TransientProviderError, WorkbenchError
from ..storage import Database
from ..storage.models import Generation, GenerationStatus
from . import budgets
from .providers import GenerationRequest, get_provider

__all__ = ["RetryPolicy", "BatchResult", "claim", "run_one", "run_batch", "MAX_ATTEMPTS"]

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = MAX_ATTEMPTS
    backoff: tuple[float, ...] = (1.0, 4.0)  # seconds before the 2nd and 3rd attempts
    timeout: float = 120.0  # seconds one provider call may take
    lease: float = 600.0  # seconds a claim lasts without progress before another worker may take over


@dataclass
class BatchResult:
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0  # cancelled or reclaimed while running
    ids: list[int] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def claim(db: Database, worker: str, limit: int, lease: float) -> list[int]:
    """Take up to ``limit`` runnable generations for ``worker`` (oldest first)."""
    now = _now()
    with db.session(write=True) as s:
        q = (sa.select(Generation)
             .where(sa.or_(Generation.status == GenerationStatus.PENDING,
                           sa.and_(Generation.status == GenerationStatus.RUNNING, Generation.lease_until < now)))
             .order_by(Generation.id).limit(limit))
        if not db.is_sqlite:
            q = q.with_for_update(skip_locked=True)
        rows = s.scalars(q).all()
        for r in rows:
            if r.status == GenerationStatus.RUNNING:
                log.warning("reclaiming generation %s from %s (lease expired)", r.id, r.claimed_by)
            r.status, r.claimed_by = GenerationStatus.RUNNING, worker
            r.lease_until = now + timedelta(seconds=lease)
            r.started_at = r.started_at or now
        return [r.id for r in rows]


def _owned(gen_id: int, worker: str):
    return sa.and_(Generation.id == gen_id, Generation.status == GenerationStatus.RUNNING,
                   Generation.claimed_by == worker)


def _call_with_timeout(fn: Callable, timeout: float, *args):
    """Run ``fn`` in a daemon thread; a call past ``timeout`` is a transient error (the thread is abandoned)."""
    box: queue.Queue = queue.Queue(maxsize=1)

    def target():
        try:
            box.put((True, fn(*args)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box.put((False, exc))

    threading.Thread(target=target, daemon=True).start()
    try:
        ok, value = box.get(timeout=timeout)
    except queue.Empty:
        raise TransientProviderError(f"provider call timed out after {timeout:g} s") from None
    if ok:
        return value
    raise value


def _finish(db: Database, gen_id: int, worker: str, status: GenerationStatus, *, error: str | None = None,
            artifact=None) -> bool:
    """Final state, applied only if this worker still owns the RUNNING generation."""
    now = _now()
    with db.session(write=True) as s:
        gen = s.scalar(sa.select(Generation).where(_owned(gen_id, worker)))
        if gen is None:
            return False
        values = {"status": status, "error": error, "finished_at": now, "lease_until": None,
                  "duration_seconds": (now - _aware(gen.started_at)).total_seconds() if gen.started_at else None}
        if artifact is not None:
            values.update(artifact_uri=str(artifact.path), cost=artifact.cost, credits=artifact.credits)
        done = s.execute(sa.update(Generation).where(_owned(gen_id, worker)).values(**values)).rowcount
        if done != 1:
            return False
        month = budgets.month_of(_aware(gen.created_at))
        if status == GenerationStatus.SUCCEEDED:
            budgets.settle(s, gen.brand_id, month, gen.reserved_cost, artifact.cost)
        else:
            budgets.release(s, gen.brand_id, month, gen.reserved_cost)
        return True


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def run_one(db: Database, gen_id: int, worker: str, artifacts: Path, *, policy: RetryPolicy = RetryPolicy(),
            provider_config: dict | None = None) -> str:
    """Run one claimed generation to its end. Returns "succeeded", "failed" or "skipped"."""
    with db.session() as s:
        gen = s.get(Generation, gen_id)
        request = GenerationRequest(generation_id=gen.id, type=gen.type, prompt=gen.prompt,
                                    parameters=dict(gen.parameters), model=gen.model)
        provider_name, brand_id = gen.provider, gen.brand_id
    try:
        provider = get_provider(provider_name, **(provider_config or {}).get(provider_name, {}))
    except WorkbenchError as exc:  # e.g. a provider not configured in this worker: the generation fails, visibly
        return "failed" if _finish(db, gen_id, worker, GenerationStatus.FAILED, error=f"permanent: {exc}") \
            else "skipped"
    out_dir = artifacts / str(brand_id)
    last_error = "no attempt made"
    while True:
        with db.session(write=True) as s:  # count the attempt and extend the lease, if still ours
            gen = s.scalar(sa.select(Generation).where(_owned(gen_id, worker)))
            if gen is None:
                return "skipped"
            if gen.attempts >= policy.max_attempts:
                break
            gen.attempts += 1
            gen.lease_until = _now() + timedelta(seconds=policy.lease)
            attempt = gen.attempts
        try:
            artifact = _call_with_timeout(provider.generate, policy.timeout, request, out_dir)
        except TransientProviderError as exc:
            last_error = f"transient: {exc}"
            log.info("generation %s attempt %d: %s", gen_id, attempt, exc)
            if attempt < policy.max_attempts:
                time.sleep(policy.backoff[min(attempt - 1, len(policy.backoff) - 1)] if policy.backoff else 0)
            continue
        except PermanentProviderError as exc:
            return "failed" if _finish(db, gen_id, worker, GenerationStatus.FAILED, error=f"permanent: {exc}") \
                else "skipped"
        except Exception as exc:  # noqa: BLE001 - an unexpected provider bug is permanent, and recorded
            return "failed" if _finish(db, gen_id, worker, GenerationStatus.FAILED,
                                       error=f"provider error: {type(exc).__name__}: {exc}") else "skipped"
        return "succeeded" if _finish(db, gen_id, worker, GenerationStatus.SUCCEEDED, artifact=artifact) \
            else "skipped"
    return "failed" if _finish(db, gen_id, worker, GenerationStatus.FAILED,
                               error=f"gave up after {policy.max_attempts} attempts; last error: {last_error}") \
        else "skipped"


def run_batch(db: Database, artifacts: Path, *, worker: str | None = None, concurrency: int = 4,
              limit: int | None = None, policy: RetryPolicy = RetryPolicy(), provider_config: dict | None = None,
              progress: Callable[[int], None] | None = None) -> BatchResult:
    """Claim and run generations until none are runnable (or ``limit`` were taken)."""
    worker = worker or f"worker-{uuid.uuid4().hex[:8]}"
    result = BatchResult()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        while limit is None or len(result.ids) < limit:
            take = concurrency * 2 if limit is None else min(concurrency * 2, limit - len(result.ids))
            ids = claim(db, worker, take, policy.lease)
            if not ids:
                break
            result.ids += ids
            for outcome in pool.map(lambda i: run_one(db, i, worker, artifacts, policy=policy,
                                                      provider_config=provider_config), ids):
                setattr(result, outcome, getattr(result, outcome) + 1)
                if progress:
                    progress(1)
    return result
