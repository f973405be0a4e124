"""Personal access tokens and server-side sessions of the team portal.

- **Tokens** (``workbench token create``) are 32 random bytes from :mod:`secrets`, shown once,
  stored as SHA-256, expiring (90 days unless told), revocable. A member signs in with one.
- **Sessions** are rows, not signed cookies: the cookie holds an opaque random id (32 bytes),
  the database its SHA-256 only. A session ends after ``idle`` minutes without a request,
  after ``absolute`` hours in any case, at sign-out, when its token is revoked, or when the
  member is removed; signing in always makes a new id (the old one is ended).
- **CSRF**: every form carries ``HMAC(secret, session id)``; the check is constant time.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..collaboration.links import hash_token
from ..errors import InvalidInputError, NotFoundError, PermissionDeniedError
from ..storage import collaboration as crepo
from ..storage import portal as prepo
from ..storage import repositories as repo
from ..storage.models import as_utc, utcnow

__all__ = ["NewToken", "SessionInfo", "create_token", "revoke_token", "list_tokens", "sign_in", "resolve_session",
           "end_session", "csrf_token", "check_csrf", "digest"]


digest = hash_token  # tokens and session ids are stored as their SHA-256, as link tokens are



@dataclass(frozen=True)
class NewToken:
    id: int
    token: str
    expires_at: datetime

    def __repr__(self) -> str:  # never in logs or tracebacks
        return f"NewToken(id={self.id}, token='…', expires_at={self.expires_at!r})"


@dataclass(frozen=True)
class SessionInfo:
    brand: str
    brand_id: int
    user: str
    user_id: int
    role: str = "member"


def create_token(db, brand_id: int, user: str, *, days: float = 90, label: str = "") -> NewToken:
    """A personal access token for a current member (shown once)."""
    if not 0 < days <= 366:
        raise InvalidInputError(f"a token lives between a moment and 366 days, not {days}")
    token = "wbt_" + secrets.token_urlsafe(32)
    with db.session(write=True) as s:
        member = crepo.member(s, brand_id, user) if isinstance(user, str) else None
        if member is None or member.name == crepo.OWNER_NAME:
            raise NotFoundError(f"no member {user!r} in this brand")
        row = prepo.add_token(s, brand_id, member.id, digest(token), label[:128], utcnow() + timedelta(days=days))
        return NewToken(id=row.id, token=token, expires_at=row.expires_at)


def revoke_token(db, brand_id: int, token_id: int) -> bool:
    """Revoke a token and end every session signed in with it."""
    with db.session(write=True) as s:
        row = prepo.token(s, brand_id, token_id)
        if row is None:
            raise NotFoundError(f"no token {token_id} in this brand")
        if row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        prepo.end_token_sessions(s, row.id)
        return True


def list_tokens(db, brand_id: int) -> list[dict]:
    with db.session() as s:
        rows = prepo.tokens(s, brand_id)
        names = crepo.user_names(s, [r.user_id for r in rows])
        return [{"id": r.id, "user": names.get(r.user_id), "label": r.label, "created_at": r.created_at,
                 "expires_at": r.expires_at, "last_used_at": r.last_used_at, "revoked_at": r.revoked_at}
                for r in rows]


def sign_in(db, brand: str, user: str, token: str, *, absolute_hours: float) -> tuple[str, SessionInfo]:
    """A new session for a member who showed a live token of theirs; returns (session id, info).
    Every failure reads the same (PermissionDeniedError), so the form does not tell which part
    was wrong."""
    refused = PermissionDeniedError("sign-in refused: check the brand, your name and the token")
    if not all(isinstance(v, str) and 0 < len(v) <= 200 for v in (brand, user, token)):
        raise refused
    now = utcnow()
    with db.session(write=True) as s:
        row = prepo.token_by_hash(s, digest(token))
        if row is None or not hmac.compare_digest(row.token_hash, digest(token)) or row.revoked_at is not None \
                or as_utc(row.expires_at) <= now:
            raise refused
        brand_name = repo.brand_name(s, row.brand_id)
        member = crepo.member(s, row.brand_id, user)
        if brand_name != brand or member is None or member.id != row.user_id:
            raise refused
        sid = secrets.token_urlsafe(32)
        prepo.add_session(s, session_hash=digest(sid), user_id=member.id, brand_id=row.brand_id, token_id=row.id,
                          created_at=now, last_seen_at=now, expires_at=now + timedelta(hours=absolute_hours))
        row.last_used_at = now
        return sid, SessionInfo(brand=brand_name, brand_id=row.brand_id, user=member.name, user_id=member.id)


def resolve_session(db, sid: str | None, *, idle_minutes: float) -> SessionInfo | None:
    """The live session behind a cookie value, or None. Its idle clock is moved on at most
    every 1/20 of the idle timeout (capped at a minute), so most requests only read."""
    if not sid or len(sid) > 200:
        return None
    now = utcnow()
    key = digest(sid)
    with db.session() as s:
        row = prepo.session_by_hash(s, key)
        if row is None or row.ended_at is not None:
            return None
        seen, expires, user_id, brand_id = as_utc(row.last_seen_at), as_utc(row.expires_at), row.user_id, row.brand_id
        member = prepo.live_member(s, user_id)
    idle = timedelta(minutes=idle_minutes)
    if expires <= now or seen + idle <= now or member is None:
        end_session(db, sid)
        return None
    if now - seen >= min(idle / 20, timedelta(minutes=1)):
        with db.session(write=True) as s:
            prepo.touch_session(s, key, now)
    return SessionInfo(brand=member[1], brand_id=brand_id, user=member[0], user_id=user_id, role=member[2])


def end_session(db, sid: str | None) -> None:
    if not sid:
        return
    with db.session(write=True) as s:
        prepo.end_session(s, digest(sid))


def csrf_token(secret: str, sid: str) -> str:
    return hmac.new(secret.encode(), b"csrf:" + sid.encode(), hashlib.sha256).hexdigest()


def check_csrf(secret: str, sid: str | None, submitted: str | None) -> bool:
    return bool(sid and submitted) and hmac.compare_digest(csrf_token(secret, sid), submitted)
