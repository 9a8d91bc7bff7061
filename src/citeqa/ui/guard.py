"""Pure ASGI middlewares: the proxy sub-path, the request body limit and the access token.

They are plain ASGI (not ``BaseHTTPMiddleware``) so Gradio's streamed responses pass through untouched.
Order, outermost first: ``RootPathMiddleware`` → CORS → ``BodyLimitMiddleware`` → ``TokenMiddleware``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_COOKIE = "citeqa_token"
TOKEN_QUERY = "token"


def route_path(scope: Scope) -> str:
    """Return the request path without the app's root path: "/citeqa/api/ask" → "/api/ask"."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :] or "/"
    return path


async def send_json_error(
    send: Send, status: int, message: str, headers: Iterable[tuple[str, str]] = ()
) -> None:
    """Send ``{"error": message}`` with ``status``: every refusal of this app has that shape."""
    body = json.dumps({"error": message}, ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class RootPathMiddleware:
    """Serve the app under ``root_path`` whether or not the reverse proxy strips that prefix.

    A proxy that strips it forwards "/api/ask"; one that does not forwards "/citeqa/api/ask". Both
    reach the same route, and every URL the app writes (Gradio's config, /docs, the embed page) starts
    with ``root_path``. Used instead of uvicorn's ``--root-path``, which only handles the first kind.
    """

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] in ("http", "websocket") and self.root_path:
            root = self.root_path
            path: str = scope["path"]
            scope = dict(scope, root_path=root)
            if not (path == root or path.startswith(root + "/")):
                scope["path"] = root + path
                scope["raw_path"] = root.encode() + scope.get("raw_path", path.encode())
        await self.app(scope, receive, send)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes the limit; FastAPI re-raises HTTPExceptions as they are."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit:,} bytes")


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes on ``prefixes``: by Content-Length and by bytes read."""

    def __init__(self, app: ASGIApp, limit: int, prefixes: tuple[str, ...] = ("/api/",)) -> None:
        self.app = app
        self.limit = limit
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http" or not route_path(scope).startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await send_json_error(send, 400, "the Content-Length header is not a number")
                return
            if int(declared) > self.limit:
                await send_json_error(send, 413, BodyTooLarge(self.limit).detail)
                return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await send_json_error(send, 413, exc.detail)


class TokenMiddleware:
    """Require the access token on every path except ``public`` ones.

    Accepted from ``Authorization: Bearer <token>``, a ``?token=`` query parameter (links and iframes)
    or the ``citeqa_token`` cookie. A valid ``?token=`` sets that cookie, so the Gradio page's own
    follow-up requests (assets, queue) carry it without the page knowing the token.
    """

    def __init__(self, app: ASGIApp, token: str, public: tuple[str, ...] = ("/healthz",)) -> None:
        self.app = app
        self.token = token.encode()
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] not in ("http", "websocket") or route_path(scope) in self.public:
            await self.app(scope, receive, send)
            return
        via_query = self._matches(_query_token(scope))
        if not (via_query or self._matches(_bearer(scope)) or self._matches(_cookie(scope))):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await send_json_error(
                send, 401,
                "an access token is required: send 'Authorization: Bearer <token>' "
                "or open the page with ?token=<token>",
                headers=[("www-authenticate", 'Bearer realm="citeqa"')],
            )
            return
        if not via_query or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = _token_cookie(self.token.decode(), scope.get("root_path", "") or "/")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), (b"set-cookie", cookie)])
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _matches(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.token)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _bearer(scope: Scope) -> str | None:
    value = _header(scope, b"authorization")
    if value is None:
        return None
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _query_token(scope: Scope) -> str | None:
    raw = scope.get("query_string", b"").decode("latin-1")
    values = parse_qs(raw).get(TOKEN_QUERY)
    return values[0] if values else None


def _cookie(scope: Scope) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:  # a malformed Cookie header is the client's problem: treat it as absent
        return None
    morsel = jar.get(TOKEN_COOKIE)
    return morsel.value if morsel is not None else None


def _token_cookie(token: str, path: str) -> bytes:
    jar: SimpleCookie = SimpleCookie()
    jar[TOKEN_COOKIE] = token
    jar[TOKEN_COOKIE]["path"] = path
    jar[TOKEN_COOKIE]["httponly"] = True
    jar[TOKEN_COOKIE]["samesite"] = "Lax"
    return jar[TOKEN_COOKIE].OutputString().encode("latin-1")
