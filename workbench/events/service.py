"""A brand's event data as a service (``acme.data``): versions, upkeep and forgetting a person.

Reading versions is open to every member. Compaction, vacuum and forgetting a user change what
every member reads, so they need a brand admin; forgetting a user is recorded in the audit log
(the SHA-256 of the user id, how many rows went, the version that deleted them), never silently;
neither the log nor the table's commit log keeps the id itself.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pandas as pd

from ..collaboration.access import require_admin
from ..errors import InvalidInputError

__all__ = ["EventData"]

log = logging.getLogger(__name__)


class EventData:
    """Versions and upkeep of one brand's event table, for the context's acting user."""

    def __init__(self, ctx):
        self.ctx = ctx

    @property
    def store(self):
        return self.ctx.store

    def _admin_only(self, what: str) -> None:
        self.ctx.brand_id  # noqa: B018 - an unknown brand is NotFoundError first
        require_admin(self.ctx, what, "it needs a brand admin")

    @property
    def version(self) -> int | None:
        """The latest version of the brand's event table (None: no events yet)."""
        self.ctx.brand_id  # noqa: B018
        return self.store.version(self.ctx.brand)

    def version_at(self, as_of: datetime | str) -> int:
        """The version that was the latest at ``as_of``."""
        self.ctx.brand_id  # noqa: B018
        return self.store.version_at(self.ctx.brand, as_of)

    def history(self, limit: int | None = 20) -> pd.DataFrame:
        """Versions, newest first: ``version, timestamp, operation, rows_added``."""
        self.ctx.brand_id  # noqa: B018
        return self.store.history(self.ctx.brand, limit)

    def compact(self) -> dict:
        """Merge small files of every day partition (readers and writers carry on meanwhile)."""
        self._admin_only("compact the events")
        return self.store.compact(self.ctx.brand)

    def vacuum(self, retention_hours: float | None = None) -> list[str]:
        """Delete files only versions older than ``retention_hours`` (default: the workspace's
        ``vacuum_retention_hours``) read; those versions can no longer be read."""
        self._admin_only("vacuum the events")
        hours = self.ctx.settings.vacuum_retention_hours if retention_hours is None else retention_hours
        if hours < 0:
            raise InvalidInputError(f"retention_hours must be 0 or more, got {hours}")
        return self.store.vacuum(self.ctx.brand, retention=timedelta(hours=hours))

    def forget_user(self, user_id: str, *, vacuum: bool = False) -> dict:
        """Delete every event and quarantined row of ``user_id``, and record it in the audit log.

        Earlier versions still hold the rows until a vacuum removes their files: ``vacuum=True``
        does that at once (earlier versions then stop being readable); otherwise the nightly
        vacuum does after the retention period.
        """
        self._admin_only("forget a user")
        from ..storage import collaboration as crepo

        out = self.store.forget_user(self.ctx.brand, user_id)
        if vacuum:
            out["files_removed"] = len(self.store.vacuum(self.ctx.brand, retention=timedelta(0)))
        with self.ctx.db.session(write=True) as s:
            crepo.record(s, self.ctx.brand_id, self.ctx.actor.user_id, self.ctx.actor.name, "forget_user",
                         detail={"user_sha256": out["user_sha256"], "events_deleted": out["events_deleted"],
                                 "quarantined_deleted": out["quarantined_deleted"], "version": out["version"],
                                 "vacuumed": vacuum})
        log.warning("forgot a user of brand %s: %d event(s), %d quarantined row(s)", self.ctx.brand,
                    out["events_deleted"], out["quarantined_deleted"])
        return out
