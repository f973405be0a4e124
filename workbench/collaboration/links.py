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

from ..domain import NAMED_KINDS, ResourceKind
from ..errors import LinkExpiredError, NotFoundError
from ..records import records_to_frame
from ..storage import collaboration as crepo
from ..storage import generations as grepo
from ..storage import repositories as repo
from ..storage import resources
from ..storage.models import as_utc

__all__ = ["LinkToken", "LinkView", "new_token", "hash_token", "open_link", "check_link", "view_by_id"]

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



def _usable(link) -> None:
    """Raise unless the link may be followed now."""
    if link is None or link.revoked_at is not None:
        raise NotFoundError(_UNKNOWN)
    if link.expires_at is not None and as_utc(link.expires_at) <= datetime.now(timezone.utc):
        raise LinkExpiredError("this link has expired; ask for a new one")


def check_link(db, token: str) -> int:
    """The id of the live link behind ``token`` (NotFoundError / LinkExpiredError otherwise)."""
    if not isinstance(token, str) or not token or len(token) > 200:
        raise NotFoundError(_UNKNOWN)
    digest = hash_token(token)
    with db.session() as s:
        link = crepo.link_by_hash(s, digest)
        if link is not None and not hmac.compare_digest(link.token_hash, digest):
            link = None
        _usable(link)
        return link.id


def view_by_id(db, link_id: int) -> tuple[LinkView, int, int]:
    """(view, brand id, resource id) of a live link, checked again now (a link revoked or
    expired since it was opened stops working at once)."""
    with db.session() as s:
        link = crepo.link_by_id(s, link_id)
        _usable(link)
        kind = link.resource_type
        row = resources.find(s, link.brand_id, kind, link.resource_id)
        if row is None:
            raise NotFoundError(_UNKNOWN)
        view = LinkView(kind=kind.value, ref=row.name if kind in NAMED_KINDS else row.id,
                        brand=repo.brand_name(s, link.brand_id), title=resources.title_of(kind, row),
                        content=_content(s, kind, row))
        return view, link.brand_id, row.id


def open_link(db, token: str) -> LinkView:
    """The read-only view behind a public link token.

    Raises NotFoundError for an unknown or revoked token (and when its resource is gone),
    LinkExpiredError (a NotFoundError) for an expired one.
    """
    return view_by_id(db, check_link(db, token))[0]


def _content(s, kind: ResourceKind, row):
    if kind == ResourceKind.REPORT:
        path = Path(row.html_path) if row.html_path else None
        return path.read_text(encoding="utf-8") if path and path.exists() else None
    if kind in (ResourceKind.FUNNEL, ResourceKind.COHORT, ResourceKind.SEGMENT):
        latest = repo.ResultRepository(s, row.brand_id).latest(kind.value, row.id)
        return records_to_frame(latest.result, ("cohort",) if kind == ResourceKind.COHORT else ()) if latest else None
    if kind == ResourceKind.PREDICTION:
        return records_to_frame(row.forecast, ("ds",))
    if kind == ResourceKind.GENERATION:
        return row.artifact_uri
    gens = grepo.collection_items(s, row.brand_id, row.id)
    return pd.DataFrame([{"id": g.id, "type": g.type.value, "status": g.status.value, "artifact_uri": g.artifact_uri}
                         for g in gens], columns=["id", "type", "status", "artifact_uri"])
