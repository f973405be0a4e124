"""The team portal: a Starlette application over the same settings as everything else.

``create_app(settings)`` builds it; ``workbench serve`` runs it with uvicorn. Pages are
server-rendered Jinja2 templates (no front-end build, nothing fetched from a CDN). Every page
acts as the signed-in member through a brand scope, so every decision is the collaboration
rule's: a missing level is 403, an unknown or another brand's resource 404 (the same page).
"""
from __future__ import annotations

import logging
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..config import Settings
from ..context import Actor
from ..domain import Role
from ..errors import InvalidInputError, NotFoundError, PermissionDeniedError
from ..workspace import Workspace
from . import auth
from .security import Signer, Throttle, check_secret, page_headers

__all__ = ["create_app", "Portal", "COOKIE"]

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
COOKIE = "wb_session"


class Portal:
    """What the routes share: the workspace, the secret, the throttle, the templates."""

    def __init__(self, settings: Settings, *, secure_cookies: bool = False):
        self.settings = settings
        self.secret = check_secret(settings.portal_secret)
        self.ws = Workspace(settings)
        self.signer = Signer(self.secret)
        self.throttle = Throttle()
        self.secure_cookies = secure_cookies
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True)
        self.templates = Jinja2Templates(env=env)

    # -- who is asking ---------------------------------------------------------
    def session(self, request: Request) -> tuple[str, auth.SessionInfo] | None:
        sid = request.cookies.get(COOKIE)
        info = auth.resolve_session(self.ws.db, sid, idle_minutes=self.settings.session_idle_minutes)
        return (sid, info) if info else None

    def scope(self, request: Request):
        """The signed-in member's brand scope; a redirect to sign in otherwise."""
        found = self.session(request)
        if found is None:
            raise HTTPException(303, headers={"Location": "/signin"})
        sid, info = found
        request.state.sid, request.state.user = sid, info
        return self.ws.scope(info.brand_id, info.brand, Actor(user_id=info.user_id, name=info.user,
                                                               role=Role(info.role)))

    def check_form(self, request: Request, form) -> None:
        """Unsafe requests: same origin (Origin or Sec-Fetch-Site) and the session's form token."""
        if not same_origin(request):
            raise HTTPException(403, "cross-site request refused")
        if not auth.check_csrf(self.secret, getattr(request.state, "sid", None), form.get("csrf")):
            raise HTTPException(403, "the form token is missing or wrong: reload the page and try again")

    def render(self, request: Request, template: str, status: int = 200, headers: dict | None = None, **context):
        user = getattr(request.state, "user", None)
        sid = getattr(request.state, "sid", None)
        context.update(user=user, csrf=auth.csrf_token(self.secret, sid) if sid else "")
        return self.templates.TemplateResponse(request, template, context, status_code=status,
                                               headers=headers or page_headers())


def same_origin(request: Request) -> bool:
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return site is not None  # a browser that says neither is refused
    return origin == f"{request.url.scheme}://{request.url.netloc}"


# -- sign-in -------------------------------------------------------------------
async def signin_page(request: Request):
    portal: Portal = request.app.state.portal
    form_token = portal.signer.dumps("signin", "signin-form")
    return portal.render(request, "signin.html", form_token=form_token, error=None)


async def signin(request: Request):
    portal: Portal = request.app.state.portal
    form = await request.form()
    if not same_origin(request) or portal.signer.loads(form.get("form_token", ""), "signin-form", 3600) is None:
        raise HTTPException(403, "the sign-in form is stale or cross-site: reload it")
    brand, user, token = (str(form.get(k, "")).strip() for k in ("brand", "user", "token"))
    address = request.client.host if request.client else "?"
    account = f"{brand}/{user}"
    again = portal.signer.dumps("signin", "signin-form")
    if not portal.throttle.allowed(address, account):
        return portal.render(request, "signin.html", status=429, form_token=again,
                             error="Too many failed sign-ins. Wait a few minutes and try again.",
                             headers=page_headers() | {"Retry-After": "300"})
    old = request.cookies.get(COOKIE)
    try:
        sid, _ = await _threaded(auth.sign_in, portal.ws.db, brand, user, token,
                                 absolute_hours=portal.settings.session_max_hours)
    except PermissionDeniedError as exc:
        portal.throttle.failed(address, account)
        log.info("failed sign-in for %s from %s", account, address)
        return portal.render(request, "signin.html", status=401, form_token=again, error=str(exc))
    await _threaded(auth.end_session, portal.ws.db, old)  # a new id at every sign-in
    response = RedirectResponse("/", status_code=303, headers=page_headers())
    response.set_cookie(COOKIE, sid, httponly=True, samesite="lax", secure=portal.secure_cookies, path="/",
                        max_age=int(portal.settings.session_max_hours * 3600))
    return response


async def signout(request: Request):
    portal: Portal = request.app.state.portal
    portal.scope(request)
    portal.check_form(request, await request.form())
    await _threaded(auth.end_session, portal.ws.db, request.state.sid)
    response = RedirectResponse("/signin", status_code=303, headers=page_headers())
    response.delete_cookie(COOKIE, path="/")
    return response


async def _threaded(fn, *args, **kwargs):
    from starlette.concurrency import run_in_threadpool
    return await run_in_threadpool(fn, *args, **kwargs)


# -- errors --------------------------------------------------------------------
def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    portal: Portal = request.app.state.portal
    return portal.render(request, "error.html", status=status, title=title, detail=detail)


async def http_error(request: Request, exc: HTTPException):
    if exc.status_code in (301, 302, 303, 307) and exc.headers:
        return RedirectResponse(exc.headers["Location"], status_code=exc.status_code, headers=page_headers())
    titles = {403: "Not allowed", 404: "Not found", 405: "Not allowed here", 429: "Too many requests"}
    return _error_page(request, exc.status_code, titles.get(exc.status_code, "Error"), exc.detail or "")


async def not_found(request: Request, exc: Exception):
    # one page for unknown, another brand's, revoked and expired: nothing to tell them apart
    return _error_page(request, 404, "Not found", "There is nothing here, or it is not shared with you.")


async def denied(request: Request, exc: Exception):
    return _error_page(request, 403, "Not allowed", str(exc))


async def invalid(request: Request, exc: Exception):
    return _error_page(request, 400, "That did not work", str(exc))


def create_app(settings: Settings, *, secure_cookies: bool = False) -> Starlette:
    """The portal application (refuses to build without a good ``settings.portal_secret``)."""
    from . import pages

    portal = Portal(settings, secure_cookies=secure_cookies)
    routes = [
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        *pages.routes(),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(DefaultHeaders)], exception_handlers={
        HTTPException: http_error, NotFoundError: not_found, PermissionDeniedError: denied,
        InvalidInputError: invalid, 404: not_found})
    app.state.portal = portal
    return app


class DefaultHeaders:
    """ASGI middleware: every response gets the page headers it does not set itself (static
    files, errors raised before a page was rendered)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.lower().encode(), v.encode()) for k, v in page_headers(private=False).items()
                         if k.lower().encode() not in present]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)
