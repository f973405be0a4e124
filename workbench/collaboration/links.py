"""Public links: random tokens, stored only as hashes, opened without signing in.

A token is 32 random bytes from :mod:`secrets` (256 bits), URL-safe base64. Only its SHA-256
is stored; a link is found by that hash and the hash compared in constant time. The token
exists in the object :meth:`Collab.create_link` returns and nowhere else: not in the
database, not in logs, not in the audit log.

:func:`open_link` answers with a read-only view of the one resource: its kind, ref, brand,
title and content (a report run's HTML, a definition's latest result, a prediction's
forecast, a generation's artifact path, a collection's items), and nothing else of the brand.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ..domain import NAMED_KINDS, ResourceKind
from ..errors import LinkExpiredError, NotFoundError
from ..records import records_to_frame
from ..storage import collaboration as crepo
from ..storage import resources
from ..storage.models import AnalysisResult, CollectionItem, Generation

__all__ = ["LinkToken", "LinkView", "new_token", "hash_token", "open_link"]

TOKEN_BYTES = 32
_UNKNOWN = "no such link: it may be mistyped or revoked"


@dataclass(frozen=True)
class LinkToken:
    """A new public link. ``token`` is shown here once and never stored."""
    id: int
    token: str
    expires_at: datetime | None

    def __repr__(self) -> str:  # keep the token out of logs and tracebacks
        return f"LinkToken(id={self.id}, token='…', expires_at={self.expires_at!r})"


@dataclass(frozen=True)
class LinkView:
    """What a public link shows: one resource, read-only."""
    kind: str
    ref: Any
    brand: str
    title: str
    content: Any


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(dt: datetime | None) -> datetime | None:
    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def open_link(db, token: str) -> LinkView:
    """The read-only view behind a public link token.

    Raises NotFoundError for an unknown or revoked token (and when its resource is gone),
    LinkExpiredError (a NotFoundError) for an expired one.
    """
    if not isinstance(token, str) or not token or len(token) > 200:
        raise NotFoundError(_UNKNOWN)
    digest = hash_token(token)
    with db.session() as s:
        link = crepo.link_by_hash(s, digest)
        if link is None or not hmac.compare_digest(link.token_hash, digest) or link.revoked_at is not None:
            raise NotFoundError(_UNKNOWN)
        if link.expires_at is not None and _aware(link.expires_at) <= datetime.now(timezone.utc):
            raise LinkExpiredError("this link has expired; ask for a new one")
        kind = link.resource_type
        row = resources.find(s, link.brand_id, kind, link.resource_id)
        if row is None:
            raise NotFoundError(_UNKNOWN)
        brand = s.scalar(sa.text("SELECT name FROM brands WHERE id = :i").bindparams(i=link.brand_id))
        return LinkView(kind=kind.value, ref=row.name if kind in NAMED_KINDS else row.id, brand=brand,
                        title=resources.title_of(kind, row), content=_content(s, kind, row))


def _content(s, kind: ResourceKind, row):
    if kind == ResourceKind.REPORT:
        path = Path(row.html_path) if row.html_path else None
        return path.read_text(encoding="utf-8") if path and path.exists() else None
    if kind in (ResourceKind.FUNNEL, ResourceKind.COHORT, ResourceKind.SEGMENT):
        latest = s.scalar(sa.select(AnalysisResult).where(
            AnalysisResult.brand_id == row.brand_id, AnalysisResult.kind == kind.value,
            AnalysisResult.definition_id == row.id).order_by(AnalysisResult.calculated_at.desc(),
                                                             AnalysisResult.id.desc()).limit(1))
        return records_to_frame(latest.result, ("cohort",) if kind == ResourceKind.COHORT else ()) if latest else None
    if kind == ResourceKind.PREDICTION:
        return records_to_frame(row.forecast, ("ds",))
    if kind == ResourceKind.GENERATION:
        return row.artifact_uri
    gens = s.scalars(sa.select(Generation).join(CollectionItem, CollectionItem.generation_id == Generation.id)
                     .where(CollectionItem.collection_id == row.id, Generation.brand_id == row.brand_id)
                     .order_by(Generation.id)).all()
    return pd.DataFrame([{"id": g.id, "type": g.type.value, "status": g.status.value, "artifact_uri": g.artifact_uri}
                         for g in gens], columns=["id", "type", "status", "artifact_uri"])
