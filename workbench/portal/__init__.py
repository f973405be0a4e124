"""The team portal (``workbench serve``): sign in with a personal access token, read the
reports shared with you, follow public links, discuss in threads, manage shares."""
from .app import create_app
from .auth import create_token, list_tokens, revoke_token

__all__ = ["create_app", "create_token", "list_tokens", "revoke_token", "serve"]


def serve(settings, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the portal with uvicorn (refuses to start without a good WORKBENCH_PORTAL_SECRET)."""
    import uvicorn

    app = create_app(settings, secure_cookies=host not in ("127.0.0.1", "localhost", "::1"))
    # keep-alive longer than a reader's pause, so a connection is not closed under a request on its way
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_keep_alive=75)
