"""``workbench subscriptions ...``, ``workbench alerts ...`` and ``workbench deliver``."""
from __future__ import annotations

import json


from .team import _scope, _show

__all__ = ["add_parsers"]


def _channels(args) -> list[dict]:
    chans = []
    if args.email:
        chans.append({"type": "email", "to": [m.strip() for m in args.email.split(",") if m.strip()]})
    for url in args.webhook or []:
        chans.append({"type": "webhook", "url": url})
    return chans


def cmd_subscriptions(args) -> int:
    ws, scope = _scope(args)
    subs = scope.subscriptions
    try:
        if args.action == "create":
            params = json.loads(args.parameters) if args.parameters else {}
            made = subs.create(args.name, args.report, params, cron=args.cron, timezone=args.timezone,
                               channels=_channels(args), lookback_days=args.lookback_days)
            print(f"subscription {made['name']} (id {made['id']}): next run {made['next_run']:%Y-%m-%d %H:%M} UTC")
            for s in filter(None, made["secrets"]):
                print(f"webhook signing secret (keep it for verifying): {s}")
        elif args.action == "list":
            _show(subs.list())
        elif args.action == "runs":
            _show(subs.runs(args.name).drop(columns=["html_path"]))
        else:
            getattr(subs, args.action)(args.name)
            print(f"subscription {args.name}: {args.action}d")
    finally:
        ws.close()
    return 0


def cmd_alerts(args) -> int:
    ws, scope = _scope(args)
    try:
        if args.action == "create":
            aid = scope.alerts.create(args.metric, threshold=args.threshold, direction=args.direction,
                                      channels=_channels(args))
            print(f"alert {aid} on {args.metric}")
        elif args.action == "list":
            _show(scope.alerts.list())
        else:
            scope.alerts.delete(args.id)
            print(f"alert {args.id} deleted")
    finally:
        ws.close()
    return 0


def cmd_deliver(args) -> int:
    from ..workspace import open_workspace
    with open_workspace(args.home) as ws:
        out = ws.deliver()
    print(", ".join(f"{k} {v}" for k, v in out.items()))
    return 0


def add_parsers(sub) -> None:
    from .team import _common

    p = sub.add_parser("subscriptions", help="report subscriptions: create, list, pause, resume, delete, runs")
    ssub = p.add_subparsers(dest="action", required=True)
    for action in ("create", "list", "pause", "resume", "delete", "runs"):
        q = ssub.add_parser(action)
        _common(q)
        if action != "list":
            q.add_argument("name")
        if action == "create":
            q.add_argument("--report", required=True, help="funnel, retention, prediction or kpi")
            q.add_argument("--cron", required=True, help="five fields, e.g. '0 8 * * 1' (Mondays 08:00)")
            q.add_argument("--timezone", default="UTC")
            q.add_argument("--parameters", default=None, help="JSON object of report parameters")
            q.add_argument("--lookback-days", type=int, default=7, help="report on the days before each run")
            q.add_argument("--email", default=None, help="member names, comma-separated")
            q.add_argument("--webhook", action="append", help="a URL (repeat for several)")
        q.set_defaults(func=cmd_subscriptions)

    p = sub.add_parser("alerts", help="anomaly alerts on daily metrics: create, list, delete")
    asub = p.add_subparsers(dest="action", required=True)
    for action in ("create", "list", "delete"):
        q = asub.add_parser(action)
        _common(q)
        if action == "create":
            q.add_argument("metric")
            q.add_argument("--threshold", type=float, default=3.5)
            q.add_argument("--direction", default="both", choices=["both", "down", "up"])
            q.add_argument("--email", default=None, help="member names, comma-separated")
            q.add_argument("--webhook", action="append", help="a URL (repeat for several)")
        if action == "delete":
            q.add_argument("id", type=int)
        q.set_defaults(func=cmd_alerts)

    p = sub.add_parser("deliver", help="one delivery pass: render due subscription slots, send the outbox")
    p.set_defaults(func=cmd_deliver)


