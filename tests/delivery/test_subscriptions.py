"""Subscriptions end to end against a real SMTP server and a real webhook receiver on loopback."""
import json
import multiprocessing as mp
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from workbench.delivery import verify_signature
from workbench.errors import InvalidInputError
from workbench.storage.models import Report

from .conftest import make_workspace

PERIOD = {"since": "2026-01-12", "until": "2026-01-19"}


def _now():
    return datetime.now(timezone.utc).replace(second=5, microsecond=0)


def _subscribe(ws, hook_url=None, cron="* * * * *", **extra):
    channels = [{"type": "email", "to": ["bob"]}]
    if hook_url:
        channels.append({"type": "webhook", "url": hook_url, "secret": "s3cret-signing-key-0123456789"})
    return ws.brand("acme", user="owner").subscriptions.create(
        "weekly", "kpi", {**PERIOD, **extra.pop("parameters", {})}, cron=cron, timezone="UTC",
        channels=channels, lookback_days=None, **extra)


def _reports(ws) -> int:
    with ws.db.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Report))


def test_a_run_mails_the_numbers_with_the_report_and_signs_the_webhook(team, smtp, hook):
    url, receiver = hook
    _subscribe(team, url)
    now = _now()
    result = team.deliver(now)
    assert result["rendered"] == 1 and result["sent"] == 2
    [mail] = smtp.messages
    assert mail["To"] == "bob@example.com" and "weekly" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    events = team.brand("acme").events(PERIOD["since"], PERIOD["until"]).aggregate("count(*)").fetchall()[0][0]
    assert f"Events: {events:,}" in text
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename().endswith(".html")
    assert "weekly numbers for acme from 2026-01-12 to 2026-01-19" in attachment.get_content()
    [(code, headers, body)] = receiver.got
    assert code == 200 and verify_signature("s3cret-signing-key-0123456789", body, headers["X-Workbench-Signature"])
    assert not verify_signature("another-secret-0123456789", body, headers["X-Workbench-Signature"])
    assert not verify_signature("s3cret-signing-key-0123456789", body + b" ", headers["X-Workbench-Signature"])
    payload = json.loads(body)
    assert payload["text"].startswith("*weekly") and payload["summary"]["events"] == events
    runs = team.brand("acme").subscriptions.runs("weekly")
    assert runs["status"].tolist() == ["DELIVERED"] and runs["recipients"][0] == ["bob", url]
    assert runs["seconds"][0] > 0
    # bob may now read the delivered run; a second tick in the same minute sends nothing
    assert team.brand("acme", user="bob").collab.can("view", "report", int(runs["report_id"][0]))
    again = team.deliver(now + timedelta(seconds=30))
    assert again["rendered"] == 0 and again["sent"] == 0 and len(smtp.messages) == 1 and _reports(team) == 1


def test_a_delivery_failing_twice_is_retried_and_the_notebook_runs_once(team, smtp, hook):
    url, receiver = hook
    receiver.plan = [500, 503]
    now = _now()
    _subscribe(team, url, cron=f"{now.minute} * * * *")  # hourly: the retries below stay in one slot
    team.deliver(now)
    team.deliver(now + timedelta(seconds=11))        # after the first backoff (10 s)
    assert [g[0] for g in receiver.got] == [500, 503]
    assert team.brand("acme").subscriptions.runs("weekly")["status"].tolist() == ["RENDERED"]
    team.deliver(now + timedelta(seconds=11 + 61))   # after the second (60 s): the same slot, not a new one
    assert [g[0] for g in receiver.got] == [500, 503, 200]
    assert len({g[2] for g in receiver.got}) == 1, "the same message each time"
    assert _reports(team) == 1 and len(smtp.messages) == 1
    assert team.brand("acme").subscriptions.runs("weekly")["status"].tolist()[-1] == "DELIVERED"


def test_a_failing_notebook_fails_the_run_tells_the_owner_and_three_pause_it(team, smtp):
    _subscribe(team, parameters={"fail": True})
    now = _now()
    for i in range(3):
        team.deliver(now + timedelta(minutes=i))
    runs = team.brand("acme").subscriptions.runs("weekly")
    assert runs["status"].tolist() == ["FAILED"] * 3
    assert all("the checkout table is empty" in e for e in runs["error"])
    to_owner = [m for m in smtp.messages if m["To"] == "owner@example.com"]
    assert len(to_owner) == 3 and not [m for m in smtp.messages if m["To"] == "bob@example.com"]
    assert "the checkout table is empty" in to_owner[0].get_content()
    assert "now paused" in to_owner[-1]["Subject"] and "resume" in to_owner[-1].get_content()
    listed = team.brand("acme").subscriptions.list()
    assert listed["status"][0].startswith("paused: paused after 3 failed runs")
    assert team.deliver(now + timedelta(minutes=3))["rendered"] == 0  # paused: nothing runs
    team.brand("acme", user="owner").subscriptions.resume("weekly")
    assert team.brand("acme").subscriptions.list()["status"][0] == "active"


def test_an_empty_period_fails_and_tells_the_owner(team, smtp):
    _subscribe(team, parameters={"since": "2025-01-01", "until": "2025-01-08"})
    team.deliver(_now())
    runs = team.brand("acme").subscriptions.runs("weekly")
    assert runs["status"].tolist() == ["FAILED"] and "no data for the period 2025-01-01 to 2025-01-08" in runs["error"][0]
    assert _reports(team) == 0
    assert [m["To"] for m in smtp.messages] == ["owner@example.com"]


def test_a_run_stuck_past_its_timeout_is_marked_failed(team, smtp):
    from workbench.storage import delivery as drepo
    _subscribe(team)
    slot = _now().replace(second=0)
    with team.db.session(write=True) as s:
        sub = drepo.subscription(s, team.brand("acme").id, "weekly")
        drepo.claim_slot(s, sub, slot, "a-worker-that-dies", timedelta(minutes=-1))
    out = team.deliver(slot + timedelta(seconds=10))
    assert out["reaped"] == 1 and out["rendered"] == 0  # the slot is taken: it is not rendered again
    runs = team.brand("acme").subscriptions.runs("weekly")
    assert runs["status"].tolist() == ["FAILED"] and "past its timeout" in runs["error"][0]


@pytest.mark.parametrize("kwargs,match", [({"cron": "every monday"}, "cron"), ({"timezone": "Mars/Base"}, "time zone"),
                                          ({"channels": []}, "channel"),
                                          ({"channels": [{"type": "fax", "to": "x"}]}, "email' or 'webhook"),
                                          ({"channels": [{"type": "webhook", "url": "not a url"}]}, "url"),
                                          ({"report": "nope"}, "unknown report")])
def test_bad_subscriptions_are_refused(team, kwargs, match):
    args = {"name": "s", "report": "kpi", "cron": "0 8 * * 1", "timezone": "UTC",
            "channels": [{"type": "email", "to": ["bob"]}]} | kwargs
    with pytest.raises(InvalidInputError, match=match):
        team.brand("acme").subscriptions.create(**args)
    assert team.brand("acme").subscriptions.list().empty


def _tick_in_process(home, notebooks, smtp_port, database_url, now_iso, barrier):
    from workbench.config import get_settings
    from workbench.workspace import Workspace
    ws = Workspace(get_settings(home=home, notebooks_path=notebooks, smtp_port=smtp_port, database_url=database_url))
    barrier.wait(120)
    ws.deliver(datetime.fromisoformat(now_iso))
    ws.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_schedulers_firing_the_same_slot_deliver_one_message(backend, request, tmp_path, smtp):
    url = request.getfixturevalue("empty_postgres_url") if backend == "postgres" else None
    ws = make_workspace(tmp_path, smtp.port, url)
    _subscribe(ws)
    now = _now()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_tick_in_process, args=(str(tmp_path / "data"), str(tmp_path / "notebooks"),
                                                         smtp.port, url, now.isoformat(), barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(240)
    assert [p.exitcode for p in procs] == [0, 0]
    ws.deliver(now + timedelta(seconds=20))  # anything left in the outbox goes now
    assert len(smtp.messages) == 1 and _reports(ws) == 1
    assert ws.brand("acme").subscriptions.runs("weekly")["status"].tolist() == ["DELIVERED"]
    ws.close()


def test_a_subscription_made_in_a_notebook_runs_as_the_brands_local_owner(team, smtp):
    team.brand("acme").subscriptions.create("from-a-notebook", "kpi", PERIOD, cron="* * * * *", lookback_days=None,
                                            channels=[{"type": "email", "to": ["bob"]}])
    assert team.deliver(_now())["rendered"] == 1
    assert [m["To"] for m in smtp.messages] == ["bob@example.com"]
