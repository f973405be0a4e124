"""SQLAlchemy models for every entity of the application database.

Every row that belongs to a brand carries ``brand_id``; repositories always filter
on it, so that nothing crosses brands. Enumerations are stored as short strings
(``native_enum=False``) so that SQLite and PostgreSQL share one schema.
"""
from __future__ import annotations

import enum
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The vocabularies live in workbench.domain (no database behind them); re-exported here.
from ..domain import GenerationStatus, GenerationType, Permission, ReportStatus, ResourceType, Role

__all__ = [
    "Base", "Brand", "User", "FunnelDefinition", "CohortDefinition", "SegmentDefinition",
    "AnalysisResult", "Prediction", "GenerationType", "GenerationStatus", "Generation",
    "Collection", "CollectionItem", "Budget", "BudgetUsage", "Permission", "ResourceType",
    "Share", "PublicLink", "Comment", "ReportStatus", "Report", "IngestRecord", "Role", "AuditEvent",
    "AccessToken", "PortalSession", "Subscription", "SubscriptionRun", "Alert", "Delivery", "utcnow", "as_utc",
]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(dt: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands timestamps back without their zone)."""
    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: sa.DateTime(timezone=True), dict: sa.JSON, list: sa.JSON}


def _enum(cls: type[enum.Enum]) -> sa.Enum:
    return sa.Enum(cls, native_enum=False, length=16, validate_strings=True,
                   values_callable=lambda e: [m.value for m in e])


def _brand_fk() -> Mapped[int]:
    return mapped_column(sa.ForeignKey("brands.id", ondelete="CASCADE"), index=True)


class Brand(Base):
    __tablename__ = "brands"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A member of one brand (author, sharee, commenter), with a role. A removed member keeps
    the row (what they wrote stays attributed) but can no longer act."""
    __tablename__ = "users"
    __table_args__ = (sa.UniqueConstraint("brand_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = _brand_fk()
    name: Mapped[str] = mapped_column(sa.String(128))
    email: Mapped[str | None] = mapped_column(sa.String(256))
    role: Mapped[str] = mapped_column(sa.String(16), default=Role.MEMBER.value, server_default=Role.MEMBER.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column()


class _Definition:
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SegmentDefinition(_Definition, Base):
    """A saved, named filter of users: property and behavioural conditions."""
    __tablename__ = "segments"
    __table_args__ = (sa.UniqueConstraint("brand_id", "name"),)
    brand_id: Mapped[int] = _brand_fk()
    conditions: Mapped[list] = mapped_column(default=list)
    match: Mapped[str] = mapped_column(sa.String(8), default="all")


class FunnelDefinition(_Definition, Base):
    __tablename__ = "funnels"
    __table_args__ = (sa.UniqueConstraint("brand_id", "name"),)
    brand_id: Mapped[int] = _brand_fk()
    steps: Mapped[list] = mapped_column()
    window_seconds: Mapped[int] = mapped_column()
    breakdown: Mapped[str | None] = mapped_column(sa.String(128))
    segment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("segments.id", ondelete="SET NULL"))


class CohortDefinition(_Definition, Base):
    __tablename__ = "cohorts"
    __table_args__ = (sa.UniqueConstraint("brand_id", "name"),)
    brand_id: Mapped[int] = _brand_fk()
    period: Mapped[str] = mapped_column(sa.String(8), default="week")
    periods: Mapped[int] = mapped_column(default=12)
    start_event: Mapped[str | None] = mapped_column(sa.String(128))
    return_event: Mapped[str | None] = mapped_column(sa.String(128))
    mode: Mapped[str] = mapped_column(sa.String(16), default="on")
    segment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("segments.id", ondelete="SET NULL"))


class AnalysisResult(Base):
    """A stored calculation of a saved funnel, cohort or segment."""
    __tablename__ = "analysis_results"
    __table_args__ = (sa.Index("ix_results_lookup", "brand_id", "kind", "definition_id", "calculated_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(sa.ForeignKey("brands.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(16))  # funnel | cohort | segment | anomaly
    definition_id: Mapped[int | None] = mapped_column()
    parameters: Mapped[dict] = mapped_column(default=dict)
    result: Mapped[list] = mapped_column(default=list)  # records of the result frame
    data_version: Mapped[int | None] = mapped_column()  # event table version it was computed on
    calculated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Prediction(Base):
    """A stored forecast: settings, forecast rows and backtest scores."""
    __tablename__ = "predictions"
    __table_args__ = (sa.Index("ix_predictions_lookup", "brand_id", "metric", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(sa.ForeignKey("brands.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(sa.String(64))
    segment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("segments.id", ondelete="SET NULL"))
    horizon: Mapped[int] = mapped_column()
    settings: Mapped[dict] = mapped_column(default=dict)
    forecast: Mapped[list] = mapped_column(default=list)
    scores: Mapped[dict] = mapped_column(default=dict)
    data_version: Mapped[int | None] = mapped_column()  # event table version it was computed on
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Generation(Base):
    """One AI generation; versions link to their parent and share a root."""
    __tablename__ = "generations"
    __table_args__ = (
        sa.Index("ix_generations_brand_status", "brand_id", "status"),
        sa.Index("ix_generations_claim", "status", "lease_until"),
        sa.Index("ix_generations_root", "root_id", "version"),
        sa.Index("ix_generations_brand_created", "brand_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(sa.ForeignKey("brands.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    type: Mapped[GenerationType] = mapped_column(_enum(GenerationType))
    prompt: Mapped[str] = mapped_column(sa.Text)
    parameters: Mapped[dict] = mapped_column(default=dict)
    provider: Mapped[str] = mapped_column(sa.String(64))
    model: Mapped[str] = mapped_column(sa.String(128))
    status: Mapped[GenerationStatus] = mapped_column(_enum(GenerationStatus), default=GenerationStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)
    reserved_cost: Mapped[float] = mapped_column(default=0.0)
    cost: Mapped[float | None] = mapped_column()
    credits: Mapped[float | None] = mapped_column()
    duration_seconds: Mapped[float | None] = mapped_column()
    artifact_uri: Mapped[str | None] = mapped_column(sa.Text)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("generations.id", ondelete="SET NULL"))
    root_id: Mapped[int | None] = mapped_column()
    version: Mapped[int] = mapped_column(default=1)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(128))
    lease_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class Collection(Base):
    __tablename__ = "collections"
    __table_args__ = (sa.UniqueConstraint("brand_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = _brand_fk()
    name: Mapped[str] = mapped_column(sa.String(128))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    items: Mapped[list["CollectionItem"]] = relationship(cascade="all, delete-orphan")


class CollectionItem(Base):
    __tablename__ = "collection_items"
    collection_id: Mapped[int] = mapped_column(sa.ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True)
    generation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("generations.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Budget(Base):
    """A brand's monthly limits. ``None`` means unlimited."""
    __tablename__ = "budgets"
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(sa.ForeignKey("brands.id", ondelete="CASCADE"), unique=True)
    monthly_cost_limit: Mapped[float | None] = mapped_column()
    monthly_generation_quota: Mapped[int | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BudgetUsage(Base):
    """Reserved and settled spend of one brand in one month (``YYYY-MM``)."""
    __tablename__ = "budget_usage"
    __table_args__ = (sa.UniqueConstraint("brand_id", "month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(sa.ForeignKey("brands.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(sa.String(7))
    reserved_cost: Mapped[float] = mapped_column(default=0.0)
    spent_cost: Mapped[float] = mapped_column(default=0.0)
    reserved_count: Mapped[int] = mapped_column(default=0)
    used_count: Mapped[int] = mapped_column(default=0)


class Share(Base):
    __tablename__ = "shares"
    __table_args__ = (
        sa.UniqueConstraint("resource_type", "resource_id", "user_id"),
        sa.Index("ix_shares_resource", "brand_id", "resource_type", "resource_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(sa.ForeignKey("brands.id", ondelete="CASCADE"))
    resource_type: Mapped[ResourceType] = mapped_column(_enum(ResourceType))
    resource_id: Mapped[int] = mapped_column()
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    permission: Mapped[Permission] = mapped_column(_enum(Permission))
    expires_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PublicLink(Base):
    """A read-only public link; only the SHA-256 of its token is stored."""
    __tablename__ = "public_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = _brand_fk()
    resource_type: Mapped[ResourceType] = mapped_column(_enum(ResourceType))
    resource_id: Mapped[int] = mapped_column()
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (sa.Index("ix_comments_resource", "brand_id", "resource_type", "resource_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(sa.ForeignKey("brands.id", ondelete="CASCADE"))
    resource_type: Mapped[ResourceType] = mapped_column(_enum(ResourceType))
    resource_id: Mapped[int] = mapped_column()
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("comments.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column()
    deleted_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()  # on a thread's first comment
    resolved_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))


class AuditEvent(Base):
    """Who changed access to what, and when: grants, revocations, links, deletions, members."""
    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_brand_time", "brand_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(sa.ForeignKey("brands.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(sa.String(128))
    action: Mapped[str] = mapped_column(sa.String(32))
    resource_type: Mapped[str | None] = mapped_column(sa.String(16))
    resource_id: Mapped[int | None] = mapped_column()
    detail: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Report(Base):
    """A rendered (or failed) report notebook run."""
    __tablename__ = "reports"
    __table_args__ = (sa.Index("ix_reports_lookup", "brand_id", "name", "started_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(sa.ForeignKey("brands.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(64))
    parameters: Mapped[dict] = mapped_column(default=dict)
    status: Mapped[ReportStatus] = mapped_column(_enum(ReportStatus), default=ReportStatus.RUNNING)
    error: Mapped[str | None] = mapped_column(sa.Text)
    html_path: Mapped[str | None] = mapped_column(sa.Text)
    notebook_path: Mapped[str | None] = mapped_column(sa.Text)
    duration_seconds: Mapped[float | None] = mapped_column()
    data_version: Mapped[int | None] = mapped_column()  # event table version it was rendered on
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class IngestRecord(Base):
    """What one ingest call accepted, skipped and quarantined."""
    __tablename__ = "ingests"
    __table_args__ = (sa.Index("ix_ingests_brand", "brand_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(sa.ForeignKey("brands.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(sa.Text)
    accepted: Mapped[int] = mapped_column()
    duplicates: Mapped[int] = mapped_column()
    rejected: Mapped[int] = mapped_column()
    quarantine_path: Mapped[str | None] = mapped_column(sa.Text)
    data_file: Mapped[str | None] = mapped_column(sa.Text)  # before 0005: the Parquet file written
    table_version: Mapped[int | None] = mapped_column()  # the event table version the ingest made
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessToken(Base):
    """A member's personal access token for the portal; only its SHA-256 is stored."""
    __tablename__ = "access_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = _brand_fk()
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str] = mapped_column(sa.String(128), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class PortalSession(Base):
    """A signed-in portal session; the cookie holds a random id, this row its SHA-256."""
    __tablename__ = "portal_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    brand_id: Mapped[int] = _brand_fk()
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_id: Mapped[int | None] = mapped_column(sa.ForeignKey("access_tokens.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()


class Subscription(Base):
    """A report rendered on a schedule and delivered to channels, run as its owner."""
    __tablename__ = "subscriptions"
    __table_args__ = (sa.UniqueConstraint("brand_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = _brand_fk()
    name: Mapped[str] = mapped_column(sa.String(128))
    report: Mapped[str] = mapped_column(sa.String(64))
    parameters: Mapped[dict] = mapped_column(default=dict)
    cron: Mapped[str] = mapped_column(sa.String(128))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    lookback_days: Mapped[int | None] = mapped_column()
    channels: Mapped[list] = mapped_column(default=list)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    paused_at: Mapped[datetime | None] = mapped_column()
    paused_reason: Mapped[str | None] = mapped_column(sa.Text)
    failures_in_row: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubscriptionRun(Base):
    """One schedule slot of a subscription: unique per (subscription, scheduled_for), so a slot
    is claimed once however many schedulers fire it."""
    __tablename__ = "subscription_runs"
    __table_args__ = (sa.UniqueConstraint("subscription_id", "scheduled_for"),
                      sa.Index("ix_runs_status", "status", "lease_until"))
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = _brand_fk()
    subscription_id: Mapped[int] = mapped_column(sa.ForeignKey("subscriptions.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(16), default="RUNNING")  # RUNNING|RENDERED|DELIVERED|FAILED
    claimed_by: Mapped[str | None] = mapped_column(sa.String(128))
    lease_until: Mapped[datetime | None] = mapped_column()
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reports.id", ondelete="SET NULL"))
    html_path: Mapped[str | None] = mapped_column(sa.Text)
    summary: Mapped[dict] = mapped_column(default=dict)
    recipients: Mapped[list] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(sa.Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    rendered_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class Alert(Base):
    """Watch one daily metric for anomalies; tell the channels once per new anomaly and on recovery."""
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = _brand_fk()
    metric: Mapped[str] = mapped_column(sa.String(64))
    method: Mapped[str] = mapped_column(sa.String(16), default="stl")
    threshold: Mapped[float] = mapped_column(default=3.5)
    lookback_days: Mapped[int] = mapped_column(default=120)
    channels: Mapped[list] = mapped_column(default=list)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    open_since: Mapped[str | None] = mapped_column(sa.String(10))  # day of the anomaly not yet recovered
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """The outbox: one message to one channel, sent (and retried with backoff) apart from rendering.
    ``dedupe_key`` is unique, so a message is enqueued once however often its cause is seen."""
    __tablename__ = "deliveries"
    __table_args__ = (sa.Index("ix_deliveries_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = _brand_fk()
    dedupe_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("subscription_runs.id", ondelete="CASCADE"),
                                               index=True)
    alert_id: Mapped[int | None] = mapped_column(sa.ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(sa.String(16))  # email | webhook
    target: Mapped[str] = mapped_column(sa.Text)  # an address, or a webhook URL
    subject: Mapped[str] = mapped_column(sa.Text)
    payload: Mapped[dict] = mapped_column(default=dict)  # text, html, json body, attachment path
    status: Mapped[str] = mapped_column(sa.String(16), default="PENDING")  # PENDING|SENDING|SENT|FAILED
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
