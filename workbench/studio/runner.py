"""Running generations: claim with a lease, call the provider with retries, finish exactly once.

- **Claim**: pending generations (and running ones whose lease expired: their worker
  died) are marked RUNNING for one worker in one transaction (``FOR UPDATE SKIP LOCKED``
  on PostgreSQL, SQLite's write lock otherwise), so two batches never take the same one.
- **Retry**: transient provider errors (rate limits, 5xx, timeouts) are retried with
  backoff up to 3 attempts in all, counted across workers; permanent ones are not.
- **Heartbeat**: while a provider call is in flight the worker renews its lease every third
  of the lease, so a slow call is never taken over by a live peer; a worker that is paused
  or dead stops renewing, and its claim expires.
- **Finish**: the final update only applies while the row is still RUNNING and claimed by
  this worker, together with the budget settlement; a generation cancelled or reclaimed
  meanwhile is left alone. So each generation finishes exactly once.
- **Artifacts**: a provider writes into a staging folder private to one attempt
  (``<artifacts>/<brand>/.staging/``); the file is moved to its final name inside the
  finishing transaction, after the fenced update applied. A worker that lost its claim
  deletes its staged file, so it changes neither the row nor the recorded artifact.
- **Scope**: a batch takes every brand's work (the scheduled flow) or one brand's
  (``acme.studio.run()``), never another brand's.
"""
from __future__ import annotations

import logging
import math
import os
import queue
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import sqlalchemy as sa

from ..errors import InvalidInputError, PermanentProviderError, TransientProviderError, WorkbenchError
from ..storage import Database
from ..storage.models import Generation, GenerationStatus, as_utc
from . import budgets
from .providers import GenerationRequest, get_provider

__all__ = ["RetryPolicy", "BatchResult", "claim", "run_one", "run_batch", "MAX_ATTEMPTS"]

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


MIN_LEASE = 1.0  # seconds; the heartbeat renews a claim every third of its lease


@dataclass(frozen=True)
class RetryPolicy:
    """How a generation is retried and how long a claim lasts.

    Parameters
    ----------
    max_attempts : int
        Provider calls in all (>= 1), counted across workers.
    backoff : tuple of float
        Seconds to wait before the 2nd, 3rd, ... attempt (the last value repeats); each
        >= 0 and shorter than the lease, so that waiting never lets the claim lapse.
    timeout : float
        Seconds one provider call may take (> 0); a call past it is a transient failure.
    lease : float
        Seconds a claim lasts without a heartbeat (>= 1). The worker renews it while a call
        is in flight, so it only bounds how long a dead or paused worker blocks a generation.
    """
    max_attempts: int = MAX_ATTEMPTS
    backoff: tuple[float, ...] = (1.0, 4.0)
    timeout: float = 120.0
    lease: float = 600.0

    def __post_init__(self):
        problems = []
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            problems.append(f"max_attempts must be a whole number >= 1, got {self.max_attempts!r}")
        if not _finite(self.timeout) or self.timeout <= 0:
            problems.append(f"timeout must be a number of seconds > 0, got {self.timeout!r}")
        if not _finite(self.lease) or self.lease < MIN_LEASE:
            problems.append(f"lease must be a number of seconds >= {MIN_LEASE:g}, got {self.lease!r}")
        bad = [b for b in self.backoff if not _finite(b) or b < 0 or (_finite(self.lease) and b >= self.lease)]
        if bad:
            problems.append(f"backoff delays must be >= 0 and shorter than the lease, got {list(self.backoff)!r}")
        if problems:
            raise InvalidInputError("invalid retry policy: " + "; ".join(problems))


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class BatchResult:
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0  # cancelled or reclaimed while running
    ids: list[int] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def claim(db: Database, worker: str, limit: int, lease: float, *, brand_id: int | None = None) -> list[int]:
    """Take up to ``limit`` runnable generations for ``worker`` (oldest first), of one brand
    when ``brand_id`` is given, of every brand otherwise."""
    now = _now()
    with db.session(write=True) as s:
        q = (sa.select(Generation)
             .where(sa.or_(Generation.status == GenerationStatus.PENDING,
                           sa.and_(Generation.status == GenerationStatus.RUNNING, Generation.lease_until < now)))
             .order_by(Generation.id).limit(limit))
        if brand_id is not None:
            q = q.where(Generation.brand_id == brand_id)
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


class _LostClaim(Exception):
    """The generation was reclaimed or cancelled while this worker was calling the provider."""


def _call_with_timeout(fn: Callable, timeout: float, *args, heartbeat: Callable[[], bool] | None = None,
                       every: float = math.inf):
    """Run ``fn`` in a daemon thread; a call past ``timeout`` is a transient error (the thread is
    abandoned). While it runs, ``heartbeat()`` is called every ``every`` seconds; when it answers
    False the claim is lost and ``_LostClaim`` is raised."""
    box: queue.Queue = queue.Queue(maxsize=1)

    def target():
        try:
            box.put((True, fn(*args)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box.put((False, exc))

    threading.Thread(target=target, daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransientProviderError(f"provider call timed out after {timeout:g} s")
        try:
            ok, value = box.get(timeout=min(remaining, every))
            break
        except queue.Empty:
            if heartbeat is not None and time.monotonic() < deadline and not heartbeat():
                # let the call end (within its timeout) so that its staged file can be removed
                try:
                    box.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    pass
                raise _LostClaim() from None
    if ok:
        return value
    raise value


def _renew(db: Database, gen_id: int, worker: str, lease: float) -> bool:
    """Extend this worker's lease; False when the generation is no longer its own."""
    with db.session(write=True) as s:
        return s.execute(sa.update(Generation).where(_owned(gen_id, worker))
                         .values(lease_until=_now() + timedelta(seconds=lease))).rowcount == 1


def _finish(db: Database, gen_id: int, worker: str, status: GenerationStatus, *, error: str | None = None,
            artifact=None, final_dir: Path | None = None) -> bool:
    """Final state, applied only if this worker still owns the RUNNING generation. A staged
    artifact is moved to ``final_dir`` inside the same transaction, once the fenced update
    has applied (and so only by the one worker whose finish counts)."""
    now = _now()
    with db.session(write=True) as s:
        gen = s.scalar(sa.select(Generation).where(_owned(gen_id, worker)))
        if gen is None:
            return False
        values = {"status": status, "error": error, "finished_at": now, "lease_until": None,
                  "duration_seconds": (now - as_utc(gen.started_at)).total_seconds() if gen.started_at else None}
        final = None
        if artifact is not None:
            final = (final_dir or artifact.path.parent) / artifact.path.name
            values.update(artifact_uri=str(final), cost=artifact.cost, credits=artifact.credits)
        done = s.execute(sa.update(Generation).where(_owned(gen_id, worker)).values(**values)).rowcount
        if done != 1:
            return False
        month = budgets.month_of(as_utc(gen.created_at))
        if status == GenerationStatus.SUCCEEDED:
            budgets.settle(s, gen.brand_id, month, gen.reserved_cost, artifact.cost)
        else:
            budgets.release(s, gen.brand_id, month, gen.reserved_cost)
        if final is not None and final != artifact.path:  # last, while the row is ours and locked
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(artifact.path, final)
        return True



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
    staging = out_dir / ".staging" / f"{gen_id}-{worker}-{uuid.uuid4().hex[:8]}"
    try:
        return _attempts(db, gen_id, worker, provider, request, out_dir, staging, policy)
    finally:  # a staged file still here was not recorded: nothing else may see it
        shutil.rmtree(staging, ignore_errors=True)


def _attempts(db: Database, gen_id: int, worker: str, provider, request: GenerationRequest, out_dir: Path,
              staging: Path, policy: RetryPolicy) -> str:
    def fail(error: str) -> str:
        return "failed" if _finish(db, gen_id, worker, GenerationStatus.FAILED, error=error) else "skipped"

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
            artifact = _call_with_timeout(provider.generate, policy.timeout, request, staging / str(attempt),
                                          heartbeat=lambda: _renew(db, gen_id, worker, policy.lease),
                                          every=policy.lease / 3)
        except _LostClaim:
            log.warning("generation %s was taken over or cancelled during attempt %d; dropping its result",
                        gen_id, attempt)
            return "skipped"
        except TransientProviderError as exc:
            last_error = f"transient: {exc}"
            log.info("generation %s attempt %d: %s", gen_id, attempt, exc)
            if attempt < policy.max_attempts:
                time.sleep(policy.backoff[min(attempt - 1, len(policy.backoff) - 1)] if policy.backoff else 0)
            continue
        except PermanentProviderError as exc:
            return fail(f"permanent: {exc}")
        except Exception as exc:  # noqa: BLE001 - an unexpected provider bug is permanent, and recorded
            return fail(f"provider error: {type(exc).__name__}: {exc}")
        return "succeeded" if _finish(db, gen_id, worker, GenerationStatus.SUCCEEDED, artifact=artifact,
                                      final_dir=out_dir) else "skipped"
    return fail(f"gave up after {policy.max_attempts} attempts; last error: {last_error}")


def run_batch(db: Database, artifacts: Path, *, worker: str | None = None, concurrency: int = 4,
              limit: int | None = None, policy: RetryPolicy = RetryPolicy(), provider_config: dict | None = None,
              progress: Callable[[int], None] | None = None, brand_id: int | None = None) -> BatchResult:
    """Claim and run generations until none are runnable (or ``limit`` were taken): one
    brand's when ``brand_id`` is given, every brand's otherwise (the scheduled flow)."""
    worker = worker or f"worker-{uuid.uuid4().hex[:8]}"
    result = BatchResult()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        while limit is None or len(result.ids) < limit:
            take = concurrency * 2 if limit is None else min(concurrency * 2, limit - len(result.ids))
            ids = claim(db, worker, take, policy.lease, brand_id=brand_id)
            if not ids:
                break
            result.ids += ids
            for outcome in pool.map(lambda i: run_one(db, i, worker, artifacts, policy=policy,
                                                      provider_config=provider_config), ids):
                setattr(result, outcome, getattr(result, outcome) + 1)
                if progress:
                    progress(1)
    return result
