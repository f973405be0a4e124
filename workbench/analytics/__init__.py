"""Pure analytics: events in, a new DataFrame out. Nothing here reads or writes storage."""
from .anomalies import anomalies
from .correlations import correlations
from .funnels import funnel, funnel_dropoff, funnel_over_time, funnel_users, time_to_convert
from .forecasting import backtest, forecast, forecast_many
from .metrics import daily_metrics
from .retention import retention, retention_curve, revenue_curve
from .segments import segment_users

__all__ = ["anomalies", "backtest", "correlations", "daily_metrics", "forecast", "forecast_many", "funnel", "funnel_dropoff", "funnel_over_time",
           "funnel_users", "retention", "retention_curve", "revenue_curve", "segment_users", "time_to_convert"]
