"""CLI verbs for the event table's upkeep: versions, compact, vacuum, forget-user."""
from __future__ import annotations

import sys

__all__ = ["add_parsers"]


def _open(args):
    from . import _open as open_workspace
    return open_workspace(args)


def cmd_versions(args) -> int:
    ws = _open(args)
    try:
        history = ws.brand(args.brand).data.history(args.limit)
        print(history.to_string(index=False) if len(history) else f"brand {args.brand!r} has no events yet")
    finally:
        ws.close()
    return 0


def _each_brand(args, line) -> int:
    """Print ``line(scope)`` for the brand asked for, or for every brand holding events."""
    ws = _open(args)
    try:
        for brand in [args.brand] if args.brand else ws.store.brands():
            print(f"{brand}: {line(ws.brand(brand))}")
    finally:
        ws.close()
    return 0


def cmd_compact(args) -> int:
    def line(scope):
        out = scope.data.compact()
        return f"{out['files_removed']} file(s) merged into {out['files_added']} (version {out['version']})"
    return _each_brand(args, line)


def cmd_vacuum(args) -> int:
    return _each_brand(args, lambda scope: f"{len(scope.data.vacuum(args.retention_hours))} file(s) removed")


def cmd_forget_user(args) -> int:
    if not args.yes:
        answer = input(f"Delete every event of user {args.user_id!r} in brand {args.brand!r}? Type the user id "
                       "to confirm: ") if sys.stdin.isatty() else ""
        if answer.strip() != args.user_id:
            print("error: not confirmed; nothing deleted (pass --yes to confirm without a prompt)", file=sys.stderr)
            return 2
    ws = _open(args)
    try:
        out = ws.brand(args.brand).forget_user(args.user_id, vacuum=args.vacuum)
        print(f"deleted {out['events_deleted']} event(s) and {out['quarantined_deleted']} quarantined row(s) "
              f"(version {out['version']})" + ("; older files vacuumed" if args.vacuum else
                                               "; older versions keep them until the next vacuum"))
    finally:
        ws.close()
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("versions", help="the versions of a brand's event table (for time travel)")
    p.add_argument("--brand", required=True)
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_versions)

    p = sub.add_parser("compact", help="merge small event files (every brand, or one)")
    p.add_argument("--brand", default=None)
    p.set_defaults(func=cmd_compact)

    p = sub.add_parser("vacuum", help="delete event files only old versions read (every brand, or one)")
    p.add_argument("--brand", default=None)
    p.add_argument("--retention-hours", type=float, default=None,
                   help="keep versions younger than this readable (default: the workspace setting, 168)")
    p.set_defaults(func=cmd_vacuum)

    p = sub.add_parser("forget-user", help="delete every event and quarantined row of one user")
    p.add_argument("user_id")
    p.add_argument("--brand", required=True)
    p.add_argument("--vacuum", action="store_true", help="also remove the older files that still hold them")
    p.add_argument("--yes", action="store_true", help="delete without asking")
    p.set_defaults(func=cmd_forget_user)
