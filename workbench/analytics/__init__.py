"""Pure analytics: events in, a new DataFrame out. Nothing here reads or writes storage."""
from .funnels import funnel, funnel_users
from .retention import retention

__all__ = ["funnel", "funnel_users", "retention"]
