"""Delivery: report subscriptions on a schedule and anomaly alerts, sent by email and signed
webhooks through an outbox — exactly once per schedule slot, and never green while wrong."""
from .alerts import Alerts, check_alerts
from .channels import verify_signature
from .runs import execute_run, send_due, tick
from .subscriptions import Subscriptions

__all__ = ["Subscriptions", "Alerts", "check_alerts", "tick", "execute_run", "send_due", "verify_signature"]
