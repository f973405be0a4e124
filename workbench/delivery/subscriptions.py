"""Report subscriptions of a brand (``acme.subscriptions``): a report, its parameters, a cron
schedule in a time zone, and channels; run as the owner; paused and resumed; with a history."""
from __future__ import annotations

import secrets
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator

from ..collaboration.members import NAME_PATTERN
from ..errors import InvalidInputError, NotFoundError, PermissionDeniedError, invalid_input
from ..storage import collaboration as crepo
from ..storage import delivery as drepo
from ..storage.models import Subscription, utcnow
from ..storage.repositories import add_unique
from .schedule import check_schedule, next_slot

__all__ = ["Subscriptions", "EmailChannel", "WebhookChannel", "checked_channels"]


class EmailChannel(BaseModel):
    """Email to members of the brand (by name; each must have an email address)."""
    model_config = ConfigDict(extra="forbid")
    type: Literal["email"] = "email"
    to: list[str] = Field(min_length=1, max_length=100)

    @field_validator("to")
    @classmethod
    def _members(cls, v):
        bad = [m for m in v if not NAME_PATTERN.match(m)]
        if bad:
            raise ValueError(f"not member names: {bad}")
        return v


class WebhookChannel(BaseModel):
    """A JSON POST signed with HMAC-SHA256 (``secret``: generated when not given)."""
    model_config = ConfigDict(extra="forbid")
    type: Literal["webhook"] = "webhook"
    url: HttpUrl
    secret: str = Field(default_factory=lambda: secrets.token_urlsafe(32), min_length=16)


def checked_channels(channels) -> list[dict]:
    """Channels validated (``{"type": "email", "to": [...]}`` / ``{"type": "webhook", "url": ...}``)."""
    if not isinstance(channels, list) or not channels:
        raise InvalidInputError("give at least one channel: {'type': 'email', 'to': ['bob']} or "
                                "{'type': 'webhook', 'url': 'https://...'}")
    out = []
    for i, ch in enumerate(channels):
        kind = ch.get("type") if isinstance(ch, dict) else None
        model = {"email": EmailChannel, "webhook": WebhookChannel}.get(kind)
        if model is None:
            raise InvalidInputError(f"channel {i}: type must be 'email' or 'webhook', got {kind!r}")
        try:
            out.append(model(**ch).model_dump(mode="json"))
        except ValidationError as exc:
            raise invalid_input(exc, f"channel {i}") from exc
    return out


class Subscriptions:
    """Create, list, pause, resume and delete subscriptions; their runs. The owner or a brand
    admin changes a subscription; every member may list them."""

    def __init__(self, ctx):
        self.ctx = ctx

    def create(self, name: str, report: str, parameters: dict | None = None, *, cron: str, timezone: str = "UTC",
               channels: list, lookback_days: int | None = 7, owner: str | None = None) -> dict:
        """A new subscription; returns it, with webhook secrets (shown here and in ``secrets``)."""
        from ..reports import available_reports
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError("a subscription needs a name")
        names = available_reports(self.ctx.settings.resolved_notebooks_path)
        if report not in names:
            raise InvalidInputError(f"unknown report {report!r}; available: {', '.join(sorted(names))}")
        check_schedule(cron, timezone)
        if lookback_days is not None and not 1 <= lookback_days <= 3660:
            raise InvalidInputError(f"lookback_days must be between 1 and 3660, got {lookback_days}")
        chans = checked_channels(channels)
        self.ctx.ensure_brand()
        with self.ctx.db.session(write=True) as s:
            owner_id = self._owner(s, owner)
            row = add_unique(s, Subscription(brand_id=self.ctx.brand_id, name=name, report=report,
                                             parameters=dict(parameters or {}), cron=cron, timezone=timezone,
                                             lookback_days=lookback_days, channels=chans, owner_id=owner_id,
                                             failures_in_row=0, created_at=utcnow()),
                             f"a subscription named {name!r} already exists")
            return {"id": row.id, "name": name, "next_run": next_slot(cron, timezone, utcnow()),
                    "secrets": [c.get("secret") for c in chans]}

    def _owner(self, s, owner: str | None) -> int:
        actor = self.ctx.actor
        if owner is None:
            return actor.user_id if actor.user_id is not None else crepo.owner_user(s, self.ctx.brand_id).id
        if not actor.is_admin and owner != actor.name:
            raise PermissionDeniedError("only brand admins make subscriptions for someone else")
        user = crepo.member(s, self.ctx.brand_id, owner)
        if user is None:
            raise NotFoundError(f"no member {owner!r} in brand {self.ctx.brand!r}")
        return user.id

    def _mine(self, s, name):
        sub = drepo.subscription(s, self.ctx.brand_id, name)
        if sub is None:
            raise NotFoundError(f"no subscription {name!r} in this brand")
        if not self.ctx.actor.is_admin and sub.owner_id != self.ctx.actor.user_id:
            raise PermissionDeniedError(f"{self.ctx.actor.name!r} may not change subscription {name!r}: "
                                        "only its owner or a brand admin may")
        return sub

    def list(self) -> pd.DataFrame:
        """``name, report, cron, timezone, owner, channels, status, failures_in_row, next_run``."""
        cols = ["name", "report", "cron", "timezone", "owner", "channels", "status", "failures_in_row", "next_run"]
        with self.ctx.db.session() as s:
            rows = drepo.subscriptions(s, self.ctx.brand_id)
            names = crepo.user_names(s, [r.owner_id for r in rows])
            out = [{"name": r.name, "report": r.report, "cron": r.cron, "timezone": r.timezone,
                    "owner": names.get(r.owner_id),
                    "channels": ", ".join(f"email {','.join(c['to'])}" if c["type"] == "email" else f"webhook {c['url']}"
                                          for c in r.channels),
                    "status": f"paused: {r.paused_reason}" if r.paused_at else "active",
                    "failures_in_row": r.failures_in_row,
                    "next_run": None if r.paused_at else next_slot(r.cron, r.timezone, utcnow())} for r in rows]
        return pd.DataFrame(out, columns=cols)

    def pause(self, name: str, reason: str = "paused by hand") -> None:
        with self.ctx.db.session(write=True) as s:
            sub = self._mine(s, name)
            sub.paused_at, sub.paused_reason = utcnow(), reason

    def resume(self, name: str) -> None:
        """Resume (also after an automatic pause): the failure count starts again at 0."""
        with self.ctx.db.session(write=True) as s:
            sub = self._mine(s, name)
            sub.paused_at, sub.paused_reason, sub.failures_in_row = None, None, 0

    def delete(self, name: str) -> None:
        with self.ctx.db.session(write=True) as s:
            sub = self._mine(s, name)
            crepo.record(s, self.ctx.brand_id, self.ctx.actor.user_id, self.ctx.actor.name, "subscription.delete",
                         detail={"name": sub.name})
            s.delete(sub)

    def runs(self, name: str) -> pd.DataFrame:
        """The subscription's history, newest first: ``id, scheduled_for, status, report_id,
        html_path, recipients, error, started_at, rendered_at, finished_at, seconds``."""
        cols = ["id", "scheduled_for", "status", "report_id", "html_path", "recipients", "error", "started_at",
                "rendered_at", "finished_at", "seconds"]
        with self.ctx.db.session() as s:
            sub = drepo.subscription(s, self.ctx.brand_id, name)
            if sub is None:
                raise NotFoundError(f"no subscription {name!r} in this brand")
            out = [{"id": r.id, "scheduled_for": r.scheduled_for, "status": r.status, "report_id": r.report_id,
                    "html_path": r.html_path, "recipients": list(r.recipients), "error": r.error,
                    "started_at": r.started_at, "rendered_at": r.rendered_at, "finished_at": r.finished_at,
                    "seconds": (r.finished_at - r.started_at).total_seconds() if r.finished_at else None}
                   for r in drepo.runs(s, self.ctx.brand_id, sub.id)]
        return pd.DataFrame(out, columns=cols)
