"""Monthly budgets and quotas, reserved atomically when work is accepted and settled when it ends.

Reservation and the new generation row are written in one transaction that holds the
brand's usage row locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write lock
via ``BEGIN IMMEDIATE``), so concurrent requests queue and can never overspend.
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..errors import BudgetExceededError, InvalidInputError, QuotaExceededError
from ..storage.models import Budget, BudgetUsage, utcnow
from ..storage.repositories import insert_missing, insert_or_get

__all__ = ["month_of", "set_budget", "get_budget", "lock_usage", "reserve", "settle", "release", "usage"]


def month_of(when: datetime | None = None) -> str:
    return (when or datetime.now(timezone.utc)).strftime("%Y-%m")


def set_budget(session: Session, brand_id: int, *, monthly_cost_limit: float | None,
               monthly_generation_quota: int | None) -> Budget:
    if monthly_cost_limit is not None and monthly_cost_limit < 0:
        raise InvalidInputError(f"monthly_cost_limit must be >= 0, got {monthly_cost_limit}")
    if monthly_generation_quota is not None and monthly_generation_quota < 0:
        raise InvalidInputError(f"monthly_generation_quota must be >= 0, got {monthly_generation_quota}")
    budget = insert_or_get(session, Budget, {"brand_id": brand_id}, {"updated_at": utcnow()})
    budget.monthly_cost_limit = monthly_cost_limit
    budget.monthly_generation_quota = monthly_generation_quota
    session.flush()
    return budget


def get_budget(session: Session, brand_id: int) -> Budget | None:
    return session.scalar(sa.select(Budget).where(Budget.brand_id == brand_id))


def lock_usage(session: Session, brand_id: int, month: str) -> BudgetUsage:
    """The brand's usage row for the month, created if missing and locked for this transaction."""
    insert_missing(session, BudgetUsage, {"brand_id": brand_id, "month": month},
                   {"reserved_cost": 0.0, "spent_cost": 0.0, "reserved_count": 0, "used_count": 0})
    q = sa.select(BudgetUsage).where(BudgetUsage.brand_id == brand_id, BudgetUsage.month == month)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    return session.scalars(q.execution_options(populate_existing=True)).one()


def reserve(session: Session, brand_id: int, cost: float, month: str) -> BudgetUsage:
    """Reserve ``cost`` and one generation, or raise without changing anything."""
    usage_row = lock_usage(session, brand_id, month)
    budget = get_budget(session, brand_id)
    if budget is not None:
        committed = usage_row.reserved_cost + usage_row.spent_cost
        if budget.monthly_cost_limit is not None and committed + cost > budget.monthly_cost_limit + 1e-9:
            raise BudgetExceededError(
                f"this generation (estimated {cost:.4f}) would take the {month} spend to {committed + cost:.4f}, "
                f"over the monthly budget of {budget.monthly_cost_limit:.4f}; raise the budget or wait for next month")
        count = usage_row.reserved_count + usage_row.used_count
        if budget.monthly_generation_quota is not None and count + 1 > budget.monthly_generation_quota:
            raise QuotaExceededError(f"the monthly quota of {budget.monthly_generation_quota} generations for "
                                     f"{month} is used up ({count} accepted)")
    usage_row.reserved_cost += cost
    usage_row.reserved_count += 1
    return usage_row


def settle(session: Session, brand_id: int, month: str, reserved: float, actual: float) -> None:
    """A generation succeeded: move its reservation to the real spend."""
    u = lock_usage(session, brand_id, month)
    u.reserved_cost = max(0.0, u.reserved_cost - reserved)
    u.reserved_count = max(0, u.reserved_count - 1)
    u.spent_cost += actual
    u.used_count += 1


def release(session: Session, brand_id: int, month: str, reserved: float) -> None:
    """A generation failed or was cancelled: give its reservation back."""
    u = lock_usage(session, brand_id, month)
    u.reserved_cost = max(0.0, u.reserved_cost - reserved)
    u.reserved_count = max(0, u.reserved_count - 1)


def usage(session: Session, brand_id: int, month: str) -> dict:
    u = session.scalar(sa.select(BudgetUsage).where(BudgetUsage.brand_id == brand_id, BudgetUsage.month == month))
    b = get_budget(session, brand_id)
    return {"month": month, "reserved_cost": u.reserved_cost if u else 0.0, "spent_cost": u.spent_cost if u else 0.0,
            "reserved_count": u.reserved_count if u else 0, "used_count": u.used_count if u else 0,
            "monthly_cost_limit": b.monthly_cost_limit if b else None,
            "monthly_generation_quota": b.monthly_generation_quota if b else None}
