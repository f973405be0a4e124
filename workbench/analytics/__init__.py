"""Pure analytics: events in, a new DataFrame out. Nothing here reads or writes storage."""
from .anomalies import anomalies
from .correlations import correlations
from .funnels import funnel, funnel_users
from .metrics import daily_metrics
from .retention import retention

__all__ = ["anomalies", "correlations", "daily_metrics", "funnel", "funnel_users", "retention"]
