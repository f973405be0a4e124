"""Sending one outbox message: email over SMTP (the standard library's ``smtplib`` and
``email``), or a webhook (``httpx``) whose JSON body is signed with HMAC-SHA256.

Webhook signature: header ``X-Workbench-Signature: t=<unix seconds>,v1=<hex>`` where
``hex = HMAC_SHA256(secret, f"{t}.{body}")`` over the exact body bytes; receivers recompute it
and refuse old timestamps (:func:`verify_signature` does both). The body carries a ``text``
field, so a Slack incoming webhook shows it as a message.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from email.message import EmailMessage
from pathlib import Path

import httpx

from ..errors import WorkbenchError

__all__ = ["SendError", "send_email", "send_webhook", "sign", "verify_signature"]


class SendError(WorkbenchError):
    """A channel did not take the message (it will be retried)."""


def send_email(settings, to: str, subject: str, text: str, html: str | None = None,
               attachments: list[str] | None = None) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.smtp_from, to, subject
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    for path in attachments or []:
        p = Path(path)
        maintype, subtype = ("text", "html") if p.suffix == ".html" else ("image", "png")
        msg.add_attachment(p.read_bytes(), maintype=maintype, subtype=subtype, filename=p.name)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value()
                           if settings.smtp_password else "")
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"email to {to} via {settings.smtp_host}:{settings.smtp_port} failed: {exc}") from exc


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, *, tolerance: int = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and is at most ``tolerance`` seconds old."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - t) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, t), header)


def send_webhook(url: str, secret: str, payload: dict) -> None:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "X-Workbench-Signature": sign(secret, body)}
    try:
        resp = httpx.post(url, content=body, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise SendError(f"webhook {url} unreachable: {exc}") from exc
    if resp.status_code >= 300:
        raise SendError(f"webhook {url} answered {resp.status_code}: {resp.text[:200]}")
