"""Running subscriptions: claim a slot once, render, check, enqueue, send — never twice, never green
while wrong.

One tick (the ``deliveries`` flow runs it every minute; any number may run at once):

1. **Reap**: a run still RUNNING past its lease (``run_timeout_minutes``) is marked FAILED.
2. **Claim**: for every active subscription the latest due slot gets a run row, unique on
   ``(subscription, scheduled_for)``; only the scheduler that created the row renders it.
   Slots missed while nothing ticked are not replayed: the latest one stands for them.
3. **Render** as the owner through the report path, then **check**: the period must hold events,
   the notebook must not raise and no output cell may hold an error. A failure fails the run,
   tells the owner with the error, and after 3 failures in a row pauses the subscription and
   says so. Success shares the run with the member recipients (VIEW) and puts one message per
   recipient in the outbox.
4. **Send** what is due from the outbox, each message on its own, retried with backoff
   (10 s, 1 min, 5 min, 30 min; failed after 5 attempts) without rendering again. A run is
   DELIVERED when all its messages are sent, FAILED when one of them gives up.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .. import reports
from ..analyses import brand as analysis
from ..collaboration import access
from ..domain import Action, ResourceKind
from ..errors import WorkbenchError
from ..storage import collaboration as crepo
from ..storage import delivery as drepo
from ..storage import repositories as repo
from ..storage.models import Alert, Delivery, Subscription, User, as_utc, utcnow
from . import channels
from .schedule import due_slot

__all__ = ["tick", "execute_run", "send_due", "BACKOFF", "MAX_ATTEMPTS", "FAILURES_BEFORE_PAUSE"]

log = logging.getLogger(__name__)
BACKOFF = (10, 60, 300, 1800)  # seconds before attempts 2, 3, 4, 5
MAX_ATTEMPTS = 5
FAILURES_BEFORE_PAUSE = 3



def tick(ws, now: datetime | None = None, *, worker: str | None = None) -> dict:
    """One scheduler pass over every brand: reap, claim and render due slots, send due messages."""
    now = now or datetime.now(timezone.utc)
    worker = worker or f"tick-{uuid.uuid4().hex[:8]}"
    lease = timedelta(minutes=ws.settings.run_timeout_minutes)
    out = {"reaped": _reap(ws, now), "rendered": 0, "failed": 0}
    with ws.db.session() as s:
        subs = [(sub.id, sub.brand_id, sub.cron, sub.timezone, as_utc(sub.created_at))
                for sub in drepo.active_subscriptions(s)]
    for sub_id, brand_id, cron, tz, created in subs:
        slot = due_slot(cron, tz, now)
        if slot < created.replace(second=0, microsecond=0):
            continue  # nothing was due since the subscription was made
        with ws.db.session(write=True) as s:
            claimed = drepo.claim_slot(s, s.get(Subscription, sub_id), slot, worker, lease)
            run_id = claimed.id if claimed else None
        if run_id is not None:
            ok = execute_run(ws, run_id)
            out["rendered" if ok else "failed"] += 1
    out["sent"], out["send_failures"] = send_due(ws, now)
    return out


def _reap(ws, now: datetime) -> int:
    with ws.db.session(write=True) as s:
        stale = [r.id for r in drepo.stale_runs(s, now)]
    for run_id in stale:
        _fail(ws, run_id, "the run was still running past its timeout (its worker died or hung)")
    return len(stale)


def _period(sub, slot: datetime) -> dict:
    """``since``/``until`` for the report: the subscription's own, or the ``lookback_days``
    days before the slot's day."""
    params = dict(sub.parameters)
    if sub.lookback_days and "until" not in params:
        until = slot.date()
        params.update(until=str(until), since=str(until - timedelta(days=sub.lookback_days)))
    return params


def _error_in_outputs(notebook_path: str | None) -> str | None:
    if not notebook_path or not Path(notebook_path).exists():
        return None
    import nbformat
    nb = nbformat.read(notebook_path, as_version=4)
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"{output.get('ename')}: {output.get('evalue')} (in cell {i})"
    return None


def execute_run(ws, run_id: int) -> bool:
    """Render, check and enqueue one claimed run; False (and the owner told) when it failed."""
    with ws.db.session() as s:
        run = drepo.run(s, run_id)
        sub = s.get(Subscription, run.subscription_id)
        brand = repo.brand_name(s, sub.brand_id)
        owner = crepo.user_names(s, [sub.owner_id]).get(sub.owner_id)
        params, report, slot = _period(sub, as_utc(run.scheduled_for)), sub.report, as_utc(run.scheduled_for)
    # run as the owner; the brand's local owner (a notebook or the CLI made it) acts as itself
    scope = ws.brand(brand, user=None if owner in (None, crepo.OWNER_NAME) else owner)
    since, until = params.get("since"), params.get("until")
    try:
        n = scope.events(since, until).aggregate("count(*)").fetchall()[0][0]
    except Exception as exc:  # noqa: BLE001 - a broken event store fails the run, visibly
        return _fail(ws, run_id, f"could not read the events: {exc}")
    if n == 0:
        return _fail(ws, run_id, f"no data for the period {since or 'start'} to {until or 'end'}: nothing to report")
    rendered = reports.run_report(scope.context, report, params, raise_on_failure=False)
    error = rendered.error or _error_in_outputs(str(rendered.notebook_path) if rendered.notebook_path else None)
    if error or not rendered.html_path:
        return _fail(ws, run_id, error or "the report produced no HTML", report_id=rendered.id)
    totals = analysis.daily_metrics(scope.context, ["events", "active_users", "purchases", "revenue"],
                                    since=since, until=until)
    summary = {"period": f"{totals.index.min():%Y-%m-%d} to {totals.index.max():%Y-%m-%d}", "events": int(n),
               "peak_daily_active_users": int(totals["active_users"].max()),
               "purchases": int(totals["purchases"].sum()), "revenue": round(float(totals["revenue"].sum()), 2)}
    with ws.db.session(write=True) as s:
        run = drepo.run(s, run_id)
        sub = s.get(Subscription, run.subscription_id)
        recipients = _enqueue_report(s, scope, sub, run, rendered, summary, slot)
        run.status, run.report_id, run.html_path = "RENDERED", rendered.id, str(rendered.html_path)
        run.summary, run.recipients, run.rendered_at, run.lease_until = summary, recipients, utcnow(), None
        sub.failures_in_row = 0
    return True


def _enqueue_report(s, scope, sub, run, rendered, summary: dict, slot: datetime) -> list[str]:
    """One outbox message per recipient; member recipients get VIEW on the run (a delivery is a share)."""
    subject = f"{sub.name}: {sub.report} report for {scope.name} ({summary['period']})"
    text = (f"{subject}\n\nEvents: {summary['events']:,}\nPeak daily active users: "
            f"{summary['peak_daily_active_users']:,}\nPurchases: {summary['purchases']:,}\n"
            f"Revenue: {summary['revenue']:,.2f}\n\nThe report is attached (self-contained HTML).")
    html = ("<h2>" + _esc(subject) + "</h2><table>" + "".join(
        f"<tr><th align='left'>{_esc(k.replace('_', ' '))}</th><td>{_esc(v)}</td></tr>" for k, v in summary.items())
        + "</table><p>The report is attached.</p>")
    recipients = []
    for i, ch in enumerate(sub.channels):
        key = f"run:{run.id}:{i}"
        if ch["type"] == "email":
            for member in ch["to"]:
                user = crepo.member(s, sub.brand_id, member)
                if user is None or not user.email:
                    log.warning("subscription %s: %r is not a member with an email; skipped", sub.id, member)
                    continue
                if sub.owner_id is not None and user.id != sub.owner_id:
                    crepo.upsert_share(s, sub.brand_id, ResourceKind.REPORT, rendered.id, user.id,
                                       access.REQUIRED[Action.VIEW], None, sub.owner_id)
                drepo.enqueue(s, brand_id=sub.brand_id, dedupe_key=f"{key}:{member}", channel="email",
                              target=user.email, subject=subject, run_id=run.id, due=slot,
                              payload={"member": member, "report_id": rendered.id, "text": text, "html": html,
                                       "attachments": [str(rendered.html_path)]})
                recipients.append(member)
        else:
            body = {"text": f"*{subject}*\n" + "\n".join(f"{k.replace('_', ' ')}: {v}" for k, v in summary.items()),
                    "brand": scope.name, "subscription": sub.name, "report": sub.report,
                    "scheduled_for": slot.isoformat(), "summary": summary, "status": "delivered"}
            drepo.enqueue(s, brand_id=sub.brand_id, dedupe_key=key, channel="webhook", target=ch["url"],
                          subject=subject, run_id=run.id, payload={"json": body, "channel_index": i}, due=slot)
            recipients.append(ch["url"])
    return recipients


def _esc(value) -> str:
    import html
    return html.escape(str(value))


def _fail(ws, run_id: int, error: str, *, report_id: int | None = None) -> bool:
    """Mark the run FAILED, tell the owner, and pause the subscription after 3 failures in a row."""
    with ws.db.session(write=True) as s:
        run = drepo.run(s, run_id)
        if run.status not in ("RUNNING", "RENDERED"):
            return False
        sub = s.get(Subscription, run.subscription_id)
        run.status, run.error, run.finished_at, run.lease_until = "FAILED", error, utcnow(), None
        run.report_id = report_id or run.report_id
        sub.failures_in_row += 1
        paused = sub.failures_in_row >= FAILURES_BEFORE_PAUSE and sub.paused_at is None
        if paused:
            sub.paused_at = utcnow()
            sub.paused_reason = f"paused after {sub.failures_in_row} failed runs in a row; last error: {error}"
        subject = f"{sub.name} failed" + (" and is now paused" if paused else "")
        text = (f"The {sub.report} report of subscription {sub.name!r} for the slot "
                f"{as_utc(run.scheduled_for):%Y-%m-%d %H:%M} UTC failed:\n\n{error}\n")
        if paused:
            text += (f"\nIt failed {sub.failures_in_row} times in a row, so it is paused. Mend the cause and "
                     "resume it: workbench subscriptions resume.\n")
        _notify_owner(s, sub, f"fail:{run.id}", subject, text, as_utc(run.scheduled_for))
        log.warning("subscription %s run %s failed: %s", sub.id, run.id, error)
    return False


def _notify_owner(s, sub, key: str, subject: str, text: str, due: datetime) -> None:
    """Failures reach the owner: by email when they have one, else on the subscription's webhooks."""
    owner = s.get(User, sub.owner_id) if sub.owner_id else None
    if owner is not None and owner.email:
        drepo.enqueue(s, brand_id=sub.brand_id, dedupe_key=f"{key}:owner", channel="email", target=owner.email,
                      subject=subject, payload={"text": text}, due=due)
        return
    for i, ch in enumerate(sub.channels):
        if ch["type"] == "webhook":
            drepo.enqueue(s, brand_id=sub.brand_id, dedupe_key=f"{key}:{i}", channel="webhook", target=ch["url"],
                          subject=subject, payload={"json": {"text": f"*{subject}*\n{text}", "status": "failed",
                                                             "subscription": sub.name}, "channel_index": i,
                                                    "subscription_id": sub.id}, due=due)


def _secret(s, delivery) -> str:
    """The webhook secret of the channel a message goes to (kept with the subscription or alert)."""
    if delivery.run_id is not None:
        run = drepo.run(s, delivery.run_id)
        source = s.get(Subscription, run.subscription_id)
    elif delivery.alert_id is not None:
        source = s.get(Alert, delivery.alert_id)
    else:
        source = s.get(Subscription, delivery.payload["subscription_id"])
    return source.channels[delivery.payload["channel_index"]]["secret"]


def send_due(ws, now: datetime | None = None, *, most: int = 2000) -> tuple[int, int]:
    """Send the outbox messages that are due (at most ``most`` in one pass, in batches of 50);
    returns (sent, failed for good)."""
    now = now or datetime.now(timezone.utc)
    sent = gave_up = tried = 0
    while tried < most:
        batch = _send_batch(ws, now)
        if batch is None:
            break
        sent, gave_up, tried = sent + batch[0], gave_up + batch[1], tried + batch[2]
    return sent, gave_up


def _send_batch(ws, now: datetime) -> tuple[int, int, int] | None:
    sent = gave_up = 0
    with ws.db.session(write=True) as s:
        due = [(d.id, d.channel, d.target, d.subject, dict(d.payload), d.attempts, d.run_id, d.brand_id,
                _secret(s, d) if d.channel == "webhook" else None) for d in drepo.claim_due(s, now, timedelta(minutes=5))]
    if not due:
        return None
    for did, channel, target, subject, payload, attempts, run_id, brand_id, secret in due:
        error = _recipient_problem(ws, brand_id, payload)
        if error is None:
            try:
                if channel == "email":
                    channels.send_email(ws.settings, target, subject, payload.get("text", ""), payload.get("html"),
                                        payload.get("attachments"))
                else:
                    channels.send_webhook(target, secret, payload["json"])
            except channels.SendError as exc:
                error = str(exc)
        with ws.db.session(write=True) as s:
            d = s.get(Delivery, did)
            d.attempts, d.lease_until = attempts + 1, None
            if error is None:
                d.status, d.sent_at, d.last_error = "SENT", utcnow(), None
                sent += 1
            elif d.attempts >= MAX_ATTEMPTS or error.startswith("recipient"):
                d.status, d.last_error = "FAILED", error
                gave_up += 1
            else:
                d.status, d.last_error = "PENDING", error
                d.next_attempt_at = now + timedelta(seconds=BACKOFF[min(d.attempts - 1, len(BACKOFF) - 1)])
            if run_id is not None:
                _settle_run(s, run_id)
    return sent, gave_up, len(due)


def _recipient_problem(ws, brand_id: int, payload: dict) -> str | None:
    """At send time the recipient must still be a member who may view the report."""
    member = payload.get("member")
    if member is None:
        return None
    with ws.db.session() as s:
        name = repo.brand_name(s, brand_id)
    try:
        scope = ws.brand(name, user=member)
        if "report_id" not in payload or scope.collab.can("view", "report", payload["report_id"]):
            return None
    except WorkbenchError:  # a removed member, a deleted report: not delivered
        pass
    return f"recipient {member!r} is no longer a member who may see this; not sent"


def _settle_run(s, run_id: int) -> None:
    run = drepo.run(s, run_id)
    states = {d.status for d in drepo.run_deliveries(s, run_id) if not d.dedupe_key.startswith("fail:")}
    if run.status == "RENDERED" and states and states <= {"SENT", "FAILED"}:
        failed = "FAILED" in states
        run.status, run.finished_at = ("FAILED" if failed else "DELIVERED"), utcnow()
        if failed:
            run.error = "; ".join(d.last_error for d in drepo.run_deliveries(s, run_id) if d.status == "FAILED")
