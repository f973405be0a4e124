"""Anomaly alerts of a brand (``acme.alerts``): watch a daily metric; the nightly recalculation
calls :func:`check_alerts`, which tells the alert's channels once per new anomalous day (value,
expected value and a small chart) and once when the metric is back to normal.

"Once" is the outbox's unique key: ``alert:<id>:<day>`` for an anomaly and
``alert:<id>:recovered:<day>`` for the recovery from the anomaly that began on ``day``, so a
second run over the same data sends nothing.
"""
from __future__ import annotations

import logging
from typing import Literal

import pandas as pd

from .. import analytics
from ..analyses import brand as analysis
from ..analytics.metrics import METRICS
from ..errors import InvalidInputError, NotFoundError, PermissionDeniedError
from ..storage import collaboration as crepo
from ..storage import delivery as drepo
from ..storage.models import Alert, utcnow
from .subscriptions import checked_channels

__all__ = ["Alerts", "check_alerts"]

log = logging.getLogger(__name__)
Direction = Literal["both", "down", "up"]


class Alerts:
    """Create, list and delete alerts (brand admins and members for their own)."""

    def __init__(self, ctx):
        self.ctx = ctx

    def create(self, metric: str, *, method: str = "stl", threshold: float = 3.5, direction: Direction = "both",
               channels: list, lookback_days: int = 120) -> int:
        """Watch ``metric`` (a daily metric such as ``purchases``); ``direction="down"`` alerts on
        drops only, ``"up"`` on rises only. Returns the alert's id."""
        if metric not in METRICS:
            raise InvalidInputError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        if method not in ("stl", "prophet"):
            raise InvalidInputError(f"method must be 'stl' or 'prophet', got {method!r}")
        if direction not in ("both", "down", "up"):
            raise InvalidInputError(f"direction must be 'both', 'down' or 'up', got {direction!r}")
        if not 0 < float(threshold) < 100:
            raise InvalidInputError(f"threshold must be a positive score, got {threshold!r}")
        chans = checked_channels(channels)
        self.ctx.ensure_brand()
        with self.ctx.db.session(write=True) as s:
            owner = self.ctx.actor.user_id if self.ctx.actor.user_id is not None else \
                crepo.owner_user(s, self.ctx.brand_id).id
            row = Alert(brand_id=self.ctx.brand_id, metric=metric, method=f"{method}:{direction}",
                        threshold=float(threshold), lookback_days=lookback_days, channels=chans, owner_id=owner,
                        created_at=utcnow())
            s.add(row)
            s.flush()
            return row.id

    def list(self) -> pd.DataFrame:
        cols = ["id", "metric", "method", "direction", "threshold", "open_since", "created_at"]
        with self.ctx.db.session() as s:
            out = [{"id": a.id, "metric": a.metric, "method": a.method.split(":")[0],
                    "direction": a.method.split(":")[1], "threshold": a.threshold, "open_since": a.open_since,
                    "created_at": a.created_at} for a in drepo.alerts(s, self.ctx.brand_id)]
        return pd.DataFrame(out, columns=cols)

    def delete(self, alert_id: int) -> None:
        with self.ctx.db.session(write=True) as s:
            a = drepo.alert(s, self.ctx.brand_id, alert_id)
            if a is None:
                raise NotFoundError(f"no alert {alert_id!r} in this brand")
            if not self.ctx.actor.is_admin and a.owner_id != self.ctx.actor.user_id:
                raise PermissionDeniedError("only the alert's owner or a brand admin deletes it")
            s.delete(a)


def _chart(series: pd.Series, day: pd.Timestamp, metric: str, path) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 2), dpi=100)
    tail = series.iloc[-60:]
    ax.plot(tail.index, tail.values, lw=1.2)
    if day in tail.index:
        ax.scatter([day], [tail.loc[day]], color="#c0392b", zorder=3)
    ax.set_title(f"{metric}, last {len(tail)} days", fontsize=9)
    ax.tick_params(labelsize=7)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def _messages(s, alert, ctx, key: str, subject: str, text: str, attachments: list[str]) -> bool:
    new = False
    for i, ch in enumerate(alert.channels):
        if ch["type"] == "email":
            for member in ch["to"]:
                user = crepo.member(s, alert.brand_id, member)
                if user is None or not user.email:
                    continue
                new |= drepo.enqueue(s, brand_id=alert.brand_id, dedupe_key=f"{key}:{i}:{member}", channel="email",
                                     target=user.email, subject=subject, alert_id=alert.id,
                                     payload={"member": member, "text": text, "attachments": attachments})
        else:
            new |= drepo.enqueue(s, brand_id=alert.brand_id, dedupe_key=f"{key}:{i}", channel="webhook",
                                 target=ch["url"], subject=subject, alert_id=alert.id,
                                 payload={"json": {"text": f"*{subject}*\n{text}", "brand": ctx.brand},
                                          "channel_index": i})
    return new


def check_alerts(ctx) -> dict:
    """Check every alert of the brand against its metric now; returns ``{"anomalies": new
    anomaly messages, "recoveries": recovery messages}``."""
    out = {"anomalies": 0, "recoveries": 0}
    with ctx.db.session() as s:
        alerts = [(a.id, a.metric, a.method, a.threshold, a.lookback_days) for a in drepo.alerts(s, ctx.brand_id)]
    charts = ctx.settings.home.resolve() / "alerts" / ctx.brand
    charts.mkdir(parents=True, exist_ok=True)
    for alert_id, metric, method, threshold, lookback in alerts:
        how, direction = method.split(":")
        daily = analysis.daily_metrics(ctx, [metric])[metric].iloc[-lookback:]
        found = analytics.anomalies(daily, threshold=threshold, method="robust" if how == "stl" else how)
        flagged = found[found["is_anomaly"]]
        if direction != "both":
            flagged = flagged[(flagged["score"] < 0) if direction == "down" else (flagged["score"] > 0)]
        last_day = daily.index.max()
        with ctx.db.session(write=True) as s:
            alert = drepo.alert(s, ctx.brand_id, alert_id)
            for r in flagged.itertuples():
                day = pd.Timestamp(r.ds)
                subject = f"{ctx.brand}: {metric} unusual on {day:%Y-%m-%d}"
                text = (f"{metric} was {r.value:,.2f} on {day:%Y-%m-%d}; expected about {r.expected:,.2f} "
                        f"(robust score {r.score:+.1f}, threshold {threshold}).")
                png = _chart(daily, day, metric, charts / f"alert-{alert_id}-{day:%Y%m%d}.png")
                if _messages(s, alert, ctx, f"alert:{alert_id}:{day:%Y-%m-%d}", subject, text, [png]):
                    out["anomalies"] += 1
                if alert.open_since is None or f"{day:%Y-%m-%d}" > alert.open_since:
                    alert.open_since = f"{day:%Y-%m-%d}"
            last_flagged = last_day in set(pd.to_datetime(flagged["ds"]))
            if alert.open_since and f"{last_day:%Y-%m-%d}" > alert.open_since and not last_flagged:
                subject = f"{ctx.brand}: {metric} back to normal"
                text = (f"{metric} is back within its expected range (last day {last_day:%Y-%m-%d}: "
                        f"{daily.iloc[-1]:,.2f}) after the anomaly of {alert.open_since}.")
                if _messages(s, alert, ctx, f"alert:{alert_id}:recovered:{alert.open_since}", subject, text, []):
                    out["recoveries"] += 1
                alert.open_since = None
    log.info("alerts of %s: %s", ctx.brand, out)
    return out
