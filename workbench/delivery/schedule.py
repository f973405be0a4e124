"""Schedule slots: the times a cron expression fires in a time zone (croniter + zoneinfo).

A slot is stored in UTC. ``due_slot(cron, tz, now)`` is the latest slot at or before ``now``:
the one a scheduler ticking at ``now`` should run (once: the run row is unique per slot).
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, croniter

from ..errors import InvalidInputError

__all__ = ["check_schedule", "due_slot", "next_slot"]


def check_schedule(cron: str, tz: str) -> None:
    """InvalidInputError naming the problem when the cron expression or the zone is not valid."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInputError(f"unknown time zone {tz!r}; use an IANA name such as 'Europe/Paris' or 'UTC'") \
            from None
    if not isinstance(cron, str) or not croniter.is_valid(cron):
        raise InvalidInputError(f"{cron!r} is not a cron expression (five fields: minute hour day month weekday, "
                                "e.g. '0 8 * * 1' for Mondays at 08:00)")


def _iter(cron: str, tz: str, at: datetime) -> croniter:
    try:
        return croniter(cron, at.astimezone(ZoneInfo(tz)))
    except (CroniterBadCronError, ValueError) as exc:
        raise InvalidInputError(f"{cron!r} is not a cron expression: {exc}") from None


def due_slot(cron: str, tz: str, now: datetime) -> datetime:
    """The latest time at or before ``now`` that the schedule fires, in UTC."""
    it = _iter(cron, tz, now)
    if croniter.match(cron, now.astimezone(ZoneInfo(tz)).replace(second=0, microsecond=0)) and now.second == 0:
        return now.astimezone(timezone.utc).replace(microsecond=0)
    return it.get_prev(datetime).astimezone(timezone.utc)


def next_slot(cron: str, tz: str, now: datetime) -> datetime:
    """The first time after ``now`` that the schedule fires, in UTC."""
    return _iter(cron, tz, now).get_next(datetime).astimezone(timezone.utc)
