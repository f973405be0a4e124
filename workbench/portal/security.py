"""What keeps the portal safe, in one place: the secret check, response headers, sign-in
throttling and signed short-lived URLs.

- The server refuses to start with a missing, short (< 32 characters) or well-known secret.
- Every response carries a CSP, ``X-Content-Type-Options: nosniff`` and frame rules; private
  pages ``Cache-Control: no-store``; public link pages ``Referrer-Policy: no-referrer`` and
  ``X-Robots-Tag: noindex``. A report is served only from ``/frame/...``: its own CSP puts it in
  a sandbox with an opaque origin (scripts run, but cannot reach the portal, its cookies or the
  network), and the portal embeds it in ``<iframe sandbox="allow-scripts">``.
- Failed sign-ins are throttled per client address and per account with the ``limits``
  package (a moving window in memory: one process serves the portal).
- Report frames and public views are reached through URLs signed with ``itsdangerous`` that
  expire (minutes), so they never carry the session's power or a link token.
"""
from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from ..errors import StorageError

__all__ = ["check_secret", "PAGE_CSP", "FRAME_CSP", "page_headers", "frame_headers", "public_headers", "Throttle",
           "Signer", "WEAK_SECRETS"]

WEAK_SECRETS = {"secret", "changeme", "change-me", "password", "default", "development", "dev", "test",
                "workbench", "please-change-me", "insecure"}
MIN_SECRET = 32

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
# A report: inline scripts and styles of the notebook may run, inside a sandbox (opaque origin),
# with no network, no forms, embeddable only by the portal.
FRAME_CSP = ("sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
             "img-src data:; font-src data:; connect-src 'none'; form-action 'none'; frame-ancestors 'self'; "
             "base-uri 'none'")


def check_secret(secret) -> str:
    """The secret's text, or a StorageError saying why the portal will not start."""
    value = secret.get_secret_value() if hasattr(secret, "get_secret_value") else secret
    how = 'set WORKBENCH_PORTAL_SECRET to python -c "import secrets; print(secrets.token_urlsafe(32))"'
    if not value:
        raise StorageError(f"the portal needs a secret: {how}")
    if len(value) < MIN_SECRET:
        raise StorageError(f"the portal secret is {len(value)} characters; it needs at least {MIN_SECRET}: {how}")
    if value.lower() in WEAK_SECRETS or len(set(value)) < 8:
        raise StorageError(f"the portal secret is a default or guessable value: {how}")
    return value


def _base() -> dict[str, str]:
    return {"X-Content-Type-Options": "nosniff", "Cross-Origin-Opener-Policy": "same-origin"}


def page_headers(private: bool = True) -> dict[str, str]:
    h = _base() | {"Content-Security-Policy": PAGE_CSP, "X-Frame-Options": "DENY",
                   "Referrer-Policy": "same-origin"}
    if private:
        h["Cache-Control"] = "no-store"
    return h


def frame_headers() -> dict[str, str]:
    return _base() | {"Content-Security-Policy": FRAME_CSP, "X-Frame-Options": "SAMEORIGIN",
                      "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def public_headers() -> dict[str, str]:
    return page_headers() | {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}


class Throttle:
    """Failed sign-ins: at most ``per_address`` per client address and ``per_account`` per
    brand and member name, in moving windows."""

    def __init__(self, per_address: str = "10/minute", per_account: str = "5/15 minutes"):
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._address, self._account = parse(per_address), parse(per_account)

    def allowed(self, address: str, account: str) -> bool:
        return self._limiter.test(self._address, "addr", address) and \
            self._limiter.test(self._account, "acct", account)

    def failed(self, address: str, account: str) -> None:
        self._limiter.hit(self._address, "addr", address)
        self._limiter.hit(self._account, "acct", account)


class Signer:
    """Short-lived signed values (report frames, public views, the sign-in form)."""

    def __init__(self, secret: str):
        self._s = URLSafeTimedSerializer(secret)

    def dumps(self, value, purpose: str) -> str:
        return self._s.dumps(value, salt=purpose)

    def loads(self, token: str, purpose: str, max_age: int):
        """The signed value, or None when it is forged, for another purpose, or too old."""
        try:
            return self._s.loads(token, salt=purpose, max_age=max_age)
        except BadSignature:
            return None
