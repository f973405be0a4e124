"""The portal's pages: home, a report with its thread, the share dialog, a collection's gallery,
and the public pages behind links. Routes gather data through the scope (the one rule decides)
and hand plain values to templates; templates hold no queries."""
from __future__ import annotations

import threading
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.routing import Route

from .. import reports
from ..collaboration.links import check_link, view_by_id
from ..errors import NotFoundError, WorkbenchError
from .app import Portal, _threaded
from .markdown import render_markdown
from .security import frame_headers, page_headers, public_headers

__all__ = ["routes"]

FRAME_SECONDS = 300      # a report frame URL works for five minutes
PUBLIC_SECONDS = 3600    # a public view URL (after /r/<token>) works for an hour
LEVELS = ["VIEW", "COMMENT", "EDIT", "ADMIN"]


def _portal(request: Request) -> Portal:
    return request.app.state.portal


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFoundError("not found") from None


def _back(url: str):
    return RedirectResponse(url, status_code=303, headers=page_headers())


# -- home --------------------------------------------------------------------------
def _home(portal: Portal, scope) -> dict:
    mine = scope.reports()
    counts = scope.collab.comment_counts("report").set_index("ref") if not mine.empty else None
    rows = []
    for r in mine.to_dict("records"):
        c = counts.loc[r["id"]] if counts is not None and r["id"] in counts.index else {"comments": 0,
                                                                                      "open_threads": 0}
        rows.append({**r, "comments": int(c["comments"]), "open_threads": int(c["open_threads"])})
    shared = scope.collab.shared_with_me().to_dict("records")
    collections = scope.studio.collections().to_dict("records")
    return {"reports": rows, "shared": shared, "collections": collections}


async def home(request: Request):
    portal = _portal(request)
    scope = portal.scope(request)
    return portal.render(request, "home.html", **await _threaded(_home, portal, scope))


# -- a report and its thread -------------------------------------------------------
def _report(portal: Portal, scope, rid: int) -> dict:
    row, can, thread = scope.collab.discussion("report", rid)
    comments = [{**c, "html": render_markdown(c["body"]) if c["body"] else None,
                 "mine": c["author"] == scope.user} for c in thread]
    frame = portal.signer.dumps({"r": rid, "b": scope.id}, "frame") if row.html_path else None
    return {"report": row, "comments": comments, "can": can, "frame": frame,
            "admin": scope.context.actor.is_admin}


async def report_page(request: Request):
    portal = _portal(request)
    scope = portal.scope(request)
    rid = _int(request.path_params["rid"])
    return portal.render(request, "report.html", **await _threaded(_report, portal, scope, rid))


async def frame(request: Request):
    """The report itself, sandboxed (see security.FRAME_CSP); reached only through a signed URL."""
    portal = _portal(request)
    value = portal.signer.loads(request.path_params["signed"], "frame", FRAME_SECONDS)
    if not value:
        raise NotFoundError("not found")
    html_path = await _threaded(_report_file, portal, value["b"], value["r"])
    return HTMLResponse(Path(html_path).read_text(encoding="utf-8"), headers=frame_headers())


def _report_file(portal: Portal, brand_id: int, rid: int) -> str:
    from ..storage import resources
    with portal.ws.db.session() as s:
        row = resources.find(s, brand_id, resources.resource_kind("report"), rid)
        if row is None or not row.html_path or not Path(row.html_path).exists():
            raise NotFoundError("not found")
        return row.html_path


async def rerun(request: Request):
    """Run the report again in the background (needs EDIT); its status shows on the home page."""
    portal = _portal(request)
    scope = portal.scope(request)
    portal.check_form(request, await request.form())
    rid = _int(request.path_params["rid"])
    if not await _threaded(scope.collab.can, "edit", "report", rid):
        raise HTTPException(403, "re-running this report needs EDIT")
    threading.Thread(target=_rerun_quietly, args=(scope, rid), daemon=True, name=f"rerun-{rid}").start()
    return _back("/?rerun=started")


def _rerun_quietly(scope, rid: int) -> None:
    try:
        reports.rerun_report(scope.context, rid, raise_on_failure=False)
    except WorkbenchError:  # recorded as a failed run, shown on the home page
        pass


async def comment(request: Request):
    portal = _portal(request)
    scope = portal.scope(request)
    form = await request.form()
    portal.check_form(request, form)
    rid = _int(request.path_params["rid"])
    reply_to = _int(form["reply_to"]) if form.get("reply_to") else None
    await _threaded(scope.collab.comment, "report", rid, str(form.get("body", "")), reply_to=reply_to)
    return _back(f"/reports/{rid}#thread")


async def comment_action(request: Request):
    portal = _portal(request)
    scope = portal.scope(request)
    form = await request.form()
    portal.check_form(request, form)
    cid, action = _int(request.path_params["cid"]), request.path_params["action"]
    c = scope.collab
    calls = {"edit": lambda: c.edit_comment(cid, str(form.get("body", ""))), "delete": lambda: c.delete_comment(cid),
             "resolve": lambda: c.resolve_thread(cid), "reopen": lambda: c.reopen_thread(cid)}
    if action not in calls:
        raise NotFoundError("not found")
    await _threaded(calls[action])
    return _back(f"/reports/{_int(form.get('report'))}#c{cid}")


# -- sharing -----------------------------------------------------------------------
def _share(scope, kind: str, ref) -> dict:
    shares = scope.collab.shares(kind, ref).to_dict("records")
    may_share = scope.collab.allowed(kind, ref)["share"]
    links = scope.collab.links(kind, ref).to_dict("records") if may_share else []
    members = [m for m in scope.members.list()["name"] if m != scope.user]
    return {"kind": kind, "ref": ref, "shares": shares, "links": links, "may_share": may_share,
            "members": members, "levels": LEVELS}


def _ref(kind: str, ref: str):
    return _int(ref) if kind in ("report", "prediction", "generation") else ref


async def share_page(request: Request):
    portal = _portal(request)
    scope = portal.scope(request)
    kind, ref = request.path_params["kind"], _ref(request.path_params["kind"], request.path_params["ref"])
    return portal.render(request, "share.html", new_link=None, **await _threaded(_share, scope, kind, ref))


async def share_change(request: Request):
    portal = _portal(request)
    scope = portal.scope(request)
    form = await request.form()
    portal.check_form(request, form)
    kind, ref = request.path_params["kind"], _ref(request.path_params["kind"], request.path_params["ref"])
    action, c = request.path_params["action"], scope.collab
    if action == "grant":
        await _threaded(c.share, kind, ref, str(form.get("user", "")), str(form.get("level", "")),
                        expires_at=form.get("expires_at") or None)
    elif action == "revoke":
        await _threaded(c.unshare, kind, ref, str(form.get("user", "")))
    elif action == "revoke-link":
        await _threaded(c.revoke_link, _int(form.get("link")))
    elif action == "link":
        link = await _threaded(c.create_link, kind, ref, expires_at=form.get("expires_at") or None)
        url = f"{request.url.scheme}://{request.url.netloc}/r/{link.token}"
        # the one time the token is shown; the page is not cached
        return portal.render(request, "share.html", new_link=url, **await _threaded(_share, scope, kind, ref))
    else:
        raise NotFoundError("not found")
    return _back(f"/share/{kind}/{ref}")


# -- a collection's gallery ------------------------------------------------------------
async def collection(request: Request):
    portal = _portal(request)
    scope = portal.scope(request)
    name = request.path_params["name"]
    items = (await _threaded(scope.studio.collection_items, name)).to_dict("records")
    for item in items:
        path = item["artifact_uri"] or ""
        item["file"] = Path(path).name
        item["shown"] = Path(path).suffix.lower() in (".png", ".jpg", ".webp", ".gif")
    return portal.render(request, "collection.html", name=name, items=items)


async def artifact(request: Request):
    """A generation's file, for members who may view the collection holding it."""
    portal = _portal(request)
    scope = portal.scope(request)
    name, gid = request.path_params["name"], _int(request.path_params["gid"])
    items = await _threaded(scope.studio.collection_items, name)
    match = items[items["id"] == gid]
    if match.empty or not match["artifact_uri"].iloc[0]:
        raise NotFoundError("not found")
    path = Path(match["artifact_uri"].iloc[0])
    headers = page_headers() | {"Content-Security-Policy": "default-src 'none'; sandbox"}
    return FileResponse(path, headers=headers, filename=path.name,
                        content_disposition_type="inline" if path.suffix in (".png", ".gif", ".jpg", ".webp")
                        else "attachment")


# -- public links --------------------------------------------------------------------
async def public_token(request: Request):
    """``/r/<token>``: check the link, then send the browser to a URL without the token."""
    portal = _portal(request)
    link_id = await _threaded(check_link, portal.ws.db, request.path_params["token"])
    signed = portal.signer.dumps({"l": link_id}, "public")
    return RedirectResponse(f"/p/{signed}", status_code=303, headers=public_headers())


async def _public_view(request: Request):
    """The link view behind a signed public URL, checked again now (revoked or expired: 404)."""
    portal = _portal(request)
    value = portal.signer.loads(request.path_params["signed"], "public", PUBLIC_SECONDS)
    if not value:
        raise NotFoundError("not found")
    return await _threaded(view_by_id, portal.ws.db, value["l"])


async def public_page(request: Request):
    portal = _portal(request)
    view, brand_id, rid = await _public_view(request)
    frame_url = portal.signer.dumps({"r": rid, "b": brand_id}, "frame") if view.kind == "report" else None
    content = view.content
    if hasattr(content, "to_html"):  # server paths stay on the server
        content = content.drop(columns=["artifact_uri"], errors="ignore")
    table = content.to_html(index=False, border=0) if hasattr(content, "to_html") else None
    image = f"/p/{request.path_params['signed']}/file" if view.kind == "generation" and view.content else None
    return portal.render(request, "public.html", headers=public_headers(), view=view, frame=frame_url,
                         table=table, image=image)


async def public_file(request: Request):
    """The artifact of a generation shown through a public link."""
    view, _, _ = await _public_view(request)
    if view.kind != "generation" or not view.content or not Path(view.content).exists():
        raise NotFoundError("not found")
    path = Path(view.content)
    return FileResponse(path, headers=public_headers() | {"Content-Security-Policy": "default-src 'none'; sandbox"},
                        filename=path.name, content_disposition_type="inline")


def routes() -> list[Route]:
    return [
        Route("/", home), Route("/reports/{rid}", report_page),
        Route("/reports/{rid}/rerun", rerun, methods=["POST"]),
        Route("/reports/{rid}/comments", comment, methods=["POST"]),
        Route("/comments/{cid}/{action}", comment_action, methods=["POST"]),
        Route("/frame/{signed}", frame),
        Route("/share/{kind}/{ref}", share_page),
        Route("/share/{kind}/{ref}/{action}", share_change, methods=["POST"]),
        Route("/collections/{name}", collection), Route("/collections/{name}/items/{gid}", artifact),
        Route("/r/{token}", public_token), Route("/p/{signed}", public_page),
        Route("/p/{signed}/file", public_file),
    ]
