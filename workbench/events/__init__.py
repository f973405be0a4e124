"""The event store: schema, validation and quarantine, ingest, brand-scoped reads."""
from .schema import ARROW_SCHEMA, EVENT_COLUMNS, check_brand_name, validate_events
from .store import EventStore, IngestReport, connect

__all__ = ["ARROW_SCHEMA", "EVENT_COLUMNS", "EventStore", "IngestReport", "check_brand_name", "connect",
           "validate_events"]
