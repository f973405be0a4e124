"""AI Studio: generations through pluggable providers, budgets, versions, collections, analytics."""
from .providers import get_provider, register_provider
from .runner import RetryPolicy, run_batch
from .service import Studio

__all__ = ["Studio", "RetryPolicy", "run_batch", "get_provider", "register_provider"]
