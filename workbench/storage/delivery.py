"""Queries of subscriptions, their runs, alerts and the outbox.

Exactly-once rests on two unique keys: a run per ``(subscription, scheduled_for)`` and a
delivery per ``dedupe_key``; both are written with ``INSERT ... ON CONFLICT DO NOTHING``, and the
writer that finds its own worker id on the row is the one that goes on. Outbox rows are
claimed with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, SQLite's write lock otherwise).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import Alert, Delivery, Subscription, SubscriptionRun, utcnow
from .repositories import insert_missing

__all__ = ["subscription", "subscriptions", "active_subscriptions", "claim_slot", "run", "runs", "stale_runs",
           "enqueue", "claim_due", "run_deliveries", "alert", "alerts"]


def subscription(session: Session, brand_id: int, ref) -> Subscription | None:
    col = Subscription.id if isinstance(ref, int) else Subscription.name
    return session.scalar(sa.select(Subscription).where(Subscription.brand_id == brand_id, col == ref))


def subscriptions(session: Session, brand_id: int) -> list[Subscription]:
    return list(session.scalars(sa.select(Subscription).where(Subscription.brand_id == brand_id)
                                .order_by(Subscription.name)))


def active_subscriptions(session: Session) -> list[Subscription]:
    """Every brand's subscriptions that are not paused (what the scheduler looks at)."""
    return list(session.scalars(sa.select(Subscription).where(Subscription.paused_at.is_(None))
                                .order_by(Subscription.id)))


def claim_slot(session: Session, sub: Subscription, scheduled_for: datetime, worker: str,
               lease: timedelta) -> SubscriptionRun | None:
    """The slot's run if this worker created it now; None when another scheduler has it."""
    now = utcnow()
    insert_missing(session, SubscriptionRun, {"subscription_id": sub.id, "scheduled_for": scheduled_for},
                   {"brand_id": sub.brand_id, "status": "RUNNING", "claimed_by": worker, "lease_until": now + lease,
                    "started_at": now, "summary": {}, "recipients": []})
    row = session.scalars(sa.select(SubscriptionRun).where(SubscriptionRun.subscription_id == sub.id,
                                                           SubscriptionRun.scheduled_for == scheduled_for)
                          .execution_options(populate_existing=True)).one()
    return row if row.claimed_by == worker and row.status == "RUNNING" else None


def run(session: Session, run_id: int) -> SubscriptionRun | None:
    return session.get(SubscriptionRun, run_id)


def runs(session: Session, brand_id: int, subscription_id: int) -> list[SubscriptionRun]:
    return list(session.scalars(sa.select(SubscriptionRun).where(
        SubscriptionRun.brand_id == brand_id, SubscriptionRun.subscription_id == subscription_id)
        .order_by(SubscriptionRun.scheduled_for.desc(), SubscriptionRun.id.desc())))


def stale_runs(session: Session, now: datetime) -> list[SubscriptionRun]:
    """Runs still RUNNING after their lease: their worker died or hung."""
    return list(session.scalars(sa.select(SubscriptionRun).where(SubscriptionRun.status == "RUNNING",
                                                                 SubscriptionRun.lease_until < now)))


def enqueue(session: Session, *, brand_id: int, dedupe_key: str, channel: str, target: str, subject: str,
            payload: dict, run_id: int | None = None, alert_id: int | None = None,
            due: datetime | None = None) -> bool:
    """Put one message in the outbox, once per ``dedupe_key``, to be sent from ``due`` on (default:
    now; a run's messages are due from its slot); True when it is new."""
    before = session.scalar(sa.select(sa.func.count()).select_from(Delivery).where(Delivery.dedupe_key == dedupe_key))
    insert_missing(session, Delivery, {"dedupe_key": dedupe_key},
                   {"brand_id": brand_id, "run_id": run_id, "alert_id": alert_id, "channel": channel,
                    "target": target, "subject": subject, "payload": payload, "status": "PENDING", "attempts": 0,
                    "next_attempt_at": due or utcnow(), "created_at": utcnow()})
    return before == 0


def claim_due(session: Session, now: datetime, lease: timedelta, limit: int = 50) -> list[Delivery]:
    """Deliveries due now (pending, or sending with a lapsed lease), marked SENDING for this worker."""
    q = (sa.select(Delivery).where(sa.or_(
        sa.and_(Delivery.status == "PENDING", Delivery.next_attempt_at <= now),
        sa.and_(Delivery.status == "SENDING", Delivery.lease_until < now)))
        .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    rows = list(session.scalars(q))
    for r in rows:
        r.status, r.lease_until = "SENDING", now + lease
    return rows


def run_deliveries(session: Session, run_id: int) -> list[Delivery]:
    return list(session.scalars(sa.select(Delivery).where(Delivery.run_id == run_id).order_by(Delivery.id)))


def alert(session: Session, brand_id: int, alert_id: int) -> Alert | None:
    return session.scalar(sa.select(Alert).where(Alert.brand_id == brand_id, Alert.id == alert_id))


def alerts(session: Session, brand_id: int) -> list[Alert]:
    return list(session.scalars(sa.select(Alert).where(Alert.brand_id == brand_id).order_by(Alert.id)))
