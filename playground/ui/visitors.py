"""Who is visiting: the identity `playground.storage` keeps each visitor's presets and inputs under.

In order of preference: a login (Hugging Face OAuth where the Space enables it, or the app's own
`auth`), "user:NAME"; else this browser, "browser:TOKEN", from a random token the server hands
each browser once in an HttpOnly cookie (so a visitor's presets survive a page reload, and another
browser never shares them); else the Gradio session, "session:HASH" (each gradio_client `Client`
and each page load has its own). Tokens and session hashes are random and never shown to anyone
else; storage turns identities into folder names with a keyed hash.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any

from gradio.context import LocalContext

from playground.storage import multi_user

COOKIE = "playground-visitor"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
_TOKEN = re.compile(r"^[0-9a-f]{32}$")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def visitor_identity(request: Any = None) -> str | None:
    """The identity of the visitor `request` (default: the one Gradio is serving in this context)
    comes from; None outside an event."""
    request = request if request is not None else LocalContext.request.get(None)
    if request is None:
        return None
    username = getattr(request, "username", None) or _oauth_username(request)
    if username:
        return f"user:{username}"
    token = _cookie(request)
    if token:
        return f"browser:{token}"
    session = getattr(request, "session_hash", None)
    return f"session:{session}" if session else None


def _oauth_username(request: Any) -> str | None:
    try:
        info = request.session.get("oauth_info") or {}
    except Exception:  # noqa: BLE001 - no session middleware: OAuth is off on this server
        return None
    return (info.get("userinfo") or {}).get("preferred_username")


def _cookie(request: Any) -> str | None:
    try:
        token = request.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - a request without headers (in-process calls)
        return None
    return token if isinstance(token, str) and _TOKEN.match(token) else None


class VisitorCookie:
    """ASGI middleware: on a shared server, give a browser without a visitor token one (HttpOnly;
    `SameSite=None; Secure; Partitioned` over https so it also works inside the Space's iframe). The
    request that receives it is still served under its session; the next ones carry the token."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope.get("type") != "http" or not multi_user() or _has_token(scope):
            await self.app(scope, receive, send)
            return
        cookie = _set_cookie(secrets.token_hex(16), _is_https(scope))

        async def send_with_cookie(message: Message) -> None:
            if message.get("type") == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _has_token(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: BLE001 - a malformed cookie header is treated as none
                return False
            morsel = jar.get(COOKIE)
            return morsel is not None and bool(_TOKEN.match(morsel.value))
    return False


def _is_https(scope: Scope) -> bool:
    forwarded = dict(scope.get("headers", [])).get(b"x-forwarded-proto", b"").decode("latin-1")
    return scope.get("scheme") == "https" or forwarded.split(",")[0].strip() == "https"


def _set_cookie(token: str, https: bool) -> str:
    where = "SameSite=None; Secure; Partitioned" if https else "SameSite=Lax"
    return f"{COOKIE}={token}; Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; {where}"
