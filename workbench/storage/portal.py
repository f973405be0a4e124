"""Queries of the portal's access tokens and sessions (looked up by hash only)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import AccessToken, Brand, PortalSession, User, utcnow


__all__ = ["add_token", "token_by_hash", "token", "tokens", "end_token_sessions", "add_session", "session_by_hash",
           "live_member", "touch_session", "end_session"]


def add_token(session: Session, brand_id: int, user_id: int, token_hash: str, label: str,
              expires_at: datetime) -> AccessToken:
    row = AccessToken(brand_id=brand_id, user_id=user_id, token_hash=token_hash, label=label, created_at=utcnow(),
                      expires_at=expires_at)
    session.add(row)
    session.flush()
    return row


def token_by_hash(session: Session, token_hash: str) -> AccessToken | None:
    return session.scalar(sa.select(AccessToken).where(AccessToken.token_hash == token_hash))


def token(session: Session, brand_id: int, token_id: int) -> AccessToken | None:
    return session.scalar(sa.select(AccessToken).where(AccessToken.brand_id == brand_id, AccessToken.id == token_id))


def tokens(session: Session, brand_id: int) -> list[AccessToken]:
    return list(session.scalars(sa.select(AccessToken).where(AccessToken.brand_id == brand_id)
                                .order_by(AccessToken.id)))


def end_token_sessions(session: Session, token_id: int) -> None:
    session.execute(sa.update(PortalSession).where(PortalSession.token_id == token_id,
                                                   PortalSession.ended_at.is_(None)).values(ended_at=utcnow()))


def add_session(session: Session, **fields) -> PortalSession:
    row = PortalSession(**fields)
    session.add(row)
    return row


def session_by_hash(session: Session, session_hash: str) -> PortalSession | None:
    return session.scalar(sa.select(PortalSession).where(PortalSession.session_hash == session_hash))


def touch_session(session: Session, session_hash: str, when: datetime) -> None:
    session.execute(sa.update(PortalSession).where(PortalSession.session_hash == session_hash,
                                                   PortalSession.ended_at.is_(None)).values(last_seen_at=when))


def live_member(session: Session, user_id: int) -> tuple[str, str, str] | None:
    """(member name, brand name, role) of a user who is still a member, else None."""
    row = session.execute(sa.select(User.name, Brand.name, User.role).join(Brand, Brand.id == User.brand_id)
                          .where(User.id == user_id, User.removed_at.is_(None))).first()
    return (row[0], row[1], row[2]) if row else None


def end_session(session: Session, session_hash: str) -> None:
    session.execute(sa.update(PortalSession).where(PortalSession.session_hash == session_hash,
                                                   PortalSession.ended_at.is_(None)).values(ended_at=utcnow()))
