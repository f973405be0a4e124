"""``workbench members|share|link|comment``: collaboration from the shell, as the brand's
local owner or, with ``--as USER``, as a member (every decision through the same rule)."""
from __future__ import annotations

import argparse


__all__ = ["add_parsers"]


def _scope(args):
    from ..workspace import open_workspace
    ws = open_workspace(args.home)
    return ws, ws.brand(args.brand, user=args.as_user)


def _ref(value: str):
    """A resource ref: an integer id, or a name."""
    return int(value) if value.isdigit() else value


def _show(frame) -> None:
    import pandas as pd
    pd.set_option("display.width", 200)
    print("(none)" if frame.empty else frame.to_string(index=False))


def cmd_members(args) -> int:
    ws, scope = _scope(args)
    try:
        if args.action == "list":
            _show(scope.members.list())
        elif args.action == "add":
            scope.members.add(args.name, email=args.email, role=args.role)
            print(f"{args.name} is now a {args.role} of {args.brand}")
        elif args.action == "set-role":
            scope.members.set_role(args.name, args.role)
            print(f"{args.name} is now a {args.role} of {args.brand}")
        else:
            scope.members.remove(args.name)
            print(f"{args.name} removed from {args.brand}")
    finally:
        ws.close()
    return 0


def cmd_share(args) -> int:
    ws, scope = _scope(args)
    try:
        if args.action == "list":
            _show(scope.collab.shares(args.kind, _ref(args.ref)))
        elif args.action == "mine":
            _show(scope.collab.shared_with_me())
        elif args.action == "grant":
            scope.collab.share(args.kind, _ref(args.ref), args.user, args.level, expires_at=args.expires)
            print(f"{args.user} has {args.level.upper()} on {args.kind} {args.ref}")
        else:
            done = scope.collab.unshare(args.kind, _ref(args.ref), args.user)
            print(f"{args.user}'s share on {args.kind} {args.ref} " + ("revoked" if done else "did not exist"))
    finally:
        ws.close()
    return 0


def cmd_link(args) -> int:
    from ..workspace import open_workspace
    if args.action == "open":
        with open_workspace(args.home) as ws:
            view = ws.open_link(args.token)
        print(f"{view.kind} {view.ref} of {view.brand}: {view.title}")
        content = view.content
        if hasattr(content, "to_string"):
            _show(content)
        elif isinstance(content, str) and content.lstrip().startswith("<"):
            print(f"(an HTML report of {len(content):,} characters)")
        else:
            print(content)
        return 0
    ws, scope = _scope(args)
    try:
        if args.action == "create":
            link = scope.collab.create_link(args.kind, _ref(args.ref), expires_at=args.expires)
            # the only time the token is shown: it is stored as a hash
            print(f"link {link.id}: {link.token}")
            print("keep it now: it cannot be shown again")
        elif args.action == "list":
            _show(scope.collab.links(args.kind, _ref(args.ref)))
        else:
            done = scope.collab.revoke_link(args.id)
            print(f"link {args.id} " + ("revoked" if done else "was already revoked"))
    finally:
        ws.close()
    return 0


def cmd_comment(args) -> int:
    ws, scope = _scope(args)
    c = scope.collab
    try:
        if args.action == "list":
            _show(c.thread(args.kind, _ref(args.ref)))
        elif args.action in ("add", "reply"):
            cid = c.comment(args.kind, _ref(args.ref), args.body, reply_to=args.reply_to)
            print(f"comment {cid}")
        elif args.action == "edit":
            c.edit_comment(args.id, args.body)
            print(f"comment {args.id} edited")
        elif args.action == "delete":
            c.delete_comment(args.id)
            print(f"comment {args.id} deleted")
        else:
            (c.resolve_thread if args.action == "resolve" else c.reopen_thread)(args.id)
            print(f"thread {args.id} {args.action}d")
    finally:
        ws.close()
    return 0


def cmd_token(args) -> int:
    from .. import portal
    from ..workspace import open_workspace
    with open_workspace(args.home) as ws:
        scope = ws.brand(args.brand, user=None)
        if args.action == "create":
            new = portal.create_token(ws.db, scope.id, args.user, days=args.days, label=args.label or "")
            print(f"token {new.id} for {args.user} (expires {new.expires_at:%Y-%m-%d %H:%M} UTC):")
            print(new.token)
            print("keep it now: it is stored as a hash and cannot be shown again")
        elif args.action == "list":
            import pandas as pd
            _show(pd.DataFrame(portal.list_tokens(ws.db, scope.id)))
        else:
            done = portal.revoke_token(ws.db, scope.id, args.id)
            print(f"token {args.id} " + ("revoked; its sessions ended" if done else "was already revoked"))
    return 0


def cmd_serve(args) -> int:
    from .. import portal
    from ..config import get_settings
    settings = get_settings(home=args.home)
    portal.create_app(settings)  # refuses a missing or weak secret before anything listens
    print(f"Workbench portal on http://{args.host}:{args.port}/ (Ctrl-C stops it)")
    portal.serve(settings, host=args.host, port=args.port)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--brand", required=True)
    p.add_argument("--as", dest="as_user", default=None, metavar="USER",
                   help="act as this member (default: the brand's local owner)")


def _resource(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", help="report, funnel, cohort, segment, prediction, generation or collection")
    p.add_argument("ref", help="the id, or the name for funnels, cohorts, segments and collections")


def add_parsers(sub) -> None:
    p = sub.add_parser("serve", help="the team portal (needs WORKBENCH_PORTAL_SECRET)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("token", help="personal access tokens for the portal: create (shown once), list, revoke")
    tsub = p.add_subparsers(dest="action", required=True)
    for action in ("create", "list", "revoke"):
        q = tsub.add_parser(action)
        q.add_argument("--brand", required=True)
        if action == "create":
            q.add_argument("--user", required=True)
            q.add_argument("--days", type=float, default=90.0, help="how long it works (default 90)")
            q.add_argument("--label", default="")
        if action == "revoke":
            q.add_argument("id", type=int)
        q.set_defaults(func=cmd_token)

    p = sub.add_parser("members", help="a brand's members and roles")
    msub = p.add_subparsers(dest="action", required=True)
    for action in ("list", "add", "set-role", "remove"):
        q = msub.add_parser(action)
        _common(q)
        if action != "list":
            q.add_argument("name")
        if action in ("add", "set-role"):
            q.add_argument("--role", default="member", choices=["admin", "member"])
        if action == "add":
            q.add_argument("--email", default=None)
        q.set_defaults(func=cmd_members)

    p = sub.add_parser("share", help="grant, change, revoke and list shares")
    ssub = p.add_subparsers(dest="action", required=True)
    for action in ("grant", "revoke", "list", "mine"):
        q = ssub.add_parser(action)
        _common(q)
        if action != "mine":
            _resource(q)
        if action in ("grant", "revoke"):
            q.add_argument("user")
        if action == "grant":
            q.add_argument("level", help="VIEW, COMMENT, EDIT or ADMIN")
            q.add_argument("--expires", default=None, help="when the share ends (ISO date and time, UTC)")
        q.set_defaults(func=cmd_share)

    p = sub.add_parser("link", help="public read-only links: create (token shown once), list, revoke, open")
    lsub = p.add_subparsers(dest="action", required=True)
    for action in ("create", "list", "revoke", "open"):
        q = lsub.add_parser(action)
        if action == "open":
            q.add_argument("token")
        else:
            _common(q)
        if action in ("create", "list"):
            _resource(q)
        if action == "create":
            q.add_argument("--expires", default=None, help="when the link stops working (ISO date and time, UTC)")
        if action == "revoke":
            q.add_argument("id", type=int)
        q.set_defaults(func=cmd_link)

    p = sub.add_parser("comment", help="threads: add, reply, list, edit, delete, resolve, reopen")
    csub = p.add_subparsers(dest="action", required=True)
    for action in ("add", "reply", "list", "edit", "delete", "resolve", "reopen"):
        q = csub.add_parser(action)
        _common(q)
        if action in ("add", "reply", "list"):
            _resource(q)
        else:
            q.add_argument("id", type=int)
        if action in ("add", "reply", "edit"):
            q.add_argument("body")
        if action == "reply":
            q.add_argument("--to", dest="reply_to", type=int, required=True, help="the comment replied to")
        elif action == "add":
            q.set_defaults(reply_to=None)
        q.set_defaults(func=cmd_comment)
