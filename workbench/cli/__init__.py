"""The ``workbench`` command."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


from ..errors import InvalidInputError, WorkbenchError
from . import delivery, events, team

log = logging.getLogger("workbench.cli")


def _open(args):
    from ..workspace import open_workspace
    return open_workspace(args.home)


def _progress_bar(total: int | None, desc: str):
    from tqdm import tqdm
    return tqdm(total=total, unit="rows", unit_scale=True, desc=desc, disable=None, file=sys.stderr)


def cmd_ingest(args) -> int:
    from ..events.sources import count_rows
    ws = _open(args)
    scope = ws.brand(args.brand)
    options = {k: v for k, v in {"encoding": args.encoding, "dayfirst": args.dayfirst, "ts_format": args.ts_format,
                                 "decimal": args.decimal}.items() if v is not None}
    if args.column:
        pairs = [c.split("=", 1) for c in args.column]
        if any(len(p) != 2 for p in pairs):
            raise InvalidInputError("--column takes SOURCE=EVENT_COLUMN, e.g. --column distinct_id=user_id")
        options["columns"] = dict(pairs)
    with _progress_bar(count_rows(args.path), f"ingest {args.brand}") as bar:
        report = scope.ingest(args.path, progress=bar.update, **options)
    print(f"{args.brand}: {report.accepted} accepted, {report.duplicates} duplicates, {report.rejected} rejected")
    if report.quarantine_path:
        print(f"rejected rows (with reasons): {report.quarantine_path}")
        for why, n in sorted(report.reasons.items(), key=lambda kv: -kv[1]):
            print(f"  {n:>8}  {why}")
    ws.close()
    return 0


def cmd_demo(args) -> int:
    from ..datasets import FUNNEL_STEPS, generate_events
    ws = _open(args)
    demo = generate_events(brands=args.brands, users=args.users, days=args.days, seed=args.seed)
    print(f"generated {len(demo.events):,} demo events for {args.brands} brand(s)")
    import pandas as pd
    pd.set_option("display.width", 160)
    for brand, frame in demo.events.groupby("brand", sort=True):
        scope = ws.brand(brand)
        report = scope.ingest(frame)
        print(f"\n== {brand}: {report.accepted:,} accepted, {report.duplicates:,} duplicates, "
              f"{report.rejected:,} rejected")
        print("\nFunnel (7-day window):")
        print(scope.funnel(FUNNEL_STEPS, "7d").to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
        ret = scope.retention(period="week", periods=4)
        print("\nWeekly retention (rate by weeks since first visit; first 6 cohorts):")
        table = ret.pivot(index="cohort", columns="period", values="rate").head(6)
        print(table.to_string(float_format=lambda v: f"{v:.1%}"))
    print(f"\nevents stored under {ws.store.root}; application database {ws.db.engine.url}")
    if args.reports:
        brand = sorted(demo.events["brand"].unique())[0]
        print(f"\nrendering reports for {brand}:")
        for name in ("funnel", "retention", "prediction"):
            run = ws.brand(brand).report(name)
            print(f"  {name:<11} {run.html_path}  ({run.duration_seconds:.1f} s)")
    ws.close()
    return 0


def _parse_value(text: str):
    """A -p value: JSON when it parses (numbers, lists, true/false, null), else the plain string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_report(args) -> int:
    from ..reports import ReportFailedError
    params = {}
    for item in args.param or []:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"error: -p takes key=value, got {item!r}", file=sys.stderr)
            return 2
        params[key.strip()] = _parse_value(value)
    ws = _open(args)
    try:
        run = ws.brand(args.brand, user=args.as_user).report(args.name, **params)
    except ReportFailedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        ws.close()
    print(f"{run.name} for {run.brand}: {run.status} in {run.duration_seconds:.1f} s (report {run.id})")
    print(f"html:     {run.html_path}")
    print(f"notebook: {run.notebook_path}")
    return 0


def cmd_studio(args) -> int:
    ws = _open(args)
    st = ws.brand(args.brand, user=args.as_user).studio
    try:
        if args.action == "request":
            params = {k: _parse_value(v) for k, _, v in (p.partition("=") for p in args.param or [])}
            for _ in range(args.count):
                gid = st.request(args.type, args.prompt, params, author=args.author, provider=args.provider)
                print(f"generation {gid}: PENDING")
        elif args.action == "list":
            import pandas as pd
            pd.set_option("display.width", 200)
            print(st.list(status=args.status)[["id", "type", "status", "attempts", "cost", "duration_seconds",
                                               "prompt", "error", "artifact_uri"]].to_string(index=False))
        elif args.action == "budget":
            if args.cost is not None or args.quota is not None:
                st.set_budget(monthly_cost_limit=args.cost, monthly_generation_quota=args.quota)
            u = st.usage()
            print(f"{u['month']}: spent {u['spent_cost']:.4f} + reserved {u['reserved_cost']:.4f} of "
                  f"{u['monthly_cost_limit'] if u['monthly_cost_limit'] is not None else 'no limit'}; "
                  f"{u['used_count']} done + {u['reserved_count']} pending of "
                  f"{u['monthly_generation_quota'] if u['monthly_generation_quota'] is not None else 'no quota'}")
        else:
            pending = len(st.list(status="PENDING"))
            with _progress_bar(pending or None, "generations") as bar:
                result = st.run(concurrency=args.concurrency, progress=bar.update)
            print(f"{result.succeeded} succeeded, {result.failed} failed, {result.skipped} skipped")
            if result.failed:
                print(f"error: {result.failed} generation(s) failed: workbench studio list --brand {args.brand} "
                      "--status FAILED shows why", file=sys.stderr)
                return 1
    finally:
        ws.close()
    return 0


def cmd_flows(args) -> int:
    """Serve the deployments declared in ``flows/serve.py`` in their own process: the package
    never imports the flows (they import it)."""
    import subprocess
    return subprocess.call([sys.executable, "-m", "flows.serve"])


def cmd_db(args) -> int:
    from ..config import get_settings
    from ..events import EventStore
    from ..storage import Database
    settings = get_settings(home=args.home)
    db = Database(settings.resolved_database_url)
    if args.action == "upgrade":
        db.upgrade()
        for out in EventStore(settings.resolved_events_path, settings.quarantine_path).convert_legacy():
            print(f"events of {out['brand']}: {out['rows']} rows from {out['files']} file(s) converted to the "
                  "Delta layout (row count checked)")
    print(f"revision: {db.current_revision()} (head: {db.head_revision()})")
    return 0


def cmd_brands(args) -> int:
    ws = _open(args)
    try:
        if args.action == "delete":
            if not args.name:
                print("error: say which brand: workbench brands delete NAME", file=sys.stderr)
                return 2
            if not args.yes:
                answer = input(f"Delete brand {args.name!r} and all its data for good? Type its name to confirm: ") \
                    if sys.stdin.isatty() else ""
                if answer.strip() != args.name:
                    print("error: not confirmed; nothing deleted (pass --yes to confirm without a prompt)",
                          file=sys.stderr)
                    return 2
            out = ws.delete_brand(args.name)
            print(f"deleted brand {out['brand']}: {len(out['folders'])} folder(s) removed")
        else:
            for name in ws.brands():
                print(name)
    finally:
        ws.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Product analytics and AI generation workbench")
    parser.add_argument("--home", type=Path, default=None, help="data folder (default: $WORKBENCH_HOME or ./data)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="validate and append events from a CSV, Parquet or JSON-lines file")
    p.add_argument("path", type=Path)
    p.add_argument("--brand", required=True)
    p.add_argument("--encoding", default=None, help="of a CSV or JSON-lines file (default: detected)")
    p.add_argument("--column", action="append", metavar="SOURCE=COLUMN",
                   help="rename a source column to an event column, e.g. --column distinct_id=user_id")
    dates = p.add_mutually_exclusive_group()
    dates.add_argument("--dayfirst", dest="dayfirst", action="store_true", default=None,
                       help="read 02.03.2026 as 2 March")
    dates.add_argument("--monthfirst", dest="dayfirst", action="store_false", help="read 02.03.2026 as 3 February")
    p.add_argument("--ts-format", default=None, help="strftime format of ts, e.g. '%%d.%%m.%%Y %%H:%%M'")
    p.add_argument("--decimal", default=None, choices=[".", ","], help="decimal mark of amounts (default '.')")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("demo", help="generate seeded demo events, ingest them and summarise them")
    p.add_argument("--brands", type=int, default=3)
    p.add_argument("--users", type=int, default=5000)
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-reports", dest="reports", action="store_false",
                   help="only ingest and print summaries; do not render the HTML reports")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("report", help="run a report notebook to self-contained HTML and record it")
    p.add_argument("name", help="funnel, retention, prediction or kpi")
    p.add_argument("--brand", required=True)
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                   help="notebook parameter (JSON values: -p horizon=30 -p 'steps=[\"view\", \"purchase\"]')")
    p.add_argument("--as", dest="as_user", default=None, metavar="USER", help="act as this member")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("studio", help="AI Studio: request, list and run generations")
    p.add_argument("action", choices=["request", "list", "run", "budget"])
    p.add_argument("--brand", required=True)
    p.add_argument("--type", default="IMAGE_2D", help="IMAGE_2D, MODEL_3D, ANIMATION or TEMPLATE")
    p.add_argument("--prompt", default="")
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", help="generation parameter")
    p.add_argument("--author", default=None)
    p.add_argument("--provider", default="local")
    p.add_argument("--count", type=int, default=1, help="request this many copies")
    p.add_argument("--status", default=None, help="list only this status")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--cost", type=float, default=None, help="budget: monthly cost limit to set")
    p.add_argument("--quota", type=int, default=None, help="budget: monthly generation quota to set")
    p.add_argument("--as", dest="as_user", default=None, metavar="USER", help="act as this member")
    p.set_defaults(func=cmd_studio)

    p = sub.add_parser("flows", help="Prefect flows")
    p.add_argument("action", choices=["serve"], help="serve every deployment on its schedule")
    p.set_defaults(func=cmd_flows)

    p = sub.add_parser("db", help="application database migrations (upgrade also converts old event stores)")
    p.add_argument("action", choices=["upgrade", "current"])
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("brands", help="list brands, or delete one (with confirmation)")
    p.add_argument("action", nargs="?", default="list", choices=["list", "delete"])
    p.add_argument("name", nargs="?", default=None)
    p.add_argument("--yes", action="store_true", help="delete without asking")
    p.set_defaults(func=cmd_brands)
    team.add_parsers(sub)
    delivery.add_parsers(sub)
    events.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command. Every error is one line on stderr and a non-zero exit: 2 for what the
    workbench refused (bad input, not found, not allowed), 1 for anything else; ``-v`` also
    prints the traceback."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the shell gets one line, not a traceback
        if args.verbose:
            log.exception("unexpected error")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"error: {type(exc).__name__}: {first}" + ("" if args.verbose else " (run with -v for details)"),
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
