"""What guards every request: CSRF tokens, security headers, a log line without tokens, and
the client's network (never its full address) for throttling and vote evidence.

CSRF: a random value in an HttpOnly cookie and, in every form, the HMAC under the portal's
key of that value and of the browser's session cookie (a signed double-submit token bound to
the session, as OWASP's CSRF cheat sheet recommends): a value planted by a sibling site is
useless without the victim's session id, and signing in or out changes both. It needs no
server-side state, so any portal process checks what another issued. The one-click
unsubscribe POST (RFC 8058) is the one form without it: the token in its URL is the
capability, and mail providers send no cookie.

Over https every cookie is named ``__Host-...`` (Secure, Path=/, no Domain): no other host of
the parent domain can set or shadow it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.log import get_logger

CSRF_COOKIE = "wsis_csrf"
SESSION_COOKIE = "wsis_session"
CSRF_FIELD = "csrf"

_log = get_logger("portal")


def is_https(request: Request) -> bool:
    """Whether the portal is served over https (its public address says so)."""
    return str(request.app.state.settings.portal_url).startswith("https://")


def cookie_name(request: Request, name: str) -> str:
    """``name`` as the portal's cookies are called: ``__Host-`` prefixed over https."""
    return f"__Host-{name}" if is_https(request) else name


def csrf_seed(request: Request) -> tuple[str, bool]:
    """The browser's CSRF cookie value, and whether it must be set (it had none)."""
    seed = request.cookies.get(cookie_name(request, CSRF_COOKIE), "")
    if len(seed) >= 32:
        return seed, False
    return new_csrf_seed(), True


def new_csrf_seed() -> str:
    """A fresh CSRF cookie value: at first sight, and whenever the session changes."""
    return secrets.token_urlsafe(32)


def csrf_token(key: bytes, seed: str, session: str = "") -> str:
    """What a form carries: the HMAC of the cookie's value and of the session's cookie."""
    return hmac.new(key, f"csrf:{session}:{seed}".encode(), hashlib.sha256).hexdigest()


def session_of(request: Request) -> str:
    """The browser's session cookie ('' when it has none)."""
    return request.cookies.get(cookie_name(request, SESSION_COOKIE), "")


def csrf_ok(key: bytes, request: Request, submitted: str, session: str | None = None) -> bool:
    """Whether ``submitted`` is the token of this browser's CSRF cookie and session (the
    participant's session cookie unless another, the console's, is given)."""
    seed = request.cookies.get(cookie_name(request, CSRF_COOKIE), "")
    if len(seed) < 32 or not submitted:
        return False
    bound = session_of(request) if session is None else session
    return hmac.compare_digest(csrf_token(key, seed, bound), submitted)


def security_event(request: Request, event: str, **fields: object) -> None:
    """Log an authentication or access-control decision (ASVS 7.1.3, 7.2.1, 7.2.2): its name,
    the route and the client's network; never an address, a token or a code."""
    _log.info(
        f"security.{event}", route=getattr(request.scope.get("route"), "path", "unmatched"),
        network=network_of(request.client.host if request.client else None), **fields,
    )  # fmt: skip


def network_of(host: str | None) -> str:
    """The client's network: its /24 (IPv4) or /48 (IPv6). Enough to see many accounts
    acting from one place; not enough to name a person."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return "unknown"
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def content_security_policy() -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    )


class SecurityHeaders:
    """Headers on every response: no inline script runs, no framing, no referrer (links
    carry tokens), no sniffing; HSTS when the portal is served over https."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.headers = {
            "content-security-policy": content_security_policy(),
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "no-referrer",
            "permissions-policy": "camera=(), microphone=(), geolocation=()",
            "cross-origin-opener-policy": "same-origin",
        }
        if https:
            self.headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


class RequestLog:
    """One log line per request: the route's template (``/signin/link/{token}``), never the
    path itself, which carries sign-in and unsubscribe tokens."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            _log.info(
                "portal.request", method=scope["method"], status=status,
                route=getattr(scope.get("route"), "path", "unmatched"),
                ms=round((time.monotonic() - started) * 1000, 1),
            )  # fmt: skip
