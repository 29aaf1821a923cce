"""Security headers on every response, and the CSRF check every state-changing request passes."""

from __future__ import annotations

import hmac
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "ikcheck_session"
PRE_COOKIE = "ikcheck_pre"  # a CSRF token for forms sent before login (the login form itself)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# a report shown as the document it is (its own inline styles, no script at all)
DOCUMENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'"
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Adds the headers to every response (pages, files, errors). A response that set its own
    Content-Security-Policy (a report document) keeps it."""

    def __init__(self, app: ASGIApp, https: bool = False):
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                message["headers"] = headers + added({k.lower() for k, _ in headers}, self.https)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def added(names: set[bytes], https: bool) -> list[tuple[bytes, bytes]]:
    """The security headers a response with headers `names` lacks. Also for the server-error page,
    which Starlette sends from outside every middleware."""
    out = [(k, v) for k, v in HEADERS if k not in names]
    if b"content-security-policy" not in names:
        out.append((b"content-security-policy", CSP.encode()))
    if b"cache-control" not in names:
        out.append((b"cache-control", b"no-store"))
    if https:
        out.append((b"strict-transport-security", b"max-age=31536000"))
    return out


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
